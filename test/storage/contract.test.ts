/** The storage contract (src/testing/storage-contract.ts) run against every backend. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { LocalStorage } from '../../src/storage/local.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { QuotaStorage, QuotaUsage } from '../../src/storage/quota.js';
import { storageContract, type StorageFixture } from '../../src/testing/storage-contract.js';

const backends: [string, () => Promise<StorageFixture>][] = [
  [
    'LocalStorage',
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'ftpsd-contract-'));
      return { storage: new LocalStorage(root), cleanup: () => rm(root, { recursive: true, force: true }) };
    },
  ],
  [
    // Metadata calls through the thread pool (roots on network file systems): the same contract.
    'LocalStorage (blockingMetadata: false)',
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'ftpsd-contract-'));
      return { storage: new LocalStorage(root, { blockingMetadata: false }), cleanup: () => rm(root, { recursive: true, force: true }) };
    },
  ],
  ['MemoryStorage', async () => ({ storage: new MemoryStorage() })],
  // The quota wrapper, with limits the cases stay under, must keep the contract of what it wraps.
  [
    'QuotaStorage over LocalStorage',
    async () => {
      const root = await mkdtemp(join(tmpdir(), 'ftpsd-contract-'));
      const inner = new LocalStorage(root);
      return { storage: new QuotaStorage(inner, new QuotaUsage(inner), { bytes: 1e9, files: 1e6 }), cleanup: () => rm(root, { recursive: true, force: true }) };
    },
  ],
  [
    'QuotaStorage over MemoryStorage',
    async () => {
      const inner = new MemoryStorage();
      return { storage: new QuotaStorage(inner, new QuotaUsage(inner), { bytes: 1e9, files: 1e6 }) };
    },
  ],
];

for (const [name, factory] of backends) {
  describe(`storage contract: ${name}`, () => {
    for (const c of storageContract(factory)) it(c.name, c.run);
  });
}
