/**
 * A directory's entries from ListObjectsV2 with a delimiter, page by page (1000 keys a page): a
 * directory of a million objects lists with the memory of one page. Keys are files, common prefixes
 * directories (with or without a marker); the directory's own marker and empty names are skipped.
 */
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { FileStat } from '../storage.js';
import { s3Call } from './errors.js';

export interface ListPage {
  files: FileStat[];
  dirs: FileStat[];
  /** Whether the page showed the directory exists (any key below it, its marker included). */
  seen: boolean;
}

/** The pages of the directory `dirPrefix` ('' or ending in '/'); `hidden` names are left out. */
export async function* listPages(client: S3Client, bucket: string, dirPrefix: string, hidden: ReadonlySet<string> = new Set()): AsyncGenerator<ListPage> {
  let token: string | undefined;
  const now = new Date();
  do {
    const page = await s3Call('list', () =>
      client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: dirPrefix, Delimiter: '/', ContinuationToken: token })),
    );
    const files: FileStat[] = [];
    const dirs: FileStat[] = [];
    let seen = false;
    for (const o of page.Contents ?? []) {
      seen = true;
      const name = (o.Key ?? '').slice(dirPrefix.length);
      if (name === '' || hidden.has(name)) continue;
      files.push({ name, type: 'file', size: o.Size ?? 0, mtime: o.LastModified ?? now });
    }
    for (const p of page.CommonPrefixes ?? []) {
      seen = true;
      const name = (p.Prefix ?? '').slice(dirPrefix.length, -1);
      if (name === '' || hidden.has(name)) continue;
      dirs.push({ name, type: 'dir', size: 0, mtime: now });
    }
    yield { files, dirs, seen };
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}
