/**
 * The upload tests' fixture: a fresh home directory per test (`root`, a live binding), a server for one
 * user over it with a given upload policy, quota or storage (`serve`), logged-in binary clients closed
 * after each test, and small file-system probes (upload temp files, existence, size).
 */
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { UserAuthenticator, type UploadPolicy, type UserAccount } from '../../src/auth/users.js';
import { TEMP_PREFIX } from '../../src/storage/local.js';
import type { QuotaLimits } from '../../src/storage/quota.js';
import type { Storage } from '../../src/storage/storage.js';
import { loggedIn } from '../helpers/flows.js';
import type { RawClient } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';

export const ORIGINAL = Buffer.from('the original content, which must survive every failed upload\n'.repeat(100));

export let root: string;
export let t: TestServer | undefined;
export const clients: RawClient[] = [];

export async function serve(options: { uploads?: UploadPolicy; quota?: QuotaLimits; home?: string | Storage } = {}): Promise<TestServer> {
  const account: UserAccount = { name: USER, password: { plain: PASS }, home: options.home ?? root, ...(options.quota ? { quota: options.quota } : {}) };
  t = await startServer({ authenticator: new UserAuthenticator([account], undefined, { uploads: options.uploads ?? {} }) });
  return t;
}

export async function client(): Promise<RawClient> {
  const c = await loggedIn(t!, { binary: true });
  clients.push(c);
  return c;
}

export async function temps(dir = root): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX));
}

export async function exists(path: string): Promise<boolean> {
  return fs.stat(path).then(
    () => true,
    () => false,
  );
}

export async function sizeOf(path: string): Promise<number> {
  return fs.stat(path).then(
    (st) => st.size,
    () => -1,
  );
}

/** Resolves when the session of `c` has ended on the server (its transfer included). */
export function sessionEnd(server: TestServer): Promise<void> {
  return new Promise((resolve) => server.server.events.once('disconnect', () => resolve()));
}


/** A fresh home directory (`root`) per test; after it, its clients and server are closed and the directory removed. */
export function useUploadRoot(): void {
  beforeEach(async () => {
    root = await fs.mkdtemp(join(tmpdir(), 'ftpsd-uploads-'));
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await t?.close();
    t = undefined;
    await fs.rm(root, { recursive: true, force: true });
  });
}
