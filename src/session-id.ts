/**
 * Session ids, as they appear in logs, events and `server.sessions`.
 */
import { randomFillSync } from 'node:crypto';

/**
 * Session ids: 8 base64url characters from 6 random bytes, cut from a pool filled 512 ids at a time
 * (one randomFillSync per id costs more than the rest of an id's making).
 */
const ID_BYTES = 6;
const idPool = Buffer.alloc(ID_BYTES * 512);
let idPos = idPool.length;
export function sessionId(): string {
  if (idPos === idPool.length) {
    randomFillSync(idPool);
    idPos = 0;
  }
  idPos += ID_BYTES;
  return idPool.toString('base64url', idPos - ID_BYTES, idPos);
}
