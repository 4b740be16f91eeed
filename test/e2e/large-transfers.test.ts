/**
 * 100 MiB of random data through every mode (plain FTP, explicit FTPS with protected data, implicit
 * FTPS), uploaded with one client and downloaded with another: curl uploads and curl, lftp, Python ftplib
 * and basic-ftp download; lftp, Python and basic-ftp upload and curl downloads. Every copy is checked by
 * sha256, and every upload also on the server's disk. The random file is made once; transfers run one
 * at a time. Rates are printed for information only (`[rate]` lines); nothing asserts on time.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer, type TestServerOptions } from '../helpers/server.js';
import { basicFtp, curl, curlTarget, lftp, lftpOpen, lftpQuote as q, python, pythonConfig } from './clients.js';
import { MiB, expectSuccess, reportRate, sha256File, tempDir, writeRandomFile, type Mode, type TempDir } from './helpers.js';

const SIZE = 100 * MiB;
const CLIENT_TIMEOUT = 240_000;
const TEST_TIMEOUT = 600_000;

let work: TempDir;
let source: string;
let sourceHash: string;

beforeAll(async () => {
  work = await tempDir();
  source = join(work.path, 'random-100MiB.bin');
  sourceHash = await writeRandomFile(source, SIZE);
}, 120_000);
afterAll(() => work?.remove());

interface Client {
  name: string;
  upload(t: TestServer, mode: Mode, remote: string): Promise<void>;
  download(t: TestServer, mode: Mode, remote: string, dest: string): Promise<void>;
}

const PY_UPLOAD = String.raw`
f = open_ftp(pasv=cfg['pasv'])
with open(cfg['local'], 'rb') as fh:
    reply = f.storbinary('STOR ' + cfg['remote'], fh, blocksize=1 << 20)
f.quit()
out(reply)
`;
const PY_DOWNLOAD = String.raw`
f = open_ftp(pasv=cfg['pasv'])
with open(cfg['dest'], 'wb') as fh:
    reply = f.retrbinary('RETR ' + cfg['remote'], fh.write)  # 8 KiB reads: a 1 MiB recv() buffer per TLS record is slow
f.quit()
out(reply)
`;

const curlClient: Client = {
  name: 'curl',
  async upload(t, mode, remote) {
    const { args, url } = curlTarget(t, mode);
    expectSuccess(await curl([...args, '--upload-file', source, `${url}/${remote}`], { timeoutMs: CLIENT_TIMEOUT }));
  },
  async download(t, mode, remote, dest) {
    const { args, url } = curlTarget(t, mode);
    expectSuccess(await curl([...args, '--output', dest, `${url}/${remote}`], { timeoutMs: CLIENT_TIMEOUT }));
  },
};

const lftpClient: Client = {
  name: 'lftp',
  async upload(t, mode, remote) {
    expectSuccess(await lftp(`${lftpOpen(t, mode)}; put ${q(source)} -o ${q(remote)}`, { timeoutMs: CLIENT_TIMEOUT }));
  },
  async download(t, mode, remote, dest) {
    expectSuccess(await lftp(`${lftpOpen(t, mode)}; get ${q(remote)} -o ${q(dest)}`, { timeoutMs: CLIENT_TIMEOUT }));
  },
};

/** Python ftplib; `pasv: false` makes it an active-mode client (PORT/EPRT, the server connects). */
function pythonClient(pasv: boolean): Client {
  return {
    name: pasv ? 'python' : 'python-active',
    async upload(t, mode, remote) {
      const r = expectSuccess(await python(PY_UPLOAD, pythonConfig(t, mode, { local: source, remote, pasv }), { timeoutMs: CLIENT_TIMEOUT }));
      expect(r.stdout).toMatch(/"226 /);
    },
    async download(t, mode, remote, dest) {
      const r = expectSuccess(await python(PY_DOWNLOAD, pythonConfig(t, mode, { dest, remote, pasv }), { timeoutMs: CLIENT_TIMEOUT }));
      expect(r.stdout).toMatch(/"226 /);
    },
  };
}

const basicFtpClient: Client = {
  name: 'basic-ftp',
  async upload(t, mode, remote) {
    const client = await basicFtp(t, mode);
    try {
      await client.uploadFrom(source, remote);
    } finally {
      client.close();
    }
  },
  async download(t, mode, remote, dest) {
    const client = await basicFtp(t, mode);
    try {
      await client.downloadTo(dest, remote);
    } finally {
      client.close();
    }
  },
};

const MODES: { mode: Mode; options: TestServerOptions }[] = [
  { mode: 'plain', options: { tlsRequired: 'off' } },
  { mode: 'explicit', options: { tlsRequired: 'login' } },
  { mode: 'implicit', options: { tlsRequired: 'login', implicit: true } },
];

describe.each(MODES)('100 MiB, $mode', ({ mode, options }) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer(options);
  });
  afterAll(() => t?.close());

  async function upload(client: Client, remote: string): Promise<void> {
    const started = performance.now();
    await client.upload(t, mode, remote);
    reportRate(`${mode} upload ${client.name}`, SIZE, performance.now() - started);
    expect(await sha256File(join(t.root, remote)), `${client.name} upload on disk`).toBe(sourceHash);
  }

  async function download(client: Client, remote: string): Promise<void> {
    const dest = join(work.path, `${mode}-${client.name}.bin`);
    const started = performance.now();
    await client.download(t, mode, remote, dest);
    reportRate(`${mode} download ${client.name}`, SIZE, performance.now() - started);
    expect(await sha256File(dest), `${client.name} download`).toBe(sourceHash);
    await rm(dest);
  }

  it(
    'curl uploads; curl, lftp, Python (passive and active) and basic-ftp download it',
    async () => {
      await upload(curlClient, 'from-curl.bin');
      for (const client of [curlClient, lftpClient, pythonClient(true), pythonClient(false), basicFtpClient]) {
        await download(client, 'from-curl.bin');
      }
    },
    TEST_TIMEOUT,
  );

  it(
    'lftp, Python and basic-ftp upload; curl downloads each',
    async () => {
      for (const client of [lftpClient, pythonClient(true), basicFtpClient]) {
        const remote = `from-${client.name}.bin`;
        await upload(client, remote);
        await download(curlClient, remote);
        await rm(join(t.root, remote));
      }
    },
    TEST_TIMEOUT,
  );
});
