/**
 * Tracing with `node:diagnostics_channel`: three tracing channels an APM agent or a test can subscribe
 * to, and the one place that reports unexpected errors to `error` listeners. Nothing is built or
 * published while a channel has no subscriber (one property read per channel and call).
 *
 * | channel          | spans                                   | context (filled in as it goes)            |
 * |------------------|-----------------------------------------|-------------------------------------------|
 * | `ftpsd:command`  | one command line, from dispatch to its reply (for RETR/STOR/LIST: to the end of the transfer) | {@link CommandTrace} |
 * | `ftpsd:transfer` | one data transfer (download, listing, upload), from taking the data connection to the final reply | {@link TransferTrace} |
 * | `ftpsd:session`  | one control connection, from accept to close | {@link SessionTrace}                  |
 *
 * Each is a `TracingChannel`: subscribe with `diagnostics_channel.tracingChannel('ftpsd:command').subscribe({
 * start, end, asyncStart, asyncEnd, error })`. `start` is published when the span begins, `asyncEnd` when
 * it is over (its context then has the outcome), `error` if it failed unexpectedly.
 */
import diagnosticsChannel, { type TracingChannel } from 'node:diagnostics_channel';
import type { ServerEvents } from './events.js';

/** The context of an `ftpsd:command` span. */
export interface CommandTrace {
  /** The session id (also in the log lines and events of the session). */
  sessionId: string;
  remoteAddress: string;
  /** The logged-in user when the command started. */
  user: string | undefined;
  /** The verb as sent, upper-cased; undefined for a line that has none. */
  verb: string | undefined;
  /** The command's argument; undefined for sensitive commands (PASS) and when there is none. */
  arg: string | undefined;
  /** Set at the end: the final reply code (for transfer commands, the transfer's: 226, 426, ...). */
  code?: number | undefined;
  /** Set at the end by the TracingChannel: the same as `code`. */
  result?: number | undefined;
}

/** The context of an `ftpsd:transfer` span. */
export interface TransferTrace {
  sessionId: string;
  remoteAddress: string;
  user: string | undefined;
  /** `download` (RETR, and listings: LIST, NLST, MLSD) or `upload` (STOR, APPE, STOU). */
  direction: 'download' | 'upload';
  /** The virtual path (`/a/b.txt`); for downloads known once the file is open, undefined for listings. */
  path?: string | undefined;
  /** PROT P: the data connection is TLS. */
  protected: boolean;
  /** Set at the end: bytes moved, the final reply code and whether it completed (226). */
  bytes?: number;
  code?: number;
  ok?: boolean;
  /** Set at the end by the TracingChannel: the final reply code. */
  result?: number;
}

/** The context of an `ftpsd:session` span. */
export interface SessionTrace {
  sessionId: string;
  remoteAddress: string;
  /** Arrived on the implicit FTPS listener. */
  implicit: boolean;
  /** Set at the end: the user last logged in, if any. */
  user?: string | undefined;
}

/** The names of the channels, for subscribers. */
export const CHANNELS = { command: 'ftpsd:command', transfer: 'ftpsd:transfer', session: 'ftpsd:session' } as const;

const commandChannel: TracingChannel<unknown, CommandTrace & object> = diagnosticsChannel.tracingChannel(CHANNELS.command);
const transferChannel: TracingChannel<unknown, TransferTrace & object> = diagnosticsChannel.tracingChannel(CHANNELS.transfer);
const sessionChannel: TracingChannel<unknown, SessionTrace & object> = diagnosticsChannel.tracingChannel(CHANNELS.session);

/** Whether anyone listens on any of the channel's events (TracingChannel.hasSubscribers is newer than Node 20.10). */
function active(channel: TracingChannel<unknown, object>): boolean {
  return (
    channel.start.hasSubscribers ||
    channel.end.hasSubscribers ||
    channel.asyncStart.hasSubscribers ||
    channel.asyncEnd.hasSubscribers ||
    channel.error.hasSubscribers
  );
}

/**
 * Runs `run` inside an `ftpsd:command` span. `context` is only called when someone subscribes; `codeOf`
 * reads the reply code from the result for the end of the span.
 */
export function traceCommand<T>(context: () => CommandTrace, run: () => Promise<T>, codeOf: (result: T) => number | undefined): Promise<T> {
  return active(commandChannel) ? tracedCommand(context(), run, codeOf) : run();
}

async function tracedCommand<T>(ctx: CommandTrace, run: () => Promise<T>, codeOf: (result: T) => number | undefined): Promise<T> {
  let result!: T;
  // The span's own result (`ctx.result`, set by the TracingChannel) is the reply code, not an internal object.
  await commandChannel.tracePromise(async () => {
    result = await run();
    ctx.code = codeOf(result);
    return ctx.code;
  }, ctx);
  return result;
}

/** Runs `run` inside an `ftpsd:transfer` span; `finish` fills the context from the result. */
export function traceTransfer<T>(context: () => TransferTrace, run: (ctx: TransferTrace | undefined) => Promise<T>): Promise<T> {
  if (!active(transferChannel)) return run(undefined);
  const ctx = context();
  return transferChannel.tracePromise(() => run(ctx), ctx);
}

/** Runs a session's command loop inside an `ftpsd:session` span; `user` is read at its end. */
export function traceSession(context: () => SessionTrace, run: () => Promise<void>, user: () => string | undefined): Promise<void> {
  if (!active(sessionChannel)) return run();
  const ctx = context();
  return sessionChannel.tracePromise(async () => {
    try {
      await run();
    } finally {
      ctx.user = user();
    }
  }, ctx);
}

/**
 * Reports an unexpected error (a handler that threw something other than an FtpError or a
 * StorageError, a failed transfer, a failed listener) to the server's `error` listeners, with the session
 * id. Only when someone listens: an EventEmitter throws an `error` event nobody handles, and these
 * errors are logged anyway.
 */
export function reportError(events: ServerEvents, err: unknown, sessionId?: string): void {
  if (events.listenerCount('error') === 0) return;
  const error = (err instanceof Error ? err : new Error(String(err), { cause: err })) as Error & { sessionId?: string };
  if (sessionId !== undefined) {
    try {
      error.sessionId = sessionId;
    } catch {
      // A frozen error keeps its shape; the listener still gets it.
    }
  }
  events.emit('error', error);
}
