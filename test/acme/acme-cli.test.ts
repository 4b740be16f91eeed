/**
 * `ftpsd serve` with ACME against a real CA (Pebble, test/services/pebble.ts), the challenge really
 * validated: first issuance, then curl and lftp verify the server by name with Pebble's root (explicit
 * and implicit FTPS); files 0600; the banner and /metrics say which certificate is in use; a restart
 * reuses the stored certificate (Pebble sees no new order); renewal of a short-lived certificate
 * swaps it under a running transfer; --cert/--key with ACME is refused naming both.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'basic-ftp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, configFile, curl, killAll, removeTempDirs, run, Served, tempDir } from '../cli/cli.js';
import { until } from '../helpers/poll.js';
import { freePort } from '../ops/service-helpers.js';
import { pebbleInstalled, startPebble, type Pebble } from '../services/pebble.js';

const NAME = 'ftp.example.test';
const ISSUED = 'acme: certificate issued and in service';

afterAll(async () => {
  killAll();
  await removeTempDirs();
});

/** The issued lines so far. */
const issuedLines = (s: Served) => s.stdout.split('\n').filter((l) => l.includes(ISSUED));

async function acmeServer(pebble: Pebble, httpPort: number, extra: string[] = [], dir?: string): Promise<{ served: Served; dir: string }> {
  const base = dir ?? (await tempDir());
  const { file } = await configFile(`acme:\n  directory: ${pebble.directory}\n  caBundle: ${pebble.caBundle}\n  email: admin@example.test\n`);
  const args = [
    '--config', file, '--listen', '127.0.0.1:0', '--implicit-listen', '127.0.0.1:0', '--root', join(base, 'root'), '--state-dir', join(base, 'state'),
    '--user', 'alice:secret', '--metrics-listen', '127.0.0.1:0', '--acme-domain', NAME, '--acme-http-listen', `127.0.0.1:${httpPort}`, ...extra,
  ];
  return { served: await Served.start(args), dir: base };
}

function metricsUrl(s: Served): string {
  return /^metrics:\s+(\S+)$/m.exec(s.stdout)![1]!;
}

async function expiryGauge(s: Served): Promise<string> {
  const r = await curl([metricsUrl(s)]);
  return r.stdout.split('\n').find((l) => l.startsWith('ftpsd_certificate_expiry_seconds{')) ?? '';
}

/** lftp runs with its own /etc/hosts (a private mount namespace) so the name resolves to loopback, where that can be done (root). */
function canUnshare(): boolean {
  return spawnSync('unshare', ['-m', 'true']).status === 0;
}

