/**
 * Session ids, as they appear in logs, events and `server.sessions`. A cluster worker's ids start with
 * its number and a dot (`2.Kx9a_Q3b`), so ids are unique across the workers and the admin console knows
 * which worker holds a session.
 */
import { randomFillSync } from 'node:crypto';

/**
 * Session ids: 8 base64url characters from 6 random bytes, cut from a pool filled 512 ids at a time
 * (one randomFillSync per id costs more than the rest of an id's making).
 */
const ID_BYTES = 6;
const idPool = Buffer.alloc(ID_BYTES * 512);
let idPos = idPool.length;
let prefix = '';

/** Starts every id of this process with `value` (a cluster worker: `2.`). */
export function setSessionIdPrefix(value: string): void {
  prefix = value;
}

export function sessionId(): string {
  if (idPos === idPool.length) {
    randomFillSync(idPool);
    idPos = 0;
  }
  idPos += ID_BYTES;
  return prefix + idPool.toString('base64url', idPos - ID_BYTES, idPos);
}
