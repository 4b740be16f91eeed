/**
 * Transfers for the hardening tests that may fail at any step: they return the final reply (and what
 * arrived) instead of expecting success, so a test can assert 550/552/553/426 as well as 226.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { FtpReply, RawClient } from '../helpers/raw-client.js';

/** Runs a download command (RETR, LIST, NLST, MLSD) over EPSV; the final reply and the data received. */
export async function tryDownload(c: RawClient, cmd: string): Promise<{ reply: FtpReply; data: Buffer }> {
  const data = await c.epsv();
  const chunks: Buffer[] = [];
  data.on('data', (d: Buffer) => chunks.push(d));
  const closed = once(data, 'close');
  c.send(cmd);
  let reply = await c.reply();
  if (reply.code === 150) {
    await closed;
    reply = await c.reply();
  } else {
    data.destroy();
  }
  return { reply, data: Buffer.concat(chunks) };
}

/** Runs an upload command (STOR, APPE) over EPSV, sending `body` and closing; returns the final reply. */
export async function tryUpload(c: RawClient, cmd: string, body: Buffer | string): Promise<FtpReply> {
  const data = await c.epsv();
  c.send(cmd);
  const reply = await c.reply();
  if (reply.code !== 150) {
    data.destroy();
    return reply;
  }
  data.end(body);
  return c.reply();
}

/**
 * Starts an upload and sends `first` without ending it: the transfer is in progress when this resolves
 * (the server has received the bytes once `until()` says so). Returns the open data socket.
 */
export async function startUpload(c: RawClient, cmd: string, first: Buffer | string): Promise<Socket> {
  const data = await c.epsv();
  c.send(cmd);
  await c.expect(150);
  await new Promise<void>((resolve, reject) => data.write(first, (err) => (err ? reject(err) : resolve())));
  return data;
}

export { until } from '../helpers/poll.js';
