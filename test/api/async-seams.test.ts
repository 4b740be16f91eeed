/**
 * Async everywhere (issue 6, point 2): a slow authenticator (a database, an HTTP service) or a slow
 * storage call in one session never holds up another session; the slow one finishes normally later.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, MemoryStorage, readWrite, type Authenticator, type FtpsdServer, type Storage, type VirtualPath } from '../../src/index.js';
import { download, upload } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { portOf } from './helpers.js';

let server: FtpsdServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

async function start(authenticator: Authenticator): Promise<number> {
  server = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', authenticator });
  await server.listen();
  return portOf(server);
}

describe('slow seams do not block other sessions', () => {
  it('a login waiting on the authenticator: other sessions log in, list and transfer meanwhile', async () => {
    const slowLogin = gate();
    let asked = gate();
    let released = false;
    const files = new MemoryStorage({ 'hello.txt': 'hello' });
    const port = await start({
      async login({ user, password }) {
        if (password !== 'p') return null;
        if (user === 'slow') {
          asked.open();
          await slowLogin.opened;
        }
        return { storage: files, permissions: readWrite };
      },
    });

    const slow = await RawClient.connect(port, '127.0.0.1');
    await slow.expectCmd('USER slow', 331);
    slow.send('PASS p');
    const slowReply = slow.expect(230).then((r) => ({ r, released }));
    await asked.opened;

    const fast = await RawClient.connect(port, '127.0.0.1');
    await fast.login('fast', 'p');
    await fast.expectCmd('TYPE I', 200);
    expect((await download(fast, 'RETR hello.txt')).toString()).toBe('hello');
    await upload(fast, 'STOR new.txt', 'new');
    await fast.expectCmd('SIZE new.txt', 213, /^213 3$/);
    // A second slow login waits as well, without holding up the first one's release.
    asked = gate();
    const other = await RawClient.connect(port, '127.0.0.1');
    await other.expectCmd('USER slow', 331);
    other.send('PASS p');
    await asked.opened;
    await fast.expectCmd('NOOP', 200);

    released = true;
    slowLogin.open();
    const done = await slowReply;
    expect(done.released, 'the slow login answered only after the authenticator resolved').toBe(true);
    await other.expect(230);
    await slow.expectCmd('TYPE I', 200);
    await slow.expectCmd('SIZE new.txt', 213, /^213 3$/);
    for (const c of [slow, fast, other]) c.close();
  });

  it('a storage call that hangs in one session: another session with the same storage goes on', async () => {
    const slowStat = gate();
    let statAsked = gate();
    const memory = new MemoryStorage({ 'a.txt': 'aaa', 'slow.txt': 'zz' });
    // Only stat of slow.txt waits; everything else is the memory storage.
    const storage: Storage = Object.assign(Object.create(memory) as MemoryStorage, {
      async stat(path: VirtualPath) {
        if (path.join('/') === 'slow.txt') {
          statAsked.open();
          await slowStat.opened;
        }
        return memory.stat(path);
      },
    });
    const port = await start({ login: async ({ password }) => (password === 'p' ? { storage, permissions: readWrite } : null) });

    const stuck = await RawClient.connect(port, '127.0.0.1');
    await stuck.login('a', 'p');
    await stuck.expectCmd('TYPE I', 200);
    stuck.send('SIZE slow.txt');
    let answered = false;
    const stuckReply = stuck.expect(213, /^213 2$/).then(() => (answered = true));
    await statAsked.opened;

    const other = await RawClient.connect(port, '127.0.0.1');
    await other.login('b', 'p');
    await other.expectCmd('TYPE I', 200);
    await other.expectCmd('SIZE a.txt', 213, /^213 3$/);
    expect((await download(other, 'RETR a.txt')).toString()).toBe('aaa');
    await other.expectCmd('MKD d', 257);
    expect(answered, 'the hanging SIZE is still waiting').toBe(false);

    statAsked = gate();
    slowStat.open();
    await stuckReply;
    expect(answered).toBe(true);
    for (const c of [stuck, other]) c.close();
  });
});
