/**
 * One test server for a describe block: `const t = serverForBlock(options)` in the block; `t` is filled in
 * before the block's tests run and closed after them.
 */
import { afterAll, beforeAll } from 'vitest';
import { startServer, type TestServer, type TestServerOptions } from './server.js';

export function serverForBlock(options: TestServerOptions = {}): TestServer {
  const t = {} as TestServer;
  beforeAll(async () => {
    Object.assign(t, await startServer(options));
  });
  afterAll(() => t.close());
  return t;
}