describe.skipIf(!pebbleInstalled())('ACME with Pebble: issuance, verification by name, restart', () => {
  let pebble: Pebble;
  let httpPort: number;
  beforeAll(async () => {
    assertBuilt();
    httpPort = await freePort();
    pebble = await startPebble({ httpPort, tlsPort: await freePort() });
  }, 30_000);
  afterAll(async () => {
    await pebble?.stop();
  });

  it('serves the self-signed certificate until the first issuance, then a certificate clients verify by name', async () => {
    const { served, dir } = await acmeServer(pebble, httpPort);
    try {
      expect(served.banner.certificate).toMatch(/self-signed.*ACME pending: no certificate from the CA yet/);
      await until(() => issuedLines(served).length > 0, 'the first certificate', 30_000);
      const root = join(dir, 'pebble-root.pem');
      await writeFile(root, await pebble.root());
      const [explicit, implicit] = [served.banner.explicit[0]!.port, served.banner.implicit[0]!.port];
      await mkdir(join(dir, 'root'), { recursive: true });
      await writeFile(join(dir, 'root', 'hello.txt'), 'hello over verified FTPS\n');
      const verified = (url: string, port: number, name = NAME) => curl(['--cacert', root, '--resolve', `${name}:${port}:127.0.0.1`, '-u', 'alice:secret', url]);
      // --ssl-reqd: explicit FTPS (AUTH TLS), verified against Pebble's root by the name.
      const ex = await curl(['--ssl-reqd', '--cacert', root, '--resolve', `${NAME}:${explicit}:127.0.0.1`, '-u', 'alice:secret', `ftp://${NAME}:${explicit}/hello.txt`]);
      expect(ex, ex.stderr).toMatchObject({ code: 0, stdout: 'hello over verified FTPS\n' });
      const im = await verified(`ftps://${NAME}:${implicit}/hello.txt`, implicit);
      expect(im, im.stderr).toMatchObject({ code: 0, stdout: 'hello over verified FTPS\n' });
      // The check is real: another name, or no trust in Pebble's root, fails verification.
      const other = await curl(['--ssl-reqd', '--cacert', root, '--resolve', `other.example.test:${explicit}:127.0.0.1`, '-u', 'alice:secret', `ftp://other.example.test:${explicit}/`]);
      expect(other.code).toBe(60);
      const untrusted = await curl(['--ssl-reqd', '--resolve', `${NAME}:${explicit}:127.0.0.1`, '-u', 'alice:secret', `ftp://${NAME}:${explicit}/`]);
      expect(untrusted.code).toBe(60);

      if (canUnshare()) {
        const hosts = join(dir, 'hosts');
        await writeFile(hosts, `127.0.0.1 ${NAME}\n`);
        for (const [scheme, port] of [['ftp', explicit], ['ftps', implicit]] as const) {
          const script = [
            'set ssl:verify-certificate yes', `set ssl:ca-file ${root}`, 'set ftp:ssl-force yes', 'set ftp:ssl-protect-data yes',
            `open -u alice,secret ${scheme}://${NAME}:${port}`, 'cat hello.txt',
          ].join('; ');
          const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind "$1" /etc/hosts && exec lftp --norc -c "$2"`, 'sh', hosts, `set net:max-retries 1; set net:timeout 20; ${script}`], { encoding: 'utf8', timeout: 40_000, env: { ...process.env, HOME: dir } });
          expect(r.status, `${scheme}: ${r.stderr}`).toBe(0);
          expect(r.stdout).toBe('hello over verified FTPS\n');
        }
      }

      // Kept in the state directory, 0600.
      for (const f of ['account-key.pem', 'cert.pem', 'key.pem']) expect(statSync(join(dir, 'state', 'acme', f)).mode & 0o777, f).toBe(0o600);
      // /metrics says which certificate is in use.
      const gauge = await expiryGauge(served);
      expect(gauge).toMatch(new RegExp(`source="acme"`));
      expect(gauge).toContain(`names="${NAME}"`);
    } finally {
      await served.stop();
    }

    // A restart reuses the stored certificate: no new order.
    const orders = pebble.orders();
    expect(orders).toBeGreaterThan(0); // the count is read from Pebble's log: it saw the first order
    const again = await acmeServer(pebble, httpPort, [], dir);
    try {
      expect(again.served.banner.certificate).toContain('(ACME, from the CA)');
      expect(again.served.stdout).toMatch(new RegExp(`^names:\\s+${NAME.replace(/\./g, '\\.')}$`, 'm'));
      expect(again.served.stdout).toMatch(/^expires:\s+\d{4}-/m);
      await until(() => /acme: next order at/.test(again.served.stdout), 'the renewal to be scheduled', 10_000);
      expect(pebble.orders()).toBe(orders);
      expect(issuedLines(again.served)).toHaveLength(0);
    } finally {
      await again.served.stop();
    }
  }, 90_000);
});

describe.skipIf(!pebbleInstalled())('ACME with Pebble: renewal of a short-lived certificate', () => {
  let pebble: Pebble;
  let httpPort: number;
  beforeAll(async () => {
    assertBuilt();
    httpPort = await freePort();
    // 24 s certificates: renewed a third into their life, so about every 8 s.
    pebble = await startPebble({ httpPort, tlsPort: await freePort(), validitySeconds: 24 });
  }, 30_000);
  afterAll(async () => {
    await pebble?.stop();
  });

  it('swaps the certificate under a running protected transfer, which completes', async () => {
    const { served, dir } = await acmeServer(pebble, httpPort);
    try {
      await until(() => issuedLines(served).length > 0, 'the first certificate', 30_000);
      const root = join(dir, 'pebble-root.pem');
      await writeFile(root, await pebble.root());
      const before = await expiryGauge(served);
      const size = 2 * 1024 * 1024;
      await mkdir(join(dir, 'root'), { recursive: true });
      await writeFile(join(dir, 'root', 'big.bin'), Buffer.alloc(size, 7));
      const port = served.banner.explicit[0]!.port;
      // A session opened before the swap, verified by name: its later protected data connections must
      // still resume its TLS session (the server's default policy requires it).
      const early = new Client(30_000);
      await early.access({ host: '127.0.0.1', port, user: 'alice', password: 'secret', secure: true, secureOptions: { ca: await pebble.root(), servername: NAME } });
      const issuedBefore = issuedLines(served).length;
      // About 16 s at 128 KiB/s: at least one renewal happens meanwhile.
      const transfer = curl([
        '--max-time', '60', '--ssl-reqd', '--cacert', root, '--resolve', `${NAME}:${port}:127.0.0.1`, '--limit-rate', '128K',
        '-u', 'alice:secret', '-o', join(dir, 'got.bin'), '-w', '%{size_download}', `ftp://${NAME}:${port}/big.bin`,
      ]);
      await until(() => issuedLines(served).length > issuedBefore, 'a renewal during the transfer', 30_000);
      const r = await transfer;
      expect(r, r.stderr).toMatchObject({ code: 0, stdout: String(size) });
      expect(issuedLines(served).length).toBeGreaterThan(issuedBefore);
      expect(statSync(join(dir, 'got.bin')).size).toBe(size);
      const listed = await early.list();
      expect(listed.map((f) => f.name)).toContain('big.bin');
      early.close();
      // New connections get the new certificate, still verified by name.
      const after = await expiryGauge(served);
      expect(after).not.toBe(before);
      const list = await curl(['--ssl-reqd', '--cacert', root, '--resolve', `${NAME}:${port}:127.0.0.1`, '-u', 'alice:secret', `ftp://${NAME}:${port}/`]);
      expect(list, list.stderr).toMatchObject({ code: 0 });
      expect(served.stdout).toMatch(/"reason":"acme".*"msg":"certificate reloaded"/);
    } finally {
      await served.stop();
    }
  }, 90_000);
});

