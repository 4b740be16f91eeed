/**
 * The `s3` block of the config file: s3.secretAccessKeyFile is relative to the config file's directory
 * (like every path in the file), not to the working directory, and the key is read from there.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { openS3Root } from '../../src/config/s3-root.js';
import { configFile, removeTempDirs } from './cli.js';

afterAll(async () => {
  await removeTempDirs();
});

describe('s3 options in the config file', () => {
  it('secretAccessKeyFile is resolved against the config file directory, and read from there', async () => {
    const { dir, file } = await configFile(['root: s3://bucket/prefix', 's3:', '  endpoint: http://127.0.0.1:9', '  accessKeyId: AKID', '  secretAccessKeyFile: s3-secret', ''].join('\n'));
    await writeFile(join(dir, 'etc', 's3-secret'), 'the-secret\n');
    const config = await loadConfig({ config: file }, { env: {}, cwd: dir }); // cwd is not the file's directory
    expect(config.s3?.secretAccessKeyFile).toBe(join(dir, 'etc', 's3-secret'));
    const storage = openS3Root(config.root, config.s3);
    try {
      const credentials = await storage.client.config.credentials();
      expect(credentials).toMatchObject({ accessKeyId: 'AKID', secretAccessKey: 'the-secret' });
    } finally {
      storage.client.destroy();
    }
  });
});
