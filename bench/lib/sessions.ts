/**
 * The session-rate driver: `total` sessions, `conc` in flight, each one
 *   connect, 220, [AUTH TLS, 234, TLS handshake], USER, 331, PASS, 230, PWD, 257, QUIT, 221
 * with no TLS resumption between sessions. A callback state machine per connection, no promises and
 * no per-connection timers (one watchdog), so the client costs as little CPU per session as Node allows.
 * Also a worker entry (BENCH_CLIENT_PROCS > 1): `node --import tsx sessions.ts '<json options>'`
 * prints `{ok, errors, lastErr, cpuS}` as JSON.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { pathToFileURL } from 'node:url';
import { CLIENT_TLS } from './ftp-client.js';
import { ReplyLines } from './reply-lines.js';

export interface SessionsOptions {
  host: string;
  port: number;
  user: string;
  pass: string;
  tls: boolean;
  total: number;
  conc: number;
  timeoutMs?: number;
}

export interface SessionsResult {
  ok: number;
  errors: number;
  lastErr: string;
}

export function runSessions(o: SessionsOptions): Promise<SessionsResult> {
  return new Promise((resolve) => {
    const { host, port, user, pass, total, conc } = o;
    const timeoutMs = o.timeoutMs ?? 30_000;
    let started = 0;
    let active = 0;
    let ok = 0;
    let errors = 0;
    let lastErr = '';
    const live = new Set<{ deadline: number; fail: (e: Error) => void }>();
    const watchdog = setInterval(() => {
      const t = Date.now();
      for (const s of live) if (s.deadline < t) s.fail(new Error('session timeout'));
    }, 1000);

    const next = () => {
      active--;
      if (started < total) one();
      else if (active === 0) {
        clearInterval(watchdog);
        resolve({ ok, errors, lastErr });
      }
    };

    const one = () => {
      started++;
      active++;
      let sock: Socket = netConnect({ host, port });
      sock.setNoDelay(true);
      let step = 0;
      let ended = false;
      const send = (l: string) => sock.write(l + '\r\n');
      const fail = (e: Error) => {
        if (ended) return;
        ended = true;
        live.delete(st);
        errors++;
        lastErr = e.message;
        sock.destroy();
        next();
      };
      const st = { deadline: Date.now() + timeoutMs, fail };
      live.add(st);
      const finish = () => {
        ended = true;
        live.delete(st);
        ok++;
        sock.end();
        next();
      };
      const onClose = () => {
        if (!ended) fail(new Error('connection closed early'));
      };
      const upgrade = () => {
        sock.off('data', onData);
        sock.off('error', fail);
        sock.off('close', onClose);
        const t = tlsConnect({ ...CLIENT_TLS, socket: sock });
        sock = t;
        t.on('data', onData);
        t.on('error', fail);
        t.on('close', onClose);
        t.once('secureConnect', () => {
          step = 2;
          send('USER ' + user);
        });
      };
      const reply = (code: number) => {
        switch (step) {
          case 0:
            if (code !== 220) return fail(new Error(`greeting ${code}`));
            if (o.tls) {
              step = 1;
              send('AUTH TLS');
            } else {
              step = 2;
              send('USER ' + user);
            }
            return;
          case 1:
            if (code !== 234) return fail(new Error(`AUTH TLS ${code}`));
            step = -1;
            return upgrade();
          case 2:
            if (code === 230) {
              step = 4;
              return send('PWD');
            }
            if (code !== 331) return fail(new Error(`USER ${code}`));
            step = 3;
            return send('PASS ' + pass);
          case 3:
            if (code !== 230) return fail(new Error(`PASS ${code}`));
            step = 4;
            return send('PWD');
          case 4:
            if (code !== 257) return fail(new Error(`PWD ${code}`));
            step = 5;
            return send('QUIT');
          case 5:
            return finish();
          default:
            return fail(new Error(`unexpected reply ${code}`));
        }
      };
      const lines = new ReplyLines((code) => reply(code), () => !ended);
      const onData = (d: Buffer) => lines.feed(d);
      sock.on('data', onData);
      sock.on('error', fail);
      sock.on('close', onClose);
    };

    if (total <= 0) {
      clearInterval(watchdog);
      resolve({ ok, errors, lastErr });
      return;
    }
    for (let i = 0; i < Math.min(conc, total); i++) one();
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = JSON.parse(process.argv[2] ?? '{}') as SessionsOptions;
  void runSessions(o).then((r) => {
    const u = process.cpuUsage();
    process.stdout.write(JSON.stringify({ ...r, cpuS: (u.user + u.system) / 1e6 }));
  });
}
