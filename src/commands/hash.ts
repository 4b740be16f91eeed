/**
 * HASH (draft-bryan-ftpext-hash): the checksum of a file, or of the byte range set by REST or RANG,
 * with the algorithm chosen by OPTS HASH. A backend's own `checksum` is used when it has one.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { FtpError } from '../protocol/errors.js';
import { reply } from '../protocol/reply.js';
import type { HashAlgorithm, Storage } from '../storage/storage.js';
import { formatPath, type VirtualPath } from '../storage/virtual-path.js';
import { defineCommand } from './define.js';
import { takeRange } from './range.js';

export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ['SHA-256', 'SHA-1', 'MD5', 'CRC32'];

const NODE_NAMES: Record<Exclude<HashAlgorithm, 'CRC32'>, string> = { 'SHA-256': 'sha256', 'SHA-1': 'sha1', MD5: 'md5' };

/** Hashes bytes [start, end) of a file by reading it. */
export async function hashFile(storage: Storage, path: VirtualPath, algorithm: HashAlgorithm, start: number, end: number): Promise<string> {
  const stream = await storage.read(path, { start });
  let left = end - start;
  let crc = 0;
  const hash = algorithm === 'CRC32' ? undefined : createHash(NODE_NAMES[algorithm]);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (left <= 0) break;
      const part = chunk.length <= left ? chunk : chunk.subarray(0, left);
      left -= part.length;
      if (hash) hash.update(part);
      else crc = crc32(part, crc);
    }
  } finally {
    stream.destroy();
  }
  return hash ? hash.digest('hex') : crc.toString(16).padStart(8, '0');
}

export const HASH = defineCommand({
  name: 'HASH',
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'read',
  feat: (ctx) => 'HASH ' + HASH_ALGORITHMS.map((a) => (a === ctx.session.hashAlgorithm ? `${a}*` : a)).join(';'),
  help: 'HASH <sp> pathname',
  async handle(ctx, _arg, path) {
    const range = takeRange(ctx);
    const st = await ctx.storage.stat(path);
    if (st.type !== 'file') throw new FtpError(550, 'Not a regular file.');
    const start = Math.min(range.start, st.size);
    const end = Math.min(range.end ?? st.size, st.size);
    const algorithm = ctx.session.hashAlgorithm;
    const digest = ctx.storage.checksum
      ? await ctx.storage.checksum(path, algorithm, start, end)
      : await hashFile(ctx.storage, path, algorithm, start, end);
    return reply(213, `${algorithm} ${start}-${end} ${digest} ${formatPath(path)}`);
  },
});
