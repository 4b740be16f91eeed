/**
 * The HTTP auth hook against a real HTTP server of the test on loopback: the request it gets, a 200 that
 * logs in (basic-ftp and curl), 401/403 refused (and counted toward bans), and everything else 421 with a
 * fixed text: a hook that hangs (timeout), 500, bad JSON, an oversized answer. Passwords and the URL's
 * credentials never reach the log.
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthHookAuthenticator, MAX_HOOK_BODY } from '../../src/auth/auth-hook.js';
import { AuthenticatorChain } from '../../src/auth/chain.js';
import { DirectoryAccounts } from '../../src/auth/directory-account.js';
import { UserAuthenticator } from '../../src/auth/users.js';
import { captureLog } from '../helpers/log-capture.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { removeTempDirs, tempDir } from '../helpers/temp-dirs.js';
import { BANNED, clientFrom, receiveAll } from '../hardening/abuse-helpers.js';
import { curl } from './clients.js';

interface Seen {
  method: string | undefined;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

/** The hook: answers by the name it is asked about. */
function hook(seen: Seen[], hanging: ServerResponse[]) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const body = JSON.parse(text) as { name: string; password: string };
    seen.push({ method: req.method, authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
    const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    switch (body.name) {
      case 'hank':
        if (body.password === 'hook-pw') json(200, { home: '/hooked/hank', readOnly: false, quotaBytes: 1000 });
        else res.writeHead(401).end();
        return;
      case 'reader':
        json(200, { home: 'hooked/reader', readOnly: true });
        return;
      case 'forbidden':
        res.writeHead(403).end();
        return;
      case 'hang':
        hanging.push(res); // never answered
        return;
      case 'boom':
        res.writeHead(500).end('{"home":"x"}');
        return;
      case 'junk':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{not json');
        return;
      case 'wrongshape':
        json(200, { home: 42 });
        return;
      case 'huge':
        json(200, { home: 'huge', pad: 'x'.repeat(MAX_HOOK_BODY * 4) });
        return;
      case 'escape':
        json(200, { home: '../../../etc' });
        return;
      default:
        res.writeHead(401).end();
    }
  };
}

let nextAddress = 0;
async function passReply(t: TestServer, name: string, password: string, from = `127.0.40.${++nextAddress}`): Promise<string> {
  const c = await clientFrom(t.port, from);
  try {
    await c.expectCmd(`USER ${name}`, 331);
    c.send(`PASS ${password}`);
    return (await c.reply()).text;
  } finally {
    c.close();
  }
}

describe('HTTP auth hook', () => {
  const seen: Seen[] = [];
  const hanging: ServerResponse[] = [];
  const log = captureLog('debug');
  let http: Server;
  let root: string;
  let t: TestServer;

  beforeAll(async () => {
    http = createServer(hook(seen, hanging));
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const url = `http://hookuser:url-secret@127.0.0.1:${(http.address() as AddressInfo).port}/ftp/login`;
    root = await tempDir();
    const users = new UserAuthenticator([{ name: 'local', password: { plain: 'local-pw' }, home: root }]);
    const hookAuth = new AuthHookAuthenticator({ url, timeoutMs: 500 }, new DirectoryAccounts(root, users.homes), log.logger);
    t = await startServer({ authenticator: new AuthenticatorChain(users, [hookAuth], log.logger), logger: log.logger, security: { ban: { failures: 3 } } });
  });

  afterAll(async () => {
    for (const r of hanging) r.destroy();
    await t?.close();
    http?.closeAllConnections();
    http?.close();
    await removeTempDirs();
  });

  it('POSTs {name, password, address, certificate: null, protocol: "ftp"} with the URL credentials as Basic; a 200 logs in (basic-ftp)', async () => {
    const client = new Client(15_000);
    try {
      await client.access({ host: '127.0.0.1', port: t.port, user: 'hank', password: 'hook-pw', secure: true, secureOptions: { rejectUnauthorized: false } });
      await client.uploadFrom(Readable.from(['hooked\n']), 'note.txt');
      // quotaBytes 1000: more is refused.
      await expect(client.uploadFrom(Readable.from([Buffer.alloc(2000)]), 'big.bin')).rejects.toThrow(/552/);
    } finally {
      client.close();
    }
    expect(await readFile(join(root, 'hooked/hank/note.txt'), 'utf8')).toBe('hooked\n');
    expect(seen.at(-1)).toEqual({
      method: 'POST',
      authorization: 'Basic ' + Buffer.from('hookuser:url-secret').toString('base64'),
      contentType: 'application/json',
      body: { name: 'hank', password: 'hook-pw', address: '127.0.0.1', certificate: null, protocol: 'ftp' },
    });
  });

  it('readOnly from the hook (curl downloads, cannot upload); config users are not sent to the hook', async () => {
    const before = seen.length;
    const url = `ftp://127.0.0.1:${t.port}`;
    const list = await curl(['--ssl-reqd', '--insecure', '--user', 'reader:any', `${url}/`]);
    expect(list.code, list.stderr).toBe(0);
    const put = await curl(['--ssl-reqd', '--insecure', '--user', 'reader:any', '-T', '/dev/null', `${url}/x.txt`]);
    expect(put.code).not.toBe(0);
    const local = await curl(['--ssl-reqd', '--insecure', '--user', 'local:local-pw', `${url}/`]);
    expect(local.code, local.stderr).toBe(0);
    expect(seen.slice(before).map((s) => (s.body as { name: string }).name)).toEqual(['reader', 'reader']);
  });

  it('401 and 403 are 530, and count toward a ban', async () => {
    expect(await passReply(t, 'hank', 'wrong')).toBe('530 Login incorrect.');
    expect(await passReply(t, 'forbidden', 'x')).toBe('530 Login incorrect.');
    for (let i = 0; i < 3; i++) expect(await passReply(t, 'hank', 'wrong', '127.0.41.1')).toBe('530 Login incorrect.');
    expect((await receiveAll(t.port, '127.0.41.1')).text).toBe(BANNED);
  });

  it('a hook that hangs, a 500, bad JSON, the wrong shape or an oversized answer: 421 with a fixed text, logged, no ban', async () => {
    const from = '127.0.42.1';
    for (const name of ['hang', 'boom', 'junk', 'wrongshape', 'huge', 'hang']) {
      expect(await passReply(t, name, 'pw', from), name).toBe('421 Login service unavailable, try again later.');
    }
    const reasons = log.find('login refused: authentication service unavailable').map((l) => String(l.reason));
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/no answer within 500 ms$/),
        expect.stringMatching(/answered 500$/),
        expect.stringMatching(/answer is not JSON/),
        expect.stringMatching(/longer than 65536 bytes/),
      ]),
    );
    expect(reasons.every((r) => r.startsWith(`auth hook http://127.0.0.1:${(http.address() as AddressInfo).port}/ftp/login: `))).toBe(true);
    expect(await passReply(t, 'hank', 'hook-pw', from)).toBe('230 Login successful.');
  });

  it('a home outside the served root is refused (530)', async () => {
    expect(await passReply(t, 'escape', 'x')).toBe('530 Login incorrect.');
    expect(log.find('auth hook login refused: home refused').map((l) => l.user)).toEqual(['escape']);
  });

  it('passwords and the URL credentials never reach the log', () => {
    const text = log.text();
    expect(text).toContain('auth hook');
    for (const secret of ['url-secret', 'hook-pw', 'local-pw', 'hookuser']) expect(text).not.toContain(secret);
  });
});
