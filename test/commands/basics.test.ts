import { describe, expect, it } from 'vitest';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { PASS, USER } from '../helpers/server.js';
import { serverForBlock } from '../helpers/block-server.js';

describe('basic session', () => {
  const t = serverForBlock();

  it('greets, logs in, lists and quits', async () => {
    const c = await RawClient.connect(t.port);
    await c.login(USER, PASS);
    await c.expectCmd('PWD', 257, /^257 "\/" is the current directory\.$/);
    await c.expectCmd('TYPE I', 200);
    const data = await c.epsv();
    await c.expectCmd('LIST', 150);
    expect((await readAll(data)).toString()).toBe('');
    await c.expect(226);
    await c.expectCmd('QUIT', 221);
    expect(await c.waitClosed()).toBe(true);
  });
});
