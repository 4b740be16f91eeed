/**
 * Issue 21 item 5: a neighbour on the client's address (carrier-grade NAT, a shared host) takes a clear
 * data connection. The passive port only checks the peer's address, so whoever connects first gets
 * the victim's download or supplies its upload. With the defaults (`tlsRequired: login`,
 * `dataProtection: tls-sessions`) a session that used TLS cannot go clear: PROT C is refused (534) and
 * a transfer without PROT P is refused (521) before the passive connection is used, so the attacker
 * gets nothing and stores nothing. `dataProtection: optional` is the admin's opt-out, with the risk
 * this test shows.
 */
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { download } from '../helpers/flows.js';
import { authClearable, ccc } from '../helpers/ccc.js';
import { RawClient } from '../helpers/raw-client.js';
import { PASS, USER, usingServer, type TestServer } from '../helpers/server.js';
import { loadConfig } from '../../src/config/load.js';
import { configFile, removeTempDirs } from '../cli/cli.js';
import { serverForBlock } from '../helpers/block-server.js';

const SECRET = 'the victim secret\n';
const EVIL = 'attacker bytes\n';

/** The victim: AUTH TLS, login, PBSZ; then it asks for clear data (PROT C), as some clients do. */
async function victim(t: TestServer, prot: 'C' | 'none', protCode = 534): Promise<RawClient> {
  const c = await RawClient.connect(t.port, t.host);
  await c.auth();
  await c.login(USER, PASS);
  await c.expectCmd('PBSZ 0', 200);
  if (prot === 'C') {
    await c.expectCmd('PROT C', protCode, protCode === 534 ? /^534 PROT C refused: data connections must be protected\.$/ : undefined);
  }
  await c.expectCmd('TYPE I', 200);
  return c;
}

/** The attacker: no account, same address; connects to the advertised passive port before the victim. */
async function attack(port: number): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<unknown> }> {
  const socket = netConnect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (b: Buffer) => chunks.push(b));
  // Not events.once: it rejects on 'error' (a reset is one way the server closes it).
  const closed = new Promise((resolve) => {
    const timer = setTimeout(resolve, 10_000);
    socket.once('close', () => resolve(clearTimeout(timer)));
  });
  socket.write(EVIL);
  return { socket, received: () => Buffer.concat(chunks), closed };
}

async function epsvPort(c: RawClient): Promise<number> {
  const r = await c.expectCmd('EPSV', 229);
  return Number(/\|\|\|(\d+)\|/.exec(r.text)![1]);
}

