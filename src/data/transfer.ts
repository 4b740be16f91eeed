/**
 * Running one transfer over a data connection, with the reply discipline of RFC 959:
 * the source or target is opened first (so a missing file is a 550 before anything else), `150` is sent
 * only once the data connection is open, `226` only when every byte is written (downloads) or committed
 * (uploads). Streams use backpressure (`pipeline`) and an AbortSignal (ABOR, stalled transfer, closed
 * control connection); nothing is buffered whole and nothing polls.
 */
import type { Duplex, Readable, Transform } from 'node:stream';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { errorToReply, FtpError } from '../protocol/errors.js';
import { reply, type Reply } from '../protocol/reply.js';
import type { Upload } from '../storage/storage.js';
import { fromNetworkAscii, toNetworkAscii } from './ascii.js';

export interface DataLink {
  /** The TCP data connection (passive accept or active connect). */
  connect(signal: AbortSignal): Promise<Socket>;
  /** Writes the 150 reply. */
  opening(text: string): Promise<void>;
  /** TLS on the data connection when PROT P is in force, else the socket itself. */
  protect(socket: Socket, signal: AbortSignal): Promise<Duplex>;
  ascii: boolean;
  stalledMs: number;
  lingerMs: number;
  onBytes(n: number): void;
}

export interface TransferOutcome {
  reply: Reply;
  ok: boolean;
  bytes: number;
  /** Unexpected failure to log (storage read error and such). */
  error?: unknown;
}

/** Sends `open()`'s stream to the client. */
export async function runDownload(
  link: DataLink,
  open: () => Promise<Readable>,
  openingText: string,
  signal: AbortSignal,
): Promise<TransferOutcome> {
  let bytes = 0;
  let source: Readable;
  try {
    source = await open();
  } catch (err) {
    return failed(err, bytes);
  }
  source.on('error', () => {});
  let data: Duplex | undefined;
  let dataFailed = false;
  let stalled: AbortSignal | undefined;
  try {
    // The set-up steps only hear an abort that happens while they wait, so check between them.
    signal.throwIfAborted();
    const socket = await link.connect(signal);
    data = socket;
    socket.once('error', () => (dataFailed = true));
    // A client that goes away without an error (FIN, close_notify) mid-download is a lost connection too.
    socket.once('close', () => (dataFailed = true));
    await link.opening(openingText);
    signal.throwIfAborted();
    data = await link.protect(socket, signal);
    data.once('error', () => (dataFailed = true));
    data.once('end', () => (dataFailed = true));
    stalled = watchStall(socket, link.stalledMs);
    source.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      link.onBytes(chunk.length);
    });
    const stages: (Readable | Transform | Duplex)[] = [source];
    if (link.ascii) stages.push(toNetworkAscii());
    stages.push(data);
    await pipeline(stages, { signal: AbortSignal.any([signal, stalled]) });
    return { reply: reply(226, 'Transfer complete.'), ok: true, bytes };
  } catch (err) {
    // Aborted (ABOR) is 426 at any stage, also while still waiting for the data connection.
    if (signal.aborted) return { reply: reply(426, 'Transfer aborted.'), ok: false, bytes };
    if (stalled?.aborted) return { reply: reply(426, 'Data connection stalled; transfer aborted.'), ok: false, bytes };
    if (err instanceof FtpError) return { reply: err.reply, ok: false, bytes };
    if (dataFailed || data === undefined) {
      return { reply: reply(426, 'Connection closed; transfer aborted.'), ok: false, bytes };
    }
    return { ...failed(err, bytes), error: err };
  } finally {
    source.destroy();
    if (data) linger(data, link.lingerMs);
  }
}

/** Receives the client's data into `open()`'s upload; commits only when all of it arrived. */
export async function runUpload(
  link: DataLink,
  open: () => Promise<Upload>,
  openingText: string,
  signal: AbortSignal,
): Promise<TransferOutcome> {
  let bytes = 0;
  let upload: Upload;
  try {
    upload = await open();
  } catch (err) {
    return failed(err, bytes);
  }
  // The storage's own error (ENOSPC, EDQUOT, ...) decides the reply, also when the pipeline then tears
  // down the data connection: the client must hear 452/552, not 426.
  // Errors the pipeline passes on from the data side or an abort do not count.
  let storageError: unknown;
  let data: Duplex | undefined;
  let dataFailed = false;
  let stalled: AbortSignal | undefined;
  upload.stream.on('error', (err: NodeJS.ErrnoException) => {
    const plumbing = err.name === 'AbortError' || (typeof err.code === 'string' && err.code.startsWith('ERR_'));
    if (!dataFailed && !signal.aborted && !plumbing) storageError ??= err;
  });
  try {
    // The set-up steps only hear an abort that happens while they wait, so check between them.
    signal.throwIfAborted();
    const socket = await link.connect(signal);
    data = socket;
    socket.once('error', () => (dataFailed = true));
    await link.opening(openingText);
    signal.throwIfAborted();
    data = await link.protect(socket, signal);
    data.once('error', () => (dataFailed = true));
    stalled = watchStall(socket, link.stalledMs);
    data.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      link.onBytes(chunk.length);
    });
    const stages: NodeJS.ReadWriteStream[] = [data];
    if (link.ascii) stages.push(fromNetworkAscii());
    await pipeline([...stages, upload.stream], { signal: AbortSignal.any([signal, stalled]) });
    await upload.commit();
    return { reply: reply(226, 'Transfer complete.'), ok: true, bytes };
  } catch (err) {
    await upload.abort().catch(() => {});
    if (signal.aborted) return { reply: reply(426, 'Transfer aborted.'), ok: false, bytes };
    if (stalled?.aborted) return { reply: reply(426, 'Data connection stalled; transfer aborted.'), ok: false, bytes };
    if (err instanceof FtpError) return { reply: err.reply, ok: false, bytes };
    if (storageError !== undefined) return failed(storageError, bytes);
    if (dataFailed || data === undefined) {
      return { reply: reply(426, 'Connection closed; transfer aborted.'), ok: false, bytes };
    }
    return { ...failed(err, bytes), error: err };
  } finally {
    if (data) linger(data, link.lingerMs);
  }
}

function failed(err: unknown, bytes: number): TransferOutcome {
  const mapped = errorToReply(err);
  return { reply: mapped.reply, ok: false, bytes, ...(mapped.expected ? {} : { error: err }) };
}

/** An AbortSignal that fires when the socket sees no traffic for `ms`. */
function watchStall(socket: Socket, ms: number): AbortSignal {
  const controller = new AbortController();
  socket.setTimeout(ms, () => controller.abort(new Error('transfer stalled')));
  socket.once('close', () => socket.setTimeout(0));
  return controller.signal;
}

/**
 * Closes a finished data connection without losing data at either end: our end() already sent FIN (and
 * close_notify); waiting for the client to close first means no unread byte makes a kernel send RST.
 */
function linger(data: Duplex, ms: number): void {
  if (data.destroyed) return;
  data.on('error', () => {});
  const timer = setTimeout(() => data.destroy(), ms);
  timer.unref();
  data.once('close', () => clearTimeout(timer));
  let ended = data.readableEnded;
  let finished = data.writableFinished;
  const maybeDestroy = () => {
    if (ended && finished) data.destroy();
  };
  data.once('end', () => {
    ended = true;
    maybeDestroy();
  });
  data.once('finish', () => {
    finished = true;
    maybeDestroy();
  });
  if (!data.writableEnded) data.end();
  data.resume();
  maybeDestroy();
}
