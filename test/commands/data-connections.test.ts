/**
 * PASV EPSV PORT EPRT (RFC 959, RFC 2428): reply formats, address policy (no bounce, no privileged
 * ports, no foreign peers), active mode, and the order of 150 and 226 around the data connection.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download, loggedIn } from '../helpers/flows.js';
import { RawClient, readAll, writeAll } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { serverForBlock } from '../helpers/block-server.js';

/** A local listener standing in for the client's side of an active data connection. */
async function activeListener(host = '127.0.0.1'): Promise<{ server: Server; port: number; next: () => Promise<Socket> }> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    next: async () => {
      const [socket] = (await once(server, 'connection')) as [Socket];
      socket.on('error', () => {});
      return socket;
    },
  };
}

function portArg(port: number, host = '127.0.0.1'): string {
  return `${host.split('.').join(',')},${port >> 8},${port & 255}`;
}

/** A port that nothing listens on. */
async function closedPort(): Promise<number> {
  const l = await activeListener();
  l.server.close();
  await once(l.server, 'close');
  return l.port;
}

function connectRefused(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.once('connect', () => {
      // Accepted by the kernel; refused if the server closes it at once without a byte.
      s.once('close', () => resolve(true));
      s.resume();
    });
    s.once('error', () => resolve(true));
    setTimeout(() => {
      if (!s.destroyed) {
        s.destroy();
        resolve(false);
      }
    }, 2000);
  });
}

