/**
 * `node --import tsx scripts/prelogin-flood.ts`: how many real logins succeed while idle connections
 * that never log in flood the server (issue 21 item 7). A bench-like figure, not a test.
 *
 * An in-process server with the default limits (maxSessions 1000) on loopback; a flooder keeps
 * `--flood` idle connections open from `--addresses` loopback addresses (127.0.22.x) and reopens each
 * one the server closes, at once (the attacker who renews at will); meanwhile one client after another
 * connects, does AUTH TLS, logs in, downloads a small file and quits, for `--seconds`. Prints logins
 * tried, succeeded, refused (421) and the median login time.
 *
 * `--max-unauthenticated N` sets limits.maxUnauthenticated (default: a quarter of maxSessions).
 *
 * Measured here (2 shared cores, 8 s, defaults): 40 of 40 logins with a download succeeded (median 173
 * ms, the server also absorbing about 30,000 flood reconnections); without the pre-login pool
 * (roomFor never evicting, as before issue 21) 0 of 14,846: every login got 421.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FtpServer } from '../src/server.js';
import { UserAuthenticator } from '../src/auth/users.js';
import { testCert } from '../test/helpers/server.js';
import { RawClient } from '../test/helpers/raw-client.js';
import { download } from '../test/helpers/flows.js';

const { values } = parseArgs({
  options: {
    flood: { type: 'string', default: '1000' },
    addresses: { type: 'string', default: '40' },
    seconds: { type: 'string', default: '10' },
    'max-unauthenticated': { type: 'string' },
  },
});
const FLOOD = Number(values.flood);
const ADDRESSES = Number(values.addresses);
const SECONDS = Number(values.seconds);
const maxUnauthenticated = values['max-unauthenticated'] === undefined ? undefined : Number(values['max-unauthenticated']);

const root = await mkdtemp(join(tmpdir(), 'ftpsd-flood-'));
await writeFile(join(root, 'small.txt'), 'small file\n');
const server = new FtpServer({
  listen: [{ host: '127.0.0.1', port: 0 }],
  tls: await testCert(),
  tlsRequired: 'login',
  limits: { loginFailureDelayMs: 10, ...(maxUnauthenticated !== undefined ? { maxUnauthenticated } : {}) },
  authenticator: new UserAuthenticator([{ name: 'alice', password: { plain: 'secret' }, home: root }]),
});
const port = (await server.listen()).explicit[0]!.port;
console.log(`limits: maxSessions ${server.settings.limits.maxSessions}, maxUnauthenticated ${server.settings.limits.maxUnauthenticated}`);

let stopping = false;
let opened = 0;
const open = new Set<Socket>();
function floodOne(i: number): void {
  if (stopping) return;
  const socket = connect({ port, host: '127.0.0.1', localAddress: `127.0.22.${1 + (i % ADDRESSES)}` });
  opened++;
  open.add(socket);
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.once('close', () => {
    open.delete(socket);
    setImmediate(() => floodOne(i));
  });
}
for (let i = 0; i < FLOOD; i++) floodOne(i);
await new Promise((r) => setTimeout(r, 2000)); // let the flood fill the server
console.log(`flood: ${open.size} connections open from ${ADDRESSES} addresses, ${opened} opened so far`);

let tried = 0;
let ok = 0;
let refused = 0;
let other = 0;
const times: number[] = [];
const end = Date.now() + SECONDS * 1000;
while (Date.now() < end) {
  tried++;
  const started = performance.now();
  try {
    const c = await RawClient.connect(port, '127.0.0.1', { localAddress: '127.0.23.1' });
    await c.auth();
    await c.expectCmd('PBSZ 0', 200);
    await c.login('alice', 'secret');
    await c.expectCmd('PROT P', 200);
    await download(c, 'RETR small.txt', { tls: true });
    times.push(performance.now() - started);
    ok++;
    c.close();
  } catch (err) {
    if (/421/.test(String(err))) refused++;
    else other++;
  }
}
stopping = true;
const floodOpened = opened;
for (const s of open) s.destroy();
times.sort((a, b) => a - b);
const median = times.length ? times[Math.floor(times.length / 2)]!.toFixed(0) : '-';
console.log(`logins in ${SECONDS} s: tried ${tried}, succeeded ${ok} (with a download), refused ${refused}, other failures ${other}; median login+download ${median} ms`);
console.log(`flood connections opened in total: ${floodOpened}`);
await server.close();
await rm(root, { recursive: true, force: true });