describe('clear data on defaults (tlsRequired: login, dataProtection: tls-sessions)', () => {
  const t = serverForBlock({ tlsRequired: 'login' }, { 'secret.txt': SECRET });

  it('PROT C is refused (534); the upload is refused (521); the attacker on the passive port stores nothing', async () => {
    const c = await victim(t, 'C');
    const thief = await attack(await epsvPort(c));
    await c.expectCmd('STOR upload.bin', 521, /^521 Data connections must be protected: send PROT P\.$/);
    await thief.closed;
    expect(thief.socket.destroyed || thief.socket.readableEnded).toBe(true);
    expect(existsSync(join(t.root, 'upload.bin'))).toBe(false);
    c.close();
  });

  it('a download without PROT P (TLS-C default, no PROT) is refused (521); the attacker receives nothing', async () => {
    const c = await victim(t, 'none');
    const thief = await attack(await epsvPort(c));
    await c.expectCmd('RETR secret.txt', 521);
    await thief.closed;
    expect(thief.received().length).toBe(0);
    // A listing is a transfer too.
    const thief2 = await attack(await epsvPort(c));
    await c.expectCmd('LIST', 521);
    await thief2.closed;
    expect(thief2.received().length).toBe(0);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('implicit FTPS: PROT C is refused as well', async () => {
    await usingServer({ tlsRequired: 'login', implicit: true }, async (t2) => {
      const c = await RawClient.connect(t2.implicitPort!, t2.host, { implicit: true });
      await c.login(USER, PASS);
      await c.expectCmd('PROT C', 534);
      c.close();
    });
  });

  it('after CCC, data stays protected: PROT P downloads work, PROT C cannot be sent', async () => {
    const c = await RawClient.connect(t.port, t.host);
    await authClearable(c);
    await c.login(USER, PASS);
    await c.expectCmd('PBSZ 0', 200);
    await c.expectCmd('PROT P', 200);
    await c.expectCmd('TYPE I', 200);
    await ccc(c);
    expect((await download(c, 'RETR secret.txt', { tls: true })).toString()).toBe(SECRET);
    // PROT needs TLS on the control connection, which CCC removed: no way back to clear data.
    await c.expectCmd('PROT C', 503);
    await c.expectCmd('STAT', 211, /data protection: Private/);
    c.close();
  });

  it('plain FTP sessions (no TLS at all) are not affected under tlsRequired: off', async () => {
    await usingServer({ tlsRequired: 'off' }, async (t2) => {
      await writeFile(join(t2.root, 'f.txt'), 'plain');
      const c = await RawClient.connect(t2.port, t2.host);
      await c.login(USER, PASS);
      expect((await download(c, 'RETR f.txt')).toString()).toBe('plain');
      // A TLS session on the same server is protected.
      const s = await victim(t2, 'C');
      await epsvPort(s);
      await s.expectCmd('RETR f.txt', 521);
      s.close();
      c.close();
    });
  });
});

describe('dataProtection: optional (the opt-out) allows clear data, with the documented risk', () => {
  const t = serverForBlock({ tlsRequired: 'login', dataProtection: 'optional' }, { 'secret.txt': SECRET });

  it('PROT C is accepted and a clear download works', async () => {
    const c = await victim(t, 'C', 200);
    expect((await download(c, 'RETR secret.txt')).toString()).toBe(SECRET);
    c.close();
  });

  it('the risk: an attacker first on the passive port supplies the upload and receives the download', async () => {
    const c = await victim(t, 'C', 200);
    const thief = await attack(await epsvPort(c));
    thief.socket.end();
    c.send('STOR upload.bin');
    await c.expect(150);
    await c.expect(226);
    expect(await readFile(join(t.root, 'upload.bin'), 'utf8')).toBe(EVIL);

    const thief2 = await attack(await epsvPort(c));
    c.send('RETR secret.txt');
    await c.expect(150);
    await c.expect(226);
    await thief2.closed;
    expect(thief2.received().toString()).toBe(SECRET);
    c.close();
  });
});

describe('the dataProtection setting', () => {
  afterAll(removeTempDirs);

  it('defaults to tls-sessions; file, environment and flag set it; anything else is refused', async () => {
    expect((await loadConfig({}, { env: {}, cwd: '/srv' })).dataProtection).toBe('tls-sessions');
    const { dir, file } = await configFile('dataProtection: optional\n');
    expect((await loadConfig({ config: file }, { env: {}, cwd: dir })).dataProtection).toBe('optional');
    expect((await loadConfig({}, { env: { FTPSD_DATA_PROTECTION: 'optional' }, cwd: '/srv' })).dataProtection).toBe('optional');
    expect((await loadConfig({ dataProtection: 'tls-sessions' }, { env: { FTPSD_DATA_PROTECTION: 'optional' }, cwd: '/srv' })).dataProtection).toBe('tls-sessions');
    await expect(loadConfig({ dataProtection: 'never' }, { env: {}, cwd: '/srv' })).rejects.toThrow(/--data-protection: must be one of tls-sessions, optional/);
  });

  it('reconfigure switches it for new connections; tlsRequired: all refuses PROT C whatever it says', async () => {
    await usingServer({ tlsRequired: 'login' }, async (t) => {
      t.server.reconfigure({ dataProtection: 'optional' });
      const c = await victim(t, 'C', 200);
      c.close();
      t.server.reconfigure({ tlsRequired: 'all', dataProtection: 'optional' });
      const d = await victim(t, 'C', 534);
      d.close();
    });
  });
});
