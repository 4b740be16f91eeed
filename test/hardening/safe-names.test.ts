/**
 * Names on disk with control characters (CR, LF, C0, C1, line separators) cannot add lines to listings
 * or replies: LIST, NLST, MLSD, STAT and MLST show them with `?`, and the session goes on.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { base, c, makeTree, root, serve, t } from './path-tree.js';
import { tryDownload } from './transfer-helpers.js';

describe('names with control characters cannot inject lines', () => {
  const EVIL = ['evil\r\n226 Transfer complete.', 'a\nb', 'bell\x07tab\tesc\x1b[31m', 'nel\u0085ls\u2028ps\u2029', 'c1\u009b2J'];
  beforeEach(async () => {
    await makeTree();
    for (const name of EVIL) await fs.writeFile(join(root, name), 'x');
    await fs.mkdir(join(root, 'dir\r\nwith lf'));
    await serve(root);
  });
  afterEach(async () => {
    c.close();
    await t.close();
    await fs.rm(base, { recursive: true, force: true });
  });

  const clean = (s: string) => !/[\x00-\x1f\x7f-\x9f\u2028\u2029]/.test(s.replace(/\r\n/g, ''));

  it('LIST, NLST and MLSD: one line per entry, control characters shown as ?', async () => {
    const entries = (await fs.readdir(root)).length - 2; // the links leading out are hidden
    for (const cmd of ['LIST', 'NLST', 'MLSD']) {
      const { reply, data } = await tryDownload(c, cmd);
      expect(reply.code).toBe(226);
      const text = data.toString();
      expect(clean(text), `${cmd} has no bare control characters`).toBe(true);
      const lines = text.split('\r\n').slice(0, -1);
      expect(lines, cmd).toHaveLength(entries);
      expect(lines.some((l) => l.endsWith('evil??226 Transfer complete.')), cmd).toBe(true);
      expect(lines.some((l) => l.endsWith('dir??with lf')), cmd).toBe(true);
      expect(lines.some((l) => l.endsWith('bell?tab?esc?[31m')), cmd).toBe(true);
      expect(lines.some((l) => l.endsWith('nel?ls?ps?')), cmd).toBe(true);
    }
  });

  it('STAT and MLST replies stay one reply with safe lines; the session goes on', async () => {
    const stat = await c.cmd('STAT .');
    expect(stat.code).toBe(213);
    expect(stat.lines.every((l) => clean(l))).toBe(true);
    expect(stat.lines.some((l) => /evil\?\?226 Transfer complete\.$/.test(l))).toBe(true);
    // a client can still name such an entry with the bytes it may send (no CR/LF), e.g. with a tab
    const mlst = await c.cmd('MLST bell\x07tab\tesc\x1b[31m');
    expect(mlst.code).toBe(250);
    expect(mlst.lines.every((l) => clean(l))).toBe(true);
    await c.expectCmd('NOOP', 200);
    await c.expectCmd('CWD dir\r\nwith lf'.replace('\r\n', '??'), 550); // the shown name is not the real one
  });
});