describe('data connections', () => {
  let t: TestServer;
  const body = Buffer.from('0123456789'.repeat(100));
  beforeAll(async () => {
    t = await startServer();
    await writeFile(join(t.root, 'file.bin'), body);
  });
  afterAll(() => t.close());

  it('PASV: 227 with the h1,h2,h3,h4,p1,p2 address of the control connection', async () => {
    const c = await loggedIn(t, { binary: true });
    const r = await c.expectCmd('PASV', 227, /^227 Entering Passive Mode \(127,0,0,1,\d{1,3},\d{1,3}\)\.$/);
    const [p1, p2] = /,(\d+),(\d+)\)/.exec(r.text)!.slice(1).map(Number) as [number, number];
    const data = connect({ port: p1 * 256 + p2, host: '127.0.0.1' });
    await once(data, 'connect');
    c.send('RETR file.bin');
    await c.expect(150, /^150 Opening BINARY mode data connection for file\.bin\.$/);
    expect(await readAll(data)).toEqual(body);
    await c.expect(226, /^226 Transfer complete\.$/);
    c.close();
  });

  it('EPSV: 229 with (|||port|); EPSV 1 too; EPSV 2 on IPv4 is 522', async () => {
    const c = await loggedIn(t, { binary: true });
    await c.expectCmd('EPSV', 229, /^229 Entering Extended Passive Mode \(\|\|\|\d{1,5}\|\)\.$/);
    await c.expectCmd('EPSV 1', 229, /^229 Entering Extended Passive Mode \(\|\|\|\d{1,5}\|\)\.$/);
    await c.expectCmd('EPSV 2', 522, /^522 Network protocol not supported, use \(1\)$/);
    await c.expectCmd('EPSV 3', 501, /^501 Syntax: EPSV \[1\|2\|ALL\]$/);
    expect(await download(c, 'RETR file.bin')).toEqual(body);
    c.close();
  });

  it('EPSV ALL: only EPSV from then on (PASV, PORT, EPRT get 503)', async () => {
    const c = await loggedIn(t, { binary: true });
    await c.expectCmd('EPSV ALL', 200, /^200 EPSV ALL ok\.$/);
    const l = await activeListener();
    await c.expectCmd('PASV', 503, /^503 EPSV ALL in force: only EPSV is allowed\.$/);
    await c.expectCmd(`PORT ${portArg(l.port)}`, 503, /^503 EPSV ALL in force/);
    await c.expectCmd(`EPRT |1|127.0.0.1|${l.port}|`, 503, /^503 EPSV ALL in force/);
    expect(await download(c, 'RETR file.bin')).toEqual(body);
    l.server.close();
    c.close();
  });

  it('PORT and EPRT to a foreign address are refused (501): no FXP, no bounce', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('PORT 10,0,0,1,31,64', 501, /^501 Rejected: the data address must be your own address\.$/);
    await c.expectCmd('PORT 127,0,0,2,31,64', 501, /^501 Rejected: the data address must be your own address\.$/);
    await c.expectCmd('EPRT |1|192.168.1.1|8000|', 501, /^501 Rejected: the data address must be your own address\.$/);
    // Nothing was set up.
    await c.expectCmd('RETR file.bin', 425, /^425 Use PORT or PASV first\.$/);
    c.close();
  });

  it('PORT and EPRT to a privileged port are refused (501)', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('PORT 127,0,0,1,0,21', 501, /^501 Rejected: data port must not be privileged \(below 1024\)\.$/);
    await c.expectCmd('PORT 127,0,0,1,3,255', 501, /below 1024/);
    await c.expectCmd('EPRT |1|127.0.0.1|25|', 501, /below 1024/);
    c.close();
  });

  it('rejects malformed PORT and EPRT (501) and unknown EPRT protocols (522)', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('PORT 127,0,0,1,300,1', 501, /^501 Syntax: PORT h1,h2,h3,h4,p1,p2$/);
    await c.expectCmd('PORT 127,0,0,1,4', 501, /^501 Syntax: PORT/);
    await c.expectCmd('PORT a,b,c,d,e,f', 501, /^501 Syntax: PORT/);
    await c.expectCmd('EPRT |1|127.0.0.1|', 501, /^501 Syntax: EPRT \|proto\|address\|port\|$/);
    await c.expectCmd('EPRT |1|not-an-ip|5000|', 501, /^501 Syntax: EPRT/);
    await c.expectCmd('EPRT |1|127.0.0.1|70000|', 501, /^501 Syntax: EPRT/);
    await c.expectCmd('EPRT |3|127.0.0.1|5000|', 522, /^522 Network protocol not supported, use \(1\)$/);
    await c.expectCmd('EPRT |2|::1|5000|', 522, /^522 Network protocol not supported, use \(1\)$/);
    c.close();
  });

  it('RETR, STOR and LIST without PASV/PORT: 425', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('RETR file.bin', 425, /^425 Use PORT or PASV first\.$/);
    await c.expectCmd('LIST', 425, /^425 Use PORT or PASV first\.$/);
    await c.expectCmd('STOR new.bin', 425, /^425 Use PORT or PASV first\.$/);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('a passive set-up serves one transfer only', async () => {
    const c = await loggedIn(t, { binary: true });
    expect(await download(c, 'RETR file.bin')).toEqual(body);
    await c.expectCmd('RETR file.bin', 425, /^425 Use PORT or PASV first\.$/);
    c.close();
  });

  it('a second PASV replaces the first: the old port is closed', async () => {
    const c = await loggedIn(t, { binary: true });
    const first = await c.expectCmd('EPSV', 229);
    const oldPort = Number(/\|\|\|(\d+)\|/.exec(first.text)![1]);
    expect(await download(c, 'RETR file.bin')).toEqual(body); // its own EPSV
    expect(await connectRefused(oldPort)).toBe(true);
    c.close();
  });

  it('active mode with PORT: the server connects to the client and sends', async () => {
    const c = await loggedIn(t, { binary: true });
    const l = await activeListener();
    await c.expectCmd(`PORT ${portArg(l.port)}`, 200, /^200 PORT command successful\. Consider using PASV\.$/);
    const accepted = l.next();
    c.send('RETR file.bin');
    const data = await accepted;
    expect(data.remoteAddress).toBe('127.0.0.1');
    await c.expect(150, /^150 Opening BINARY mode data connection for file\.bin\.$/);
    expect(await readAll(data)).toEqual(body);
    await c.expect(226, /^226 Transfer complete\.$/);
    l.server.close();
    c.close();
  });

  it('active mode with EPRT: the server connects to the client and receives', async () => {
    const c = await loggedIn(t, { binary: true });
    const l = await activeListener();
    await c.expectCmd(`EPRT |1|127.0.0.1|${l.port}|`, 200, /^200 EPRT command successful\.$/);
    const accepted = l.next();
    c.send('STOR active.bin');
    const data = await accepted;
    await c.expect(150, /^150 Ok to send data for active\.bin\.$/);
    await writeAll(data, 'sent actively');
    await c.expect(226);
    await c.expectCmd('SIZE active.bin', 213, /^213 13$/);
    // EPRT also takes another delimiter (RFC 2428).
    await c.expectCmd(`EPRT !1!127.0.0.1!${l.port}!`, 200);
    const again = l.next();
    c.send('LIST active.bin');
    expect((await readAll(await again)).toString()).toMatch(/ active\.bin\r\n$/);
    await c.expect(150);
    await c.expect(226);
    l.server.close();
    c.close();
  });

  it('active mode to a port where nobody listens: 425 and no 150', async () => {
    const c = await loggedIn(t, { binary: true });
    const port = await closedPort();
    await c.expectCmd(`PORT ${portArg(port)}`, 200);
    await c.expectCmd('RETR file.bin', 425, /^425 Can't open data connection\.$/);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  // 127.0.0.2 is a second loopback address on Linux only.
  it.skipIf(process.platform !== 'linux')('refuses a passive connection from a foreign address; the session keeps working', async () => {
    const c = await loggedIn(t, { binary: true });
    const r = await c.expectCmd('EPSV', 229);
    const port = Number(/\|\|\|(\d+)\|/.exec(r.text)![1]);
    const intruder = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    intruder.on('error', () => {});
    const stolen: Buffer[] = [];
    intruder.on('data', (d: Buffer) => stolen.push(d));
    await once(intruder, 'close');
    expect(Buffer.concat(stolen).length).toBe(0);
    // The real client still gets its data connection.
    const data = connect({ port, host: '127.0.0.1' });
    data.on('error', () => {});
    await once(data, 'connect');
    c.send('RETR file.bin');
    await c.expect(150);
    expect(await readAll(data)).toEqual(body);
    await c.expect(226);
    c.close();
  });

  it('sends 150 only once the data connection is open', async () => {
    const c = await loggedIn(t, { binary: true });
    const r = await c.expectCmd('EPSV', 229);
    const port = Number(/\|\|\|(\d+)\|/.exec(r.text)![1]);
    c.send('RETR file.bin');
    // The transfer waits for the data connection: STAT answers first, and there is no 150 yet.
    await c.expectCmd('STAT', 213, /^213 Transfer in progress: 0 bytes\.$/);
    const data = connect({ port, host: '127.0.0.1' });
    data.on('error', () => {});
    await c.expect(150);
    expect(await readAll(data)).toEqual(body);
    await c.expect(226);
    c.close();
  });

  it('a failed transfer command closes the prepared data connection', async () => {
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    await c.expectCmd('RETR missing.bin', 550, /^550 No such file or directory\.$/);
    // No 150 was sent, and the server does not keep the connection (or the listener) around.
    await Promise.race([once(data, 'close'), new Promise((_, reject) => setTimeout(() => reject(new Error('data connection left open')), 3000))]);
    await c.expectCmd('RETR file.bin', 425, /^425 Use PORT or PASV first\.$/);
    c.close();
  });

  it('ABOR with no transfer drops a prepared passive connection (225)', async () => {
    const c = await loggedIn(t, { binary: true });
    const r = await c.expectCmd('EPSV', 229);
    const port = Number(/\|\|\|(\d+)\|/.exec(r.text)![1]);
    await c.expectCmd('ABOR', 225, /^225 No transfer to abort\.$/);
    expect(await connectRefused(port)).toBe(true);
    await c.expectCmd('RETR file.bin', 425);
    c.close();
  });
});

describe('226 after all data', () => {
  let t: TestServer;
  const size = 24 * 1024 * 1024;
  beforeAll(async () => {
    // On disk: the local backend reads in bounded chunks, so the byte count of STAT trails the client.
    t = await startServer();
    await writeFile(join(t.root, 'big.bin'), Buffer.alloc(size, 0x5a));
  });
  afterAll(() => t.close());

  it('sends 226 only when every byte was taken by the client', async () => {
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    data.pause();
    c.send('RETR big.bin');
    await c.expect(150);
    // While the client reads nothing, the transfer cannot finish: STAT answers, no 226 comes first.
    const stat = await c.expectCmd('STAT', 213, /^213 Transfer in progress: \d+ bytes\.$/);
    const sent = Number(/(\d+) bytes/.exec(stat.text)![1]);
    expect(sent).toBeLessThan(size);
    const reading = readAll(data);
    data.resume();
    expect((await reading).length).toBe(size);
    await c.expect(226, /^226 Transfer complete\.$/);
    c.close();
  });
});

const hasIpv6Loopback = Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === '::1'));

