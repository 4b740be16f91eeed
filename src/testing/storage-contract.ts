/**
 * The storage contract: what every `Storage` backend must do, as a list of named async test cases that
 * use only `node:assert/strict`, so any test runner can run them (vitest, node:test, mocha):
 *
 * ```ts
 * for (const c of storageContract(async () => ({ storage: new MyStorage(), cleanup: async () => {} }))) {
 *   it(c.name, c.run);
 * }
 * ```
 *
 * Each case calls `factory` for a fresh, empty storage and calls its `cleanup` afterwards. Optional
 * capabilities (setTime, chmod, freeSpace, checksum, symlink) are checked only when the backend has them; `offset`
 * writes may be refused with ENOTSUP. Errors must carry a POSIX name, as `StorageError.errno` or as the
 * `code` of a Node fs error, that the protocol layer maps to a reply.
 */
import type { Storage } from '../storage/storage.js';
import { capabilityCases } from './contract-capabilities.js';
import type { DefineCase } from './contract-helpers.js';
import { readCases } from './contract-read.js';
import { treeCases } from './contract-tree.js';
import { writeCases } from './contract-write.js';

export { errnoOf } from './contract-helpers.js';

export interface StorageFixture {
  /** A fresh, empty storage. */
  storage: Storage;
  cleanup?: () => Promise<void>;
}

export interface StorageContractCase {
  name: string;
  run: () => Promise<void>;
}

/** The contract as named cases; each case gets its own storage from `factory`. */
export function storageContract(factory: () => Promise<StorageFixture>): StorageContractCase[] {
  const cases: StorageContractCase[] = [];
  const test: DefineCase = (name, body) => {
    cases.push({
      name,
      run: async () => {
        const fixture = await factory();
        try {
          await body(fixture.storage);
        } finally {
          await fixture.cleanup?.();
        }
      },
    });
  };
  for (const group of [readCases, writeCases, treeCases, capabilityCases]) group(test);
  return cases;
}
