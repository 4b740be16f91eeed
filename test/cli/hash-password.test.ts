/**
 * `ftpsd hash-password` prints an argon2id hash of the password read from stdin, and a config user
 * with that hash can log in.
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verify } from '@node-rs/argon2';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, Served, assertBuilt, curl, killAll, listExplicit, loopbackArgs, removeTempDirs, run, tempDir } from './cli.js';

beforeAll(assertBuilt);
afterEach(killAll);
afterAll(removeTempDirs);

describe('ftpsd hash-password', () => {
  it('hashes the first line of stdin with argon2id', async () => {
    const r = await run(['hash-password'], { input: 'correct horse battery\nignored second line\n' });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const hash = r.stdout.trimEnd();
    expect(r.stdout).toBe(`${hash}\n`);
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$\S+\$\S+$/);
    expect(await verify(hash, 'correct horse battery')).toBe(true);
    expect(await verify(hash, 'correct horse battery\n')).toBe(false);
    expect(await verify(hash, 'wrong')).toBe(false);
  });

  it('refuses an empty password', async () => {
    const r = await run(['hash-password'], { input: '\n' });
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: 'error: password must not be empty\n' });
  });

  it('a config user with the printed hash logs in; readOnly holds', async () => {
    const dir = await tempDir();
    const hash = (await run(['hash-password'], { input: 'carol-Pw-9\r\n' })).stdout.trim();
    const config = join(dir, 'ftpsd.yaml');
    await writeFile(config, `users:\n  - name: carol\n    password: "${hash}"\n    home: carol\n    readOnly: true\n`);
    expect((await run(['check-config', config])).stdout).toBe('ok\n');

    const ftpd = await Served.start(['--config', config, ...loopbackArgs(dir)]);
    expect(ftpd.banner.user).toBe('carol (read-only)');
    expect(ftpd.banner.password).toBeUndefined();
    await writeFile(join(dir, 'root', 'carol', 'mine.txt'), 'x');
    const list = await listExplicit(ftpd.port, 'carol', 'carol-Pw-9');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/mine\.txt/);
    expect((await listExplicit(ftpd.port, 'carol', 'carol-Pw-8')).code).toBe(67);
    const upload = await curl(['--ssl-reqd', '-k', '-u', 'carol:carol-Pw-9', '-T', '-', `ftp://127.0.0.1:${ftpd.port}/up.txt`]);
    expect(upload.code).not.toBe(0);
    expect((await ftpd.stop()).code).toBe(0);
  });
});

/** Drives `ftpsd hash-password` on a pseudo-terminal (Python's pty module) and prints what it saw. */
const PTY_DRIVER = String.raw`
import os, pty, sys, json
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
seen = ''
def until(text):
    global seen
    while text not in seen:
        chunk = os.read(fd, 4096).decode()
        if not chunk: break
        seen += chunk
until('Password: ')
os.write(fd, b'tty-secrez\x7ft\r')
until('Repeat password: ')
os.write(fd, b'tty-secret\r')
try:
    while True:
        chunk = os.read(fd, 4096).decode()
        if not chunk: break
        seen += chunk
except OSError:
    pass
_, status = os.waitpid(pid, 0)
print(json.dumps({'out': seen, 'code': os.waitstatus_to_exitcode(status)}))
`;

const hasPython = spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;

describe('ftpsd hash-password on a terminal', () => {
  it.skipIf(!hasPython)('asks twice without echo and prints the hash', async () => {
    const r = spawnSync('python3', ['-c', PTY_DRIVER, process.execPath, MAIN, 'hash-password'], { encoding: 'utf8', timeout: 30_000 });
    const { out, code } = JSON.parse(r.stdout) as { out: string; code: number };
    expect(code).toBe(0);
    expect(out).not.toContain('tty-secre'); // nothing typed is echoed
    const hash = /(\$argon2id\$\S+)/.exec(out)![1]!;
    expect(await verify(hash, 'tty-secret')).toBe(true);
  });
});