describe.skipIf(!pebbleInstalled())('ACME with Pebble in cluster mode', () => {
  let pebble: Pebble;
  let httpPort: number;
  beforeAll(async () => {
    assertBuilt();
    httpPort = await freePort();
    pebble = await startPebble({ httpPort, tlsPort: await freePort(), validitySeconds: 24 });
  }, 30_000);
  afterAll(async () => {
    await pebble?.stop();
  });

  it('the primary orders; every worker reloads each new pair', async () => {
    const { served, dir } = await acmeServer(pebble, httpPort, ['--workers', '2']);
    try {
      expect(served.stdout).toMatch(/^workers: +2 processes/m);
      // Two issuances (the first, then a renewal), each sent to both workers, each reloaded by both.
      await until(() => issuedLines(served).length >= 2, 'two issuances', 40_000);
      const lines = () => served.stdout.split('\n');
      await until(() => lines().filter((l) => l.includes('"reason":"acme"') && l.includes('certificate reloaded')).length >= 4, 'both workers reloading twice', 20_000);
      const issued = lines().filter((l) => l.includes(ISSUED));
      expect(issued.every((l) => l.includes('"role":"primary"'))).toBe(true);
      expect(lines().filter((l) => l.includes('new certificate sent to the workers')).every((l) => l.includes('"workers":2'))).toBe(true);
      const reloads = lines().filter((l) => l.includes('"reason":"acme"') && l.includes('certificate reloaded'));
      expect(new Set(reloads.map((l) => /"worker":(\d)/.exec(l)?.[1]))).toEqual(new Set(['1', '2']));
      // Connections to either worker are verified by name.
      const root = join(dir, 'pebble-root.pem');
      await writeFile(root, await pebble.root());
      const port = served.banner.explicit[0]!.port;
      for (let i = 0; i < 4; i++) {
        const r = await curl(['--ssl-reqd', '--cacert', root, '--resolve', `${NAME}:${port}:127.0.0.1`, '-u', 'alice:secret', `ftp://${NAME}:${port}/`]);
        expect(r, r.stderr).toMatchObject({ code: 0 });
      }
    } finally {
      await served.stop();
    }
  }, 90_000);
});

describe('ACME and --cert/--key', () => {
  it('is a start-up error naming both', async () => {
    assertBuilt();
    const dir = await tempDir();
    const r = await run(['--root', join(dir, 'root'), '--state-dir', join(dir, 'state'), '--cert', join(dir, 'c.pem'), '--key', join(dir, 'k.pem'), '--acme-domain', NAME], { env: { FTPSD_WORKERS: '1' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--cert/--key and ACME (--acme-domain) cannot be used together');
  });

  it('FTPSD_ACME_DOMAINS is checked name by name', async () => {
    const dir = await tempDir();
    const r = await run(['--root', join(dir, 'root'), '--state-dir', join(dir, 'state')], { env: { FTPSD_WORKERS: '1', FTPSD_ACME_DOMAINS: 'ftp.example.test,not a name' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('FTPSD_ACME_DOMAINS');
    expect(r.stderr).toContain('"not a name": not a DNS name');
  });
});
