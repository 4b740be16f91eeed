/**
 * Storage shapes for tests: a backend cut down to the required methods, to see what the server does
 * when an optional capability is missing.
 */
import type { Storage } from '../../src/storage/storage.js';

/** A Storage with only the required methods of `backend`, none of its optional capabilities. */
export function requiredOnly(backend: Storage): Storage {
  return {
    stat: (p) => backend.stat(p),
    list: (p) => backend.list(p),
    read: (p, o) => backend.read(p, o),
    write: (p, o) => backend.write(p, o),
    mkdir: (p) => backend.mkdir(p),
    rmdir: (p) => backend.rmdir(p),
    remove: (p) => backend.remove(p),
    rename: (a, b) => backend.rename(a, b),
  };
}