describe.skipIf(!hasIpv6Loopback)('IPv6', () => {
  const t = serverForBlock({ host: '::1', storage: new MemoryStorage({ 'six.txt': 'over IPv6' }) });

  it('EPSV works, PASV is 425, PORT is 522, EPRT |2| works', async () => {
    const c = await RawClient.connect(t.port, '::1');
    await c.login('alice', 'secret');
    await c.expectCmd('TYPE I', 200);
    await c.expectCmd('PASV', 425, /^425 PASV is for IPv4: use EPSV\.$/);
    await c.expectCmd('PORT 127,0,0,1,31,64', 522, /^522 Network protocol not supported, use \(2\)$/);
    await c.expectCmd('EPSV 1', 522, /^522 Network protocol not supported, use \(2\)$/);
    expect((await download(c, 'RETR six.txt')).toString()).toBe('over IPv6');
    const l = await activeListener('::1');
    await c.expectCmd(`EPRT |2|0:0:0:0:0:0:0:1|${l.port}|`, 200);
    const accepted = l.next();
    c.send('RETR six.txt');
    expect((await readAll(await accepted)).toString()).toBe('over IPv6');
    await c.expect(150);
    await c.expect(226);
    await c.expectCmd(`EPRT |1|127.0.0.1|${l.port}|`, 522, /use \(2\)/);
    l.server.close();
    c.close();
  });
});
