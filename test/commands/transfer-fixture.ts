/**
 * The transfer tests' server: one per describe block that calls `useTransferServer()`, with `all.bin`
 * (every byte value) and `big.bin` (24 MiB) in its root; `t` is a live binding set before the tests.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { allBytes, loggedIn } from '../helpers/flows.js';
import { startServer, type TestServer } from '../helpers/server.js';

export let t: TestServer;
export const bytes = allBytes();
export const big = Buffer.alloc(24 * 1024 * 1024, 0x61);

/** Starts the server (with all.bin and big.bin) before the enclosing block's tests, closes it after. */
export function useTransferServer(): void {
  beforeAll(async () => {
    t = await startServer();
    await writeFile(join(t.root, 'all.bin'), bytes);
    await writeFile(join(t.root, 'big.bin'), big);
  });
  afterAll(() => t.close());
}

export const onDisk = (name: string) => readFile(join(t.root, name));

/** A logged-in client, and a promise for the end of its server session. */
export async function tracked(): Promise<{ c: Awaited<ReturnType<typeof loggedIn>>; ended: Promise<void> }> {
  const before = new Set(t.server.sessions.keys());
  const c = await loggedIn(t, { binary: true });
  const id = [...t.server.sessions.keys()].find((k) => !before.has(k))!;
  const ended = new Promise<void>((resolve) => {
    const onDisconnect = (info: { id: string }) => {
      if (info.id !== id) return;
      t.server.events.off('disconnect', onDisconnect);
      resolve();
    };
    t.server.events.on('disconnect', onDisconnect);
  });
  return { c, ended };
}
