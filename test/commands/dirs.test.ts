/**
 * CWD CDUP PWD MKD RMD and their X- aliases (RFC 959, RFC 775).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggedIn } from '../helpers/flows.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('directories', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
    await mkdir(join(t.root, 'a', 'b'), { recursive: true });
    await writeFile(join(t.root, 'a', 'file.txt'), 'x');
  });
  afterAll(() => t.close());

  it('PWD starts at /', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('PWD', 257, /^257 "\/" is the current directory\.$/);
    c.close();
  });

  it('CWD relative and absolute, CDUP, and the X- aliases', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('CWD a', 250, /^250 Directory successfully changed\.$/);
    await c.expectCmd('PWD', 257, /^257 "\/a" is the current directory\.$/);
    await c.expectCmd('XCWD b', 250);
    await c.expectCmd('XPWD', 257, /^257 "\/a\/b" is the current directory\.$/);
    await c.expectCmd('CDUP', 250, /^250 Directory successfully changed\.$/);
    await c.expectCmd('PWD', 257, /^257 "\/a" is the current directory\.$/);
    await c.expectCmd('XCUP', 250);
    await c.expectCmd('PWD', 257, /^257 "\/" is the current directory\.$/);
    await c.expectCmd('CDUP', 250);
    await c.expectCmd('PWD', 257, /^257 "\/" is the current directory\.$/);
    await c.expectCmd('CWD /a/b/', 250);
    await c.expectCmd('PWD', 257, /^257 "\/a\/b" is the current directory\.$/);
    await c.expectCmd('CWD ../..', 250);
    await c.expectCmd('PWD', 257, /^257 "\/" is the current directory\.$/);
    await c.expectCmd('CWD ./a/./b/..', 250);
    await c.expectCmd('PWD', 257, /^257 "\/a" is the current directory\.$/);
    c.close();
  });

  it('TVFS (RFC 3659): announced, and every path argument is a /-separated path from the root', async () => {
    const c = await loggedIn(t);
    const feat = await c.expectCmd('FEAT', 211);
    expect(feat.lines).toContain(' TVFS');
    await c.expectCmd('TYPE I', 200);
    await c.expectCmd('CWD /a/b', 250);
    // Absolute paths name the same file from anywhere; relative ones start at the current directory.
    await c.expectCmd('SIZE /a/file.txt', 213, /^213 1$/);
    await c.expectCmd('SIZE ../file.txt', 213, /^213 1$/);
    await c.expectCmd('SIZE //a///./file.txt', 213, /^213 1$/);
    // The root is the top: .. never leaves it, and a backslash is part of a name, not a separator.
    await c.expectCmd('CWD /../../a', 250);
    await c.expectCmd('PWD', 257, /^257 "\/a" is the current directory\.$/);
    await c.expectCmd('SIZE \\a\\file.txt', 550);
    c.close();
  });

  it('CWD to a missing directory or a file: 550, the directory does not change', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('CWD a', 250);
    await c.expectCmd('CWD nothere', 550, /^550 No such file or directory\.$/);
    await c.expectCmd('CWD file.txt', 550, /^550 Not a directory\.$/);
    await c.expectCmd('CWD file.txt/deeper', 550);
    await c.expectCmd('PWD', 257, /^257 "\/a" is the current directory\.$/);
    c.close();
  });

  it('MKD creates (257 with the quoted path), relative to the current directory', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('MKD made', 257, /^257 "\/made" created\.$/);
    expect(existsSync(join(t.root, 'made'))).toBe(true);
    await c.expectCmd('CWD made', 250);
    await c.expectCmd('XMKD inner', 257, /^257 "\/made\/inner" created\.$/);
    expect(existsSync(join(t.root, 'made', 'inner'))).toBe(true);
    await c.expectCmd('MKD /made/abs', 257, /^257 "\/made\/abs" created\.$/);
    c.close();
  });

  it('MKD of an existing name, in a missing parent, or of / : 550', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('MKD a', 550, /^550 File exists\.$/);
    await c.expectCmd('MKD a/file.txt', 550, /^550 File exists\.$/);
    await c.expectCmd('MKD missing/child', 550, /^550 No such file or directory\.$/);
    await c.expectCmd('MKD /', 550, /^550 File exists\.$/);
    expect(existsSync(join(t.root, 'missing'))).toBe(false);
    c.close();
  });

  it('RMD removes an empty directory (250); not a non-empty one, a file, or /', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('MKD gone', 257);
    await c.expectCmd('MKD gone2', 257);
    await c.expectCmd('RMD gone', 250, /^250 Directory removed\.$/);
    await c.expectCmd('XRMD gone2', 250, /^250 Directory removed\.$/);
    expect(existsSync(join(t.root, 'gone'))).toBe(false);
    expect(existsSync(join(t.root, 'gone2'))).toBe(false);
    await c.expectCmd('RMD a', 550, /^550 Directory not empty\.$/);
    await c.expectCmd('RMD a/file.txt', 550, /^550 Not a directory\.$/);
    await c.expectCmd('RMD nothere', 550, /^550 No such file or directory\.$/);
    await c.expectCmd('RMD /', 550, /^550 Permission denied\.$/);
    await c.expectCmd('RMD ..', 550, /^550 Permission denied\.$/);
    expect(existsSync(join(t.root, 'a', 'file.txt'))).toBe(true);
    c.close();
  });
});
