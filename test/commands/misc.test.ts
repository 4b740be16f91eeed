/**
 * FEAT HELP SYST NOOP OPTS CLNT (RFC 959, RFC 2389, RFC 2640) and the transfer parameters TYPE MODE
 * STRU ALLO.
 */
import { describe, expect, it } from 'vitest';
import { loggedIn } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { usingServer } from '../helpers/server.js';
import { requiredOnly } from '../helpers/storage.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { serverForBlock } from '../helpers/block-server.js';

describe('informational commands', () => {
  const t = serverForBlock();

  it('FEAT lists every extension, one per line, between 211- and 211 End', async () => {
    const c = await RawClient.connect(t.port);
    const r = await c.expectCmd('FEAT', 211);
    expect(r.lines[0]).toBe('211-Features:');
    expect(r.lines[r.lines.length - 1]).toBe('211 End');
    const features = r.lines.slice(1, -1);
    expect(features).toEqual([
      ' AUTH TLS',
      ' AVBL',
      ' CCC',
      ' EPRT',
      ' EPSV',
      ' HASH SHA-256*;SHA-1;MD5;CRC32',
      ' HOST',
      ' MDTM',
      ' MFMT',
      ' MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;',
      ' PBSZ',
      ' PROT',
      ' RANG STREAM',
      ' REST STREAM',
      ' SIZE',
      ' TVFS',
      ' UTF8',
    ]);
    c.close();
  });

  it('FEAT follows OPTS HASH', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('OPTS HASH CRC32', 200, /^200 CRC32$/);
    const r = await c.expectCmd('FEAT', 211);
    expect(r.lines).toContain(' HASH SHA-256;SHA-1;MD5;CRC32*');
    c.close();
  });

  it('FEAT leaves out MFMT when the storage cannot set times', async () => {
    const memory = new MemoryStorage({});
    const noSetTime = requiredOnly(memory);
    await usingServer({ storage: noSetTime }, async (t2) => {
      const c = await loggedIn(t2);
      const r = await c.expectCmd('FEAT', 211);
      expect(r.lines).not.toContain(' MFMT');
      await c.expectCmd('MFMT 20200101000000 x', 502, /^502 Command not implemented\.$/);
      await c.expectCmd('SITE CHMOD 600 x', 504, /^504 Unknown SITE command CHMOD\.$/);
      const help = await c.expectCmd('HELP', 214);
      expect(help.text).not.toMatch(/MFMT/);
      c.close();
    });
  });

  it('HELP lists the commands (214), HELP CMD gives its syntax', async () => {
    const c = await RawClient.connect(t.port);
    const r = await c.expectCmd('HELP', 214);
    expect(r.lines[0]).toBe('214-The following commands are recognized:');
    expect(r.lines[r.lines.length - 1]).toBe('214 Help OK.');
    const verbs = r.lines.slice(1, -1).join(' ').split(/\s+/).filter(Boolean);
    for (const v of [
      'ABOR', 'ACCT', 'ALLO', 'APPE', 'AUTH', 'CCC', 'CDUP', 'CLNT', 'CWD', 'DELE', 'EPRT', 'EPSV', 'FEAT', 'HASH', 'HELP', 'HOST',
      'LIST', 'MDTM', 'MFMT', 'MKD', 'MLSD', 'MLST', 'MODE', 'NLST', 'NOOP', 'OPTS', 'PASS', 'PASV', 'PBSZ', 'PORT', 'PROT', 'PWD',
      'QUIT', 'RANG', 'REIN', 'REST', 'RETR', 'RMD', 'RNFR', 'RNTO', 'SITE', 'SIZE', 'STAT', 'STOR', 'STOU', 'STRU', 'SYST', 'TYPE',
      'USER', 'XCUP', 'XCWD', 'XMKD', 'XPWD', 'XRMD',
    ]) {
      expect(verbs).toContain(v);
    }
    expect([...verbs].sort()).toEqual(verbs);
    await c.expectCmd('HELP retr', 214, /^214 Syntax: RETR <sp> pathname$/);
    await c.expectCmd('HELP XMKD', 214, /^214 Syntax: MKD <sp> pathname$/);
    await c.expectCmd('HELP FROB', 502, /^502 Unknown command FROB\.$/);
    c.close();
  });

  it('SYST: 215 UNIX Type: L8', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('SYST', 215, /^215 UNIX Type: L8$/);
    c.close();
  });

  it('NOOP: 200', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('NOOP', 200, /^200 NOOP ok\.$/);
    c.close();
  });

  it('CLNT: 200', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('CLNT FileZilla 3.66', 200, /^200 Noted\.$/);
    await c.expectCmd('CLNT', 200);
    c.close();
  });

  it('OPTS UTF8 ON: 200; OFF: 504; unknown options: 501', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('OPTS UTF8 ON', 200, /^200 Always in UTF8 mode\.$/);
    await c.expectCmd('OPTS utf8 on', 200, /^200 Always in UTF8 mode\.$/);
    await c.expectCmd('OPTS UTF8', 200);
    await c.expectCmd('OPTS UTF-8 ON', 200);
    await c.expectCmd('OPTS UTF8 OFF', 504, /^504 UTF8 cannot be turned off\.$/);
    await c.expectCmd('OPTS FROB 1', 501, /^501 Option not understood\.$/);
    await c.expectCmd('OPTS', 501);
    c.close();
  });

  it('OPTS HASH: shows and selects the algorithm; unknown ones are 501', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('OPTS HASH', 200, /^200 SHA-256$/);
    await c.expectCmd('OPTS HASH sha-1', 200, /^200 SHA-1$/);
    await c.expectCmd('OPTS HASH', 200, /^200 SHA-1$/);
    await c.expectCmd('OPTS HASH MD5', 200, /^200 MD5$/);
    await c.expectCmd('OPTS HASH CRC64', 501, /^501 Unknown hash algorithm\.$/);
    await c.expectCmd('OPTS HASH', 200, /^200 MD5$/);
    c.close();
  });
});

