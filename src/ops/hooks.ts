/**
 * Hook commands: a program run for an event (`--hook upload=/usr/local/bin/scan --quiet`). No shell is
 * involved: the command is split into words once, at start (quotes group words, a backslash escapes
 * the next character outside single quotes), and the event's data reaches the program only through
 * environment variables, so no file name can become an argument or a shell command:
 *
 *   FTPSD_EVENT        upload | download | delete | rename | mkdir | login | logout
 *   FTPSD_TIME         when it happened (ISO 8601, UTC)
 *   FTPSD_SESSION      the session id (also in every log line of the session: `sid`)
 *   FTPSD_USER         the user name
 *   FTPSD_PEER         the client's address
 *   FTPSD_PATH         the path as the user sees it (rename: the new path; login/logout: unset)
 *   FTPSD_BYTES        bytes transferred (upload, download)
 *   FTPSD_DURATION_MS  duration of the transfer (upload, download)
 *   FTPSD_SECURE       1 when the data connection was protected (PROT P), else 0 (upload, download)
 *   FTPSD_FROM         rename: the old path
 *   FTPSD_TO           rename: the new path
 *   FTPSD_DIRECTORY    delete: 1 for a directory (RMD), 0 for a file (DELE)
 *
 * The program inherits ftpsd's environment except every FTPSD_* variable of its own (FTPSD_PASSWORD
 * above all): no password ever reaches a hook. Its working directory is ftpsd's; stdin is empty, and
 * the last lines of its output are logged when it fails. A non-zero exit, a signal, or running past the
 * timeout (SIGTERM to its process group, then SIGKILL 2 s later: see runHook) is a failure and is
 * retried; a program that cannot be started (missing, not executable) is not.
 */
import { spawn } from 'node:child_process';
import { PermanentFailure } from './delivery-queue.js';

export const HOOK_EVENTS = ['upload', 'download', 'delete', 'rename', 'mkdir', 'login', 'logout'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

/** What every hook and webhook is told about an event. */
export interface AutomationEvent {
  event: HookEvent;
  /** ISO 8601, UTC. */
  time: string;
  session: string;
  user?: string;
  peer: string;
  path?: string;
  bytes?: number;
  durationMs?: number;
  secure?: boolean;
  from?: string;
  to?: string;
  directory?: boolean;
}

export interface HookSpec {
  /** An event name, or `*` for all of them. */
  event: HookEvent | '*';
  /** The program and its fixed arguments. */
  argv: string[];
}

/** Splits a command into words: whitespace separates, '...' and "..." group, \ escapes (not in '...'). */
export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (quote === "'") {
      if (ch === "'") quote = undefined;
      else word += ch;
    } else if (ch === '\\') {
      if (i + 1 >= command.length) throw new Error('ends with a lone backslash');
      word += command[++i];
      inWord = true;
    } else if (quote === '"') {
      if (ch === '"') quote = undefined;
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unclosed ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}

/** `EVENT=COMMAND` (the --hook flag and the string form in the config file). */
export function parseHook(value: string): HookSpec {
  const eq = value.indexOf('=');
  if (eq < 0) throw new Error('expected EVENT=COMMAND, e.g. upload=/usr/local/bin/on-upload');
  return hookSpec(value.slice(0, eq).trim(), value.slice(eq + 1));
}

export function hookSpec(event: string, command: string | readonly string[]): HookSpec {
  if (event !== '*' && !(HOOK_EVENTS as readonly string[]).includes(event)) {
    throw new Error(`unknown event "${event}" (events: ${HOOK_EVENTS.join(', ')}, or * for all)`);
  }
  const argv = typeof command === 'string' ? splitCommand(command) : [...command];
  if (argv.length === 0 || argv[0] === '') throw new Error('the command is empty');
  return { event: event as HookSpec['event'], argv };
}

/** The FTPSD_* variables of an event. */
export function hookEnvironment(e: AutomationEvent): Record<string, string> {
  const env: Record<string, string> = {
    FTPSD_EVENT: e.event,
    FTPSD_TIME: e.time,
    FTPSD_SESSION: e.session,
    FTPSD_PEER: e.peer,
  };
  const set = (name: string, value: string | number | boolean | undefined) => {
    if (value !== undefined) env[name] = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
  };
  set('FTPSD_USER', e.user);
  set('FTPSD_PATH', e.path);
  set('FTPSD_BYTES', e.bytes);
  set('FTPSD_DURATION_MS', e.durationMs);
  set('FTPSD_SECURE', e.secure);
  set('FTPSD_FROM', e.from);
  set('FTPSD_TO', e.to);
  set('FTPSD_DIRECTORY', e.directory);
  return env;
}

/** ftpsd's environment without its own FTPSD_* settings (FTPSD_PASSWORD among them). */
export function inheritedEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !k.toUpperCase().startsWith('FTPSD_')) out[k] = v;
  return out;
}

const OUTPUT_KEPT = 2048;
const KILL_GRACE_MS = 2000;
/** After the program exits, how long what it started may keep its output open before the group is ended. */
const PIPE_LINGER_MS = 500;

/**
 * Runs `argv` once with `env`; rejects on a non-zero exit, a signal, or an abort (killed).
 *
 * The program runs in a process group of its own (`detached`), and it is the group that is signalled:
 * on timeout or shutdown SIGTERM, then SIGKILL after 2 s, so children it forked die with it. The result
 * is the program's own exit; when it has exited, anything it left behind that still holds its output
 * open gets 0.5 s, then the group is ended the same way, so a forgotten background child can neither
 * keep the delivery slot busy nor hold up the drain at shutdown. (A child that leaves the group with
 * setsid escapes this, as it would any supervisor short of a cgroup: run ftpsd under systemd, which
 * kills the whole cgroup at stop.)
 */
export function runHook(argv: readonly string[], env: Record<string, string>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted before start'));
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true, detached: true });
    let output = '';
    // The end of the output says why a program failed: keep its last 2 KiB.
    const keep = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-OUTPUT_KEPT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const group = child.pid;
    const signalGroup = (sig: NodeJS.Signals) => {
      if (group === undefined) return;
      try {
        process.kill(-group, sig);
      } catch {
        // ESRCH: nothing left in the group.
      }
    };
    let killTimer: NodeJS.Timeout | undefined;
    /** SIGTERM to the group now, SIGKILL in 2 s (the timer outlives the promise: the group must end). */
    const endGroup = () => {
      if (killTimer) return;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    const onAbort = () => endGroup();
    signal.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    let lingerTimer: NodeJS.Timeout | undefined;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      clearTimeout(lingerTimer);
      if (err) reject(err);
      else resolve();
    };
    let exit: { code: number | null; sig: NodeJS.Signals | null } | undefined;
    const finish = () => {
      if (!exit) return;
      if (exit.code === 0) return done();
      const tail = output.trim() ? `: ${output.trim().split('\n').slice(-3).join(' | ')}` : '';
      done(new Error(`${exit.sig ? `killed by ${exit.sig}` : `exit code ${exit.code}`}${tail}`));
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      const permanent = err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'ENOEXEC';
      done(permanent ? new PermanentFailure(`cannot run ${argv[0]}: ${err.code}`) : err);
    });
    child.once('exit', (code, sig) => {
      exit = { code, sig };
      // Normally the output closes with the program; if something it started still holds it, end them.
      lingerTimer = setTimeout(() => {
        endGroup();
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, PIPE_LINGER_MS);
    });
    child.once('close', finish);
  });
}
