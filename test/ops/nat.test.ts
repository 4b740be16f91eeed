/**
 * NAT and containers: the PASV address per client network (loopback source addresses stand for the
 * networks), host names resolved at PASV time with a fallback, a port mapping between the listened and
 * the advertised passive ports (a test-local forwarder plays the NAT), and the warning when a client
 * with a public address would be sent to a private one (the client's address comes from a PROXY header,
 * the only way to be "public" on loopback).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatV1 } from '../../src/proxy/proxy-protocol.js';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { PASS, USER, startServer, usingServer, type TestServer } from '../helpers/server.js';
import { freePortRange, viaHeader } from './service-helpers.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { serverForBlock } from '../helpers/block-server.js';

function pasvTarget(text: string): { host: string; port: number } {
  const n = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(text)!.slice(1).map(Number);
  return { host: n.slice(0, 4).join('.'), port: n[4]! * 256 + n[5]! };
}

/** RETR over a data connection to host:port from `localAddress`. */
async function retrVia(c: RawClient, name: string, host: string, port: number, localAddress?: string): Promise<string> {
  await c.expectCmd('TYPE I', 200);
  const data = connect({ host, port, ...(localAddress ? { localAddress } : {}) });
  data.on('error', () => {});
  c.send(`RETR ${name}`);
  await c.expect(150);
  const body = (await readAll(data)).toString();
  await c.expect(226);
  return body;
}

const clients: RawClient[] = [];
const track = (c: RawClient) => (clients.push(c), c);
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

describe('pasvAddress by client network', () => {
  let t: TestServer;
  let log: CapturedLog;

  beforeAll(async () => {
    log = captureLog();
    t = await startServer({
      logger: log.logger,
      pasvAddress: [
        { network: '127.0.0.5/32', address: '127.0.0.1' },
        { network: '127.0.0.6/32', address: 'localhost' },
        { network: '127.0.0.7/32', address: 'no-such-host.invalid' },
        { address: '127.0.0.77' },
      ],
    });
    await writeFile(join(t.root, 'hello.txt'), 'hello\n');
  });
  afterAll(() => t.close());

  async function pasvFrom(source: string): Promise<{ c: RawClient; host: string; port: number }> {
    const c = track(await RawClient.connect(t.port, '127.0.0.1', { localAddress: source }));
    await c.login(USER, PASS);
    const r = await c.expectCmd('PASV', 227);
    return { c, ...pasvTarget(r.text) };
  }

  it('the first rule whose network holds the client decides, and the transfer works', async () => {
    const { c, host, port } = await pasvFrom('127.0.0.5');
    expect(host).toBe('127.0.0.1');
    expect(await retrVia(c, 'hello.txt', host, port, '127.0.0.5')).toBe('hello\n');
  });

  it('a rule without a network catches the rest', async () => {
    const { host } = await pasvFrom('127.0.0.8');
    expect(host).toBe('127.0.0.77');
  });

  it('a host name is resolved when a PASV needs it', async () => {
    const { c, host, port } = await pasvFrom('127.0.0.6');
    expect(host).toBe('127.0.0.1');
    expect(await retrVia(c, 'hello.txt', host, port, '127.0.0.6')).toBe('hello\n');
  });

  it('a name that does not resolve falls back to the local address, with a warning', async () => {
    const { c, host, port } = await pasvFrom('127.0.0.7');
    expect(host).toBe('127.0.0.1');
    expect(log.find('pasvAddress lookup failed').some((l) => /no-such-host\.invalid/.test(String(l.error)))).toBe(true);
    expect(await retrVia(c, 'hello.txt', host, port, '127.0.0.7')).toBe('hello\n');
  });

  it('EPSV carries no address, whatever the rules say', async () => {
    const c = track(await RawClient.connect(t.port, '127.0.0.1', { localAddress: '127.0.0.8' }));
    await c.login(USER, PASS);
    const r = await c.expectCmd('EPSV', 229);
    expect(r.text).toMatch(/\(\|\|\|\d+\|\)/);
  });

  it('the single-address form keeps working', async () => {
    await usingServer({ pasvAddress: '127.0.0.1' }, async (single) => {
      const c = track(await RawClient.connect(single.port));
      await c.login(USER, PASS);
      expect(pasvTarget((await c.expectCmd('PASV', 227)).text).host).toBe('127.0.0.1');
    });
  });
});

