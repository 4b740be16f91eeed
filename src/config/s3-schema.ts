/**
 * Config schema of the S3 backend: the `s3:` block, used when `root` is `s3://BUCKET[/PREFIX]`
 * (docs/object-storage.md). Endpoint, region and credentials may also come from the standard AWS_*
 * variables and the SDK's other sources; this block wins over them. File and createServer only (no env
 * var or flag of its own). Kept apart from schema.ts, which spreads it in.
 */
import { z } from 'zod';
import { text } from './zod-forms.js';

const s3Shape = {
  endpoint: text('a URL').describe('The S3 endpoint (e.g. http://127.0.0.1:9000). Default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS.'),
  region: text('a region name').describe('The region. Default: AWS_REGION, else us-east-1.'),
  forcePathStyle: z.boolean({ error: 'must be true or false' }).describe('Path-style addressing. Default: true with a custom endpoint.'),
  accessKeyId: text('an access key id').describe('Access key id. Default: the SDK credential chain (AWS_ACCESS_KEY_ID, profiles, roles).'),
  secretAccessKeyFile: text('a file path').describe('File holding the secret access key (with accessKeyId); in the config file, relative to its directory.'),
  partSizeMiB: z.int({ error: 'must be a whole number of MiB' }).min(5, 'must be >= 5 (S3 minimum)').max(5120, 'must be <= 5120').describe('Upload part size in MiB. Default: 8.'),
  queueSize: z.int({ error: 'must be a whole number' }).min(1, 'must be >= 1').max(64, 'must be <= 64').describe('Parts of one upload sent in parallel. Default: 4.'),
  storageClass: text('a storage class').describe('Storage class of new objects. Default: the bucket default.'),
  serverSideEncryption: text('AES256 or aws:kms').describe('Server-side encryption of new objects. Default: the bucket default.'),
  maxRenameObjects: z.int({ error: 'must be a whole number' }).min(1, 'must be >= 1').describe('A directory rename copies at most this many objects. Default: 1000.'),
};

export const s3Schema = z.strictObject(s3Shape, { error: 'must be a mapping of S3 settings' }).partial();

export type S3Config = z.infer<typeof s3Schema>;

export const s3SchemaShape = {
  s3: s3Schema.optional().describe('The S3 backend, when root is s3://BUCKET[/PREFIX].').meta({ reload: 'live' }), // as root: a reload builds the users' storages anew
};
