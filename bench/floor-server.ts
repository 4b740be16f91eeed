/**
 * The floor of a Node FTP server for the plain `sessions`, `small` and `list` workloads: a bare Node
 * program that does only what those workloads need, as cheaply as Node allows, so that ftpsd's figures
 * can be set beside what any Node server would cost (docs/performance.md, "Round 2"). Not a server to
 * use: one user, no TLS, no limits, no permissions, no logging, RETR without ftpsd's race-safe opening.
 *
 * - one callback state machine per connection (no promises, no streams beyond the socket);
 * - replies written as they are made; a passive listener per session, re-armed by each PASV, taking one
 *   connection from the control connection's peer (as ftpsd does);
 * - RETR: open, fstat, one synchronous read of a small file, one write, end;
 * - MLSD/LIST: the directory opened once, entries lstat()ed through its descriptor
 *   (`/proc/self/fd/N/name`, the race-safe way ftpsd uses), lines built into 64 KiB writes, paced by
 *   the socket's backpressure.
 *
 *   node --import tsx bench/floor-server.ts ROOT USER PASS     # prints "floor listening PORT"
 *   npm run bench -- --host 127.0.0.1 --port PORT --user U --pass P --pid PID --root ROOT \
 *     --mode plain --only sessions,small,list
 */
import { createServer, type Server, type Socket } from 'node:net';
import * as fs from 'node:fs';

const [root = '.', user = 'bench', pass = 'benchpass'] = process.argv.slice(2);

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

function timeVal(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}`;
}

class Session {
  private buf = '';
  private loggedIn = false;
  private listener: Server | undefined;
  private port = 0;
  private armed = false;
  private data: Socket | undefined;
  /** What to send once the data connection is there. */
  private pending: ((d: Socket) => void) | undefined;

  constructor(private readonly ctrl: Socket) {
    ctrl.setNoDelay(true);
    ctrl.setEncoding('latin1');
    ctrl.on('data', (d: string) => this.onData(d));
    ctrl.on('error', () => {});
    ctrl.on('close', () => this.listener?.close());
    ctrl.write('220 floor\r\n');
  }

  private reply(text: string): void {
    this.ctrl.write(text + '\r\n');
  }

  private onData(d: string): void {
    this.buf += d;
    for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, i).replace(/\r$/, '');
      this.buf = this.buf.slice(i + 1);
      this.command(line);
    }
  }

  private command(line: string): void {
    const sp = line.indexOf(' ');
    const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    const arg = sp < 0 ? '' : line.slice(sp + 1);
    if (verb === 'QUIT') {
      this.ctrl.end('221 Bye\r\n');
      return;
    }
    if (verb === 'USER') return this.reply('331 Password required');
    if (verb === 'PASS') {
      this.loggedIn = arg === pass;
      return this.reply(this.loggedIn ? '230 Logged in' : '530 Login incorrect');
    }
    if (!this.loggedIn) return this.reply('530 Not logged in');
    switch (verb) {
      case 'PWD':
        return this.reply('257 "/"');
      case 'TYPE':
        return this.reply('200 OK');
      case 'FEAT':
        return this.reply('211-Features:\r\n MLST type*;size*;modify*;\r\n211 End');
      case 'PASV':
        return this.pasv();
      case 'RETR':
        return this.retr(arg);
      case 'MLSD':
      case 'LIST':
        return this.list(arg, verb === 'MLSD');
      default:
        return this.reply('502 Not implemented');
    }
  }

  private pasv(): void {
    this.data?.destroy();
    this.data = undefined;
    this.armed = true;
    const answer = () => this.reply(`227 Entering Passive Mode (127,0,0,1,${this.port >> 8},${this.port & 255})`);
    if (this.listener) return answer();
    const l = createServer({ noDelay: true }, (s) => {
      s.on('error', () => {});
      if (!this.armed || this.data || s.remoteAddress !== this.ctrl.remoteAddress) return void s.destroy();
      this.armed = false;
      this.data = s;
      const p = this.pending;
      this.pending = undefined;
      p?.(s);
    });
    l.on('error', () => {});
    l.listen(0, '127.0.0.1', () => {
      this.port = (l.address() as { port: number }).port;
      answer();
    });
    this.listener = l;
  }

  /** Runs `send` on the data connection (now, or when it comes); `send` ends it. */
  private withData(send: (d: Socket) => void): void {
    const d = this.data;
    if (d) send(d);
    else this.pending = send;
  }

  private finish(d: Socket): void {
    this.data = undefined;
    d.once('close', () => this.reply('226 Transfer complete'));
  }

  private retr(name: string): void {
    let fd: number;
    try {
      fd = fs.openSync(`${root}/${name}`, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch {
      return this.reply('550 No such file');
    }
    const size = fs.fstatSync(fd).size;
    const body = Buffer.allocUnsafe(size);
    fs.readSync(fd, body, 0, size, 0);
    fs.closeSync(fd);
    this.withData((d) => {
      this.reply('150 Opening data connection');
      this.finish(d);
      d.end(body);
    });
  }

  private list(path: string, mlsd: boolean): void {
    let fd: number;
    try {
      fd = fs.openSync(`${root}/${path}`, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch {
      return this.reply('550 No such directory');
    }
    const dir = fs.opendirSync(`/proc/self/fd/${fd}`, { bufferSize: 256 });
    const base = `/proc/self/fd/${fd}/`;
    this.withData((d) => {
      this.reply('150 Here comes the listing');
      const more = (): void => {
        let text = '';
        for (let e = dir.readSync(); e !== null; e = dir.readSync()) {
          const st = fs.lstatSync(base + e.name, { throwIfNoEntry: false });
          if (!st) continue;
          const isDir = st.isDirectory();
          text += mlsd
            ? `type=${isDir ? 'dir' : 'file'};size=${st.size};modify=${timeVal(st.mtimeMs)}; ${e.name}\r\n`
            : `${isDir ? 'd' : '-'}rw-r--r-- 1 0 0 ${st.size} Jan 01 00:00 ${e.name}\r\n`;
          if (text.length >= 65536) {
            if (!d.write(text)) return void d.once('drain', more);
            text = '';
          }
        }
        dir.closeSync();
        fs.closeSync(fd);
        this.finish(d);
        d.end(text);
      };
      more();
    });
  }
}

const server = createServer({ noDelay: true }, (s) => new Session(s));
server.listen(0, '127.0.0.1', () => console.log(`floor listening ${(server.address() as { port: number }).port}`));
process.on('SIGTERM', () => process.exit(0));