describe('port mapping: listened pasvPorts, advertised pasvAdvertisedPorts', () => {
  let t: TestServer;
  let listened: { min: number; max: number };
  let advertised: { min: number; max: number };
  const forwarders: Server[] = [];
  const piped = new Set<Socket>();

  beforeAll(async () => {
    listened = await freePortRange(6);
    advertised = await freePortRange(6);
    t = await startServer({ pasvPorts: listened, pasvAdvertisedPorts: advertised });
    await writeFile(join(t.root, 'mapped.txt'), 'through the mapping\n');
    // The "NAT": each advertised port forwards to the listened port at the same offset.
    for (let i = 0; i <= advertised.max - advertised.min; i++) {
      const f = createServer((inbound) => {
        const outbound = connect({ host: '127.0.0.1', port: listened.min + i });
        for (const s of [inbound, outbound]) {
          piped.add(s);
          s.on('error', () => {});
          s.on('close', () => piped.delete(s));
        }
        inbound.pipe(outbound).pipe(inbound);
      });
      await new Promise<void>((r) => f.listen(advertised.min + i, '127.0.0.1', () => r()));
      forwarders.push(f);
    }
  });
  afterAll(async () => {
    for (const s of piped) s.destroy();
    await Promise.all(forwarders.map((f) => new Promise((r) => f.close(r))));
    await t.close();
  });

  it('PASV and EPSV advertise the mapped port, and the data connection arrives through the mapping', async () => {
    const c = track(await RawClient.connect(t.port));
    await c.login(USER, PASS);
    const { host, port } = pasvTarget((await c.expectCmd('PASV', 227)).text);
    expect(port).toBeGreaterThanOrEqual(advertised.min);
    expect(port).toBeLessThanOrEqual(advertised.max);
    expect(await retrVia(c, 'mapped.txt', host, port)).toBe('through the mapping\n');
    const epsv = Number(/\|\|\|(\d+)\|/.exec((await c.expectCmd('EPSV', 229)).text)![1]);
    expect(epsv).toBeGreaterThanOrEqual(advertised.min);
    expect(epsv).toBeLessThanOrEqual(advertised.max);
    expect(await retrVia(c, 'mapped.txt', '127.0.0.1', epsv)).toBe('through the mapping\n');
  });
});

describe('a private PASV address for a client with a public address', () => {
  const log = captureLog();
  const t = serverForBlock({ logger: log.logger, proxyProtocol: ['127.0.0.1/32'] });

  const header = (source: string) => formatV1({ address: source, port: 40000 }, { address: '127.0.0.1', port: t.port });
  const warnings = () => log.find(/PASV advertises a private address/);

  it('is logged once per session, with both addresses', async () => {
    const c = track(await viaHeader(t.port, header('203.0.113.9')));
    await c.login(USER, PASS);
    await c.expectCmd('PASV', 227);
    await c.expectCmd('PASV', 227);
    await c.expectCmd('EPSV', 229);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ level: 40, peer: '203.0.113.9', advertised: '127.0.0.1' });
    const again = track(await viaHeader(t.port, header('203.0.113.10')));
    await again.login(USER, PASS);
    await again.expectCmd('PASV', 227);
    expect(warnings()).toHaveLength(2);
  });

  it('is not logged for a client on a private network, nor for a public pasvAddress', async () => {
    const before = warnings().length;
    const c = track(await viaHeader(t.port, header('10.0.0.9')));
    await c.login(USER, PASS);
    await c.expectCmd('PASV', 227);
    await usingServer({ logger: log.logger, proxyProtocol: ['127.0.0.1/32'], pasvAddress: [{ network: '203.0.113.0/24', address: '198.51.100.7' }] }, async (pub) => {
      const p = track(await viaHeader(pub.port, formatV1({ address: '203.0.113.9', port: 1 }, { address: '127.0.0.1', port: pub.port })));
      await p.login(USER, PASS);
      expect(pasvTarget((await p.expectCmd('PASV', 227)).text).host).toBe('198.51.100.7');
    });
    expect(warnings()).toHaveLength(before);
  });
});