describe('transfer parameters', () => {
  const t = serverForBlock({ storage: new MemoryStorage({}) });

  it('TYPE: A and I (and L 8, A N) accepted; E, A T, L 16 are 504; junk is 501', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('TYPE I', 200, /^200 Switching to Binary mode\.$/);
    await c.expectCmd('TYPE A', 200, /^200 Switching to ASCII mode\.$/);
    await c.expectCmd('type i', 200, /^200 Switching to Binary mode\.$/);
    await c.expectCmd('TYPE A N', 200, /^200 Switching to ASCII mode\.$/);
    await c.expectCmd('TYPE L 8', 200, /^200 Switching to Binary mode\.$/);
    await c.expectCmd('STAT', 211, /TYPE: BINARY/);
    await c.expectCmd('TYPE E', 504, /^504 Type not supported\.$/);
    await c.expectCmd('TYPE A T', 504);
    await c.expectCmd('TYPE L 16', 504);
    await c.expectCmd('TYPE X', 501, /^501 Syntax: TYPE A\|I$/);
    await c.expectCmd('TYPE I I I', 501);
    // Refused values leave the type as it was.
    await c.expectCmd('STAT', 211, /TYPE: BINARY/);
    c.close();
  });

  it('MODE S (200); B, C, Z are 504; junk 501', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('MODE S', 200, /^200 Mode set to S\.$/);
    await c.expectCmd('mode s', 200);
    await c.expectCmd('MODE B', 504, /^504 Only MODE S is supported\.$/);
    await c.expectCmd('MODE C', 504);
    await c.expectCmd('MODE Z', 504);
    await c.expectCmd('MODE Q', 501, /^501 Syntax: MODE S$/);
    c.close();
  });

  it('STRU F (200); R and P are 504; junk 501', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('STRU F', 200, /^200 Structure set to F\.$/);
    await c.expectCmd('STRU R', 504, /^504 Only STRU F is supported\.$/);
    await c.expectCmd('STRU P', 504);
    await c.expectCmd('STRU X', 501, /^501 Syntax: STRU F$/);
    c.close();
  });

  it('ALLO: 202; a malformed size is 501', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('ALLO 1000', 202, /^202 No storage allocation necessary\.$/);
    await c.expectCmd('ALLO 1000 R 10', 202);
    await c.expectCmd('ALLO lots', 501, /^501 Syntax: ALLO size$/);
    c.close();
  });

  it('ALLO beyond the free space of the disk: 452', async () => {
    await usingServer({}, async (t2) => {
      const c = await loggedIn(t2);
      await c.expectCmd('ALLO 999999999999999999', 452, /^452 Insufficient storage space\.$/);
      await c.expectCmd('ALLO 1', 202);
      c.close();
    });
  });
});
