/**
 * TYPE A transfers: LF to CRLF on RETR, CRLF to LF on STOR, CRs split across reads and packets.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { download, loggedIn, upload } from '../helpers/flows.js';
import { onDisk, t, useTransferServer } from './transfer-fixture.js';

describe('TYPE A transfers', () => {
  useTransferServer();

  it('TYPE A: RETR turns LF into CRLF and leaves CRLF alone', async () => {
    await writeFile(join(t.root, 'unix.txt'), 'line 1\nline 2\r\nline 3\n\nend');
    const c = await loggedIn(t);
    await c.expectCmd('TYPE A', 200, /^200 Switching to ASCII mode\.$/);
    const got = await download(c, 'RETR unix.txt', { opening: /^150 Opening ASCII mode data connection for unix\.txt\.$/ });
    expect(got.toString()).toBe('line 1\r\nline 2\r\nline 3\r\n\r\nend');
    c.close();
  });

  it('TYPE A: RETR with a CRLF split across read chunks (256 KiB) does not double the CR', async () => {
    const chunk = 256 * 1024;
    const text = Buffer.alloc(chunk + 10, 0x78);
    text[chunk - 1] = 0x0d; // CR ends the first read
    text[chunk] = 0x0a; // LF starts the second
    text[chunk + 5] = 0x0a; // a bare LF
    await writeFile(join(t.root, 'boundary.txt'), text);
    const c = await loggedIn(t);
    const got = await download(c, 'RETR boundary.txt');
    const expected = Buffer.concat([text.subarray(0, chunk + 5), Buffer.from([0x0d]), text.subarray(chunk + 5)]);
    expect(got.length).toBe(expected.length);
    expect(got.equals(expected)).toBe(true);
    c.close();
  });

  it('TYPE A: STOR turns CRLF into LF, also when CR and LF arrive in different packets', async () => {
    const c = await loggedIn(t);
    const data = await c.epsv();
    data.setNoDelay(true);
    c.send('STOR dos.txt');
    await c.expect(150);
    data.write('a\r\nb\r');
    await sleep(30);
    data.write('\nc\rd\r');
    await sleep(30);
    data.end('\r\n');
    await c.expect(226);
    // CRLF -> LF; a lone CR stays; a CR before another CR stays.
    expect((await onDisk('dos.txt')).toString()).toBe('a\nb\nc\rd\r\n');
    c.close();
  });

  it('TYPE A: a trailing CR at the very end of an upload is kept', async () => {
    const c = await loggedIn(t);
    await upload(c, 'STOR cr.txt', 'x\r\ny\r');
    expect((await onDisk('cr.txt')).toString()).toBe('x\ny\r');
    c.close();
  });

  it('TYPE A round trip: STOR then RETR gives back the network form', async () => {
    const c = await loggedIn(t);
    await upload(c, 'STOR round.txt', 'alpha\r\nbeta\r\n');
    expect((await onDisk('round.txt')).toString()).toBe('alpha\nbeta\n');
    expect((await download(c, 'RETR round.txt')).toString()).toBe('alpha\r\nbeta\r\n');
    await c.expectCmd('TYPE I', 200);
    expect((await download(c, 'RETR round.txt')).toString()).toBe('alpha\nbeta\n');
    c.close();
  });
});
