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
 * timeout (SIGTERM, then SIGKILL 2 s later) is a failure and is retried; a program that cannot be
 * started (missing, not executable) is not.
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

/** Runs `argv` once with `env`; rejects on a non-zero exit, a signal, or an abort (killed). */
export function runHook(argv: readonly string[], env: Record<string, string>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('aborted before start'));
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let output = '';
    // The end of the output says why a program failed: keep its last 2 KiB.
    const keep = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-OUTPUT_KEPT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      if (err) reject(err);
      else resolve();
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      const permanent = err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'ENOEXEC';
      done(permanent ? new PermanentFailure(`cannot run ${argv[0]}: ${err.code}`) : err);
    });
    child.once('close', (code, sig) => {
      if (code === 0) return done();
      const tail = output.trim() ? `: ${output.trim().split('\n').slice(-3).join(' | ')}` : '';
      done(new Error(`${sig ? `killed by ${sig}` : `exit code ${code}`}${tail}`));
    });
  });
}
