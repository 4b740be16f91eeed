/**
 * Running one transfer over a data connection, with the reply discipline of RFC 959:
 * the source or target is opened first (so a missing file is a 550 before anything else), `150` is sent
 * only once the data connection is open, `226` only when every byte is written (downloads) or committed
 * (uploads). Streams use backpressure (`pipeline`) and an AbortSignal (ABOR, stalled transfer, closed
 * control connection); nothing is buffered whole and nothing polls.
 *
 * An upload is complete when the client ended its data connection cleanly: under TLS with close_notify
 * (or, with `uploads.requireCloseNotify: false`, a FIN), in clear with a FIN; never with a reset, not even
 * one Node reports as an end (data-end.ts). In clear, a FIN is all there is: stream mode cannot tell a
 * client that stopped half-way and closed from the end of the file (RFC 959, section 3.4.1).
 */
import type { Duplex, Readable, Transform } from 'node:stream';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { pipeline } from 'node:stream/promises';
import { errorToReply, FtpError } from '../base/errors.js';
import { reply, type Reply } from '../base/reply.js';
import type { Upload } from '../storage/storage.js';
import { FileReader } from '../storage/file-reader.js';
import { fromNetworkAscii, isNetworkText, toNetworkAscii } from './ascii.js';
import { sendFile } from './send-file.js';
import { Receiver } from './receive-file.js';
import { DataEndError, tcpEnd, type DataEndFailure } from './data-end.js';
import { Code } from '../base/reply-codes.js';

export interface DataLink {
  /**
   * The TCP data connection (passive accept or active connect). `paused`: one that has read nothing
   * yet (passive ones always are), so that an upload can move it to its own read buffers.
   */
  connect(signal: AbortSignal, paused?: boolean): Promise<Socket>;
  /** `protect` puts TLS on the data connection (PROT P). */
  encrypted?: boolean;
  /** Writes the 150 reply. */
  opening(text: string): Promise<void>;
  /**
   * TLS on the data connection when PROT P is in force, else the socket itself. For an upload (`upload`
   * true) the TLS stream ends only on a clean end of the client's data, else fails with a DataEndError.
   */
  protect(socket: Socket, signal: AbortSignal, upload?: boolean): Promise<Duplex>;
  /**
   * The transfer on `socket` is an upload: called before its 150 (so before the client sends data),
   * for a TLS handshake already under way on it (early-tls.ts).
   */
  uploading?(socket: Socket): void;
  ascii: boolean;
  stalledMs: number;
  lingerMs: number;
  onBytes(n: number): void;
  /** Bandwidth limits of this transfer (bandwidth.ts); none: unlimited. */
  throttle?: () => Transform | undefined;
}

export interface TransferOutcome {
  reply: Reply;
  ok: boolean;
  bytes: number;
  /** Unexpected failure to log (storage read error and such). */
  error?: unknown;
  /** An upload's data connection did not end cleanly: how (a reset, no TLS close_notify). */
  cut?: DataEndFailure;
}

/** Sends `open()`'s stream to the client. */
export async function runDownload(
  link: DataLink,
  open: () => Promise<Readable>,
  openingText: string,
  signal: AbortSignal,
): Promise<TransferOutcome> {
  let bytes = 0;
  let source: Readable;
  try {
    source = await open();
  } catch (err) {
    return failed(err, bytes);
  }
  source.on('error', () => {});
  let data: Duplex | undefined;
  let dataFailed = false;
  let stall: Stall | undefined;
  try {
    // The set-up steps only hear an abort that happens while they wait, so check between them.
    signal.throwIfAborted();
    const socket = await link.connect(signal);
    data = socket;
    socket.once('error', () => (dataFailed = true));
    // A client that goes away without an error (FIN, close_notify) mid-download is a lost connection too.
    socket.once('close', () => (dataFailed = true));
    await link.opening(openingText);
    signal.throwIfAborted();
    data = await link.protect(socket, signal);
    data.once('error', () => (dataFailed = true));
    data.once('end', () => (dataFailed = true));
    const stream = data;
    stall = watchStall(socket, link.stalledMs, signal, () => stream.destroy());
    const count = (n: number) => {
      bytes += n;
      link.onBytes(n);
    };
    // Local files in binary mode go through reused buffers (send-file.ts); anything else is piped.
    const limit = link.throttle?.();
    if (source instanceof FileReader && !link.ascii && !limit) {
      // Under the session's signal: a stall destroys the data stream, which fails the send as well.
      await sendFile(source, data, signal, count);
    } else {
      source.on('data', (chunk: Buffer) => count(chunk.length));
      const stages: (Readable | Transform | Duplex)[] = [source];
      if (link.ascii && !isNetworkText(source)) stages.push(toNetworkAscii());
      if (limit) stages.push(limit);
      stages.push(data);
      await pipeline(stages, { signal: stall.signal });
    }
    return { reply: reply(Code.closingData, 'Transfer complete.'), ok: true, bytes };
  } catch (err) {
    // Aborted (ABOR) is 426 at any stage, also while still waiting for the data connection.
    if (signal.aborted) return { reply: reply(Code.transferAborted, 'Transfer aborted.'), ok: false, bytes };
    if (stall?.stalled) return { reply: reply(Code.transferAborted, 'Data connection stalled; transfer aborted.'), ok: false, bytes };
    if (err instanceof FtpError) return { reply: err.reply, ok: false, bytes };
    if (dataFailed || data === undefined) {
      return { reply: reply(Code.transferAborted, 'Connection closed; transfer aborted.'), ok: false, bytes };
    }
    return { ...failed(err, bytes), error: err };
  } finally {
    stall?.release();
    source.destroy();
    if (data) linger(data, link.lingerMs);
  }
}

/**
 * Receives the client's data into `open()`'s upload; commits only when all of it arrived (a clean end of
 * the data connection, see above) and while the session is alive (`signal` not aborted).
 */
export async function runUpload(
  link: DataLink,
  open: () => Promise<Upload>,
  openingText: string,
  signal: AbortSignal,
): Promise<TransferOutcome> {
  let bytes = 0;
  let upload: Upload;
  try {
    upload = await open();
  } catch (err) {
    return failed(err, bytes);
  }
  // The storage's own error (ENOSPC, EDQUOT, ...) decides the reply, also when the pipeline then tears
  // down the data connection: the client must hear 452/552, not 426.
  // Errors the pipeline passes on from the data side or an abort do not count.
  let storageError: unknown;
  let data: Duplex | undefined;
  let dataFailed = false;
  let cut: DataEndFailure | undefined;
  let stall: Stall | undefined;
  upload.stream.on('error', (err: NodeJS.ErrnoException) => {
    const plumbing = err.name === 'AbortError' || (typeof err.code === 'string' && err.code.startsWith('ERR_'));
    if (!dataFailed && !signal.aborted && !plumbing) storageError ??= err;
  });
  const onSocketError = (err: NodeJS.ErrnoException) => {
    dataFailed = true;
    if (err.code === 'ECONNRESET') cut ??= 'reset';
  };
  // Binary uploads without a bandwidth limit read into reused buffers (receive-file.ts), plain ones and,
  // where Node allows it, protected ones; the rest go through streams.
  const limit = link.throttle?.();
  const direct = !link.ascii && !limit;
  try {
    // The set-up steps only hear an abort that happens while they wait, so check between them.
    signal.throwIfAborted();
    let socket = await link.connect(signal, direct && !link.encrypted);
    data = socket;
    socket.once('error', onSocketError);
    link.uploading?.(socket);
    await link.opening(openingText);
    signal.throwIfAborted();
    data = await link.protect(socket, signal, true);
    const receiver = !direct ? undefined : data === socket ? Receiver.adopt(socket) : Receiver.adoptTls(data as TLSSocket);
    if (receiver && data === socket) {
      data = socket = receiver.socket;
      socket.once('error', onSocketError);
    }
    // In clear, how the TCP stream ended (a FIN, or a reset Node may report as the end); under TLS the
    // protected stream itself fails unless the end was clean.
    const ended = data === socket ? tcpEnd(socket) : undefined;
    data.once('error', (err) => {
      dataFailed = true;
      if (err instanceof DataEndError) cut ??= err.reason;
    });
    stall = watchStall(socket, link.stalledMs, signal, () => {});
    const count = (n: number) => {
      bytes += n;
      link.onBytes(n);
    };
    if (receiver) {
      await receiver.receive(upload, stall.signal, count);
    } else {
      data.on('data', (chunk: Buffer) => count(chunk.length));
      const stages: NodeJS.ReadWriteStream[] = [data];
      if (limit) stages.push(limit);
      if (link.ascii) stages.push(fromNetworkAscii());
      await pipeline([...stages, upload.stream], { signal: stall.signal });
    }
    if (ended && (await ended) === 'reset') {
      dataFailed = true;
      cut = 'reset';
      throw new DataEndError('reset');
    }
    // The control connection may have gone while the data still came: the session is over.
    signal.throwIfAborted();
    await upload.commit(signal);
    return { reply: reply(Code.closingData, 'Transfer complete.'), ok: true, bytes };
  } catch (err) {
    await upload.abort().catch(() => {});
    if (signal.aborted) return { reply: reply(Code.transferAborted, 'Transfer aborted.'), ok: false, bytes };
    if (stall?.stalled) return { reply: reply(Code.transferAborted, 'Data connection stalled; transfer aborted.'), ok: false, bytes };
    if (err instanceof FtpError) return { reply: err.reply, ok: false, bytes };
    if (storageError !== undefined) return failed(storageError, bytes);
    if (cut === 'no-close-notify') {
      return { reply: reply(Code.transferAborted, 'Data connection closed without TLS close_notify; transfer aborted.'), ok: false, bytes, cut };
    }
    if (cut === 'reset') return { reply: reply(Code.transferAborted, 'Data connection reset; transfer aborted.'), ok: false, bytes, cut };
    if (dataFailed || data === undefined) {
      return { reply: reply(Code.transferAborted, 'Connection closed; transfer aborted.'), ok: false, bytes };
    }
    return { ...failed(err, bytes), error: err };
  } finally {
    stall?.release();
    if (data) linger(data, link.lingerMs);
  }
}

function failed(err: unknown, bytes: number): TransferOutcome {
  const mapped = errorToReply(err);
  return { reply: mapped.reply, ok: false, bytes, ...(mapped.expected ? {} : { error: err }) };
}

interface Stall {
  /**
   * Aborts when `signal` does or when the socket sees no traffic for the stall time. Made on first use:
   * a transfer that does not ask for it (a local file sent by sendFile, under the session's signal) has
   * its data stream destroyed on a stall instead, and saves an AbortController and a listener.
   */
  readonly signal: AbortSignal;
  /** The socket stalled (rather than `signal` aborting). */
  readonly stalled: boolean;
  /** Stops watching (the transfer is over). */
  release(): void;
}

/**
 * The signal a transfer runs under: the session's abort (ABOR, closed control connection) or a stall of
 * the data socket (no traffic for `ms`; the socket's own idle timer, refreshed by its reads and writes).
 * On a stall `cut` runs when nobody took `signal` (it destroys the data stream, as an aborted signal's
 * user would).
 */
function watchStall(socket: Socket, ms: number, signal: AbortSignal, cut: () => void): Stall {
  let controller: AbortController | undefined;
  let stalled = false;
  const onAbort = () => controller!.abort(signal.reason);
  socket.setTimeout(ms, () => {
    stalled = true;
    if (controller) controller.abort(new Error('transfer stalled'));
    else cut();
  });
  return {
    get signal() {
      if (!controller) {
        controller = new AbortController();
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
      return controller.signal;
    },
    get stalled() {
      return stalled;
    },
    release() {
      if (controller) signal.removeEventListener('abort', onAbort);
      socket.setTimeout(0);
    },
  };
}

/**
 * Closes a finished data connection without losing data at either end: our end() already sent FIN (and
 * close_notify); waiting for the client to close first means no unread byte makes a kernel send RST.
 */
function linger(data: Duplex, ms: number): void {
  if (data.destroyed) return;
  data.on('error', () => {});
  const timer = setTimeout(() => data.destroy(), ms);
  timer.unref();
  data.once('close', () => clearTimeout(timer));
  let ended = data.readableEnded;
  let finished = data.writableFinished;
  const maybeDestroy = () => {
    if (ended && finished) data.destroy();
  };
  data.once('end', () => {
    ended = true;
    maybeDestroy();
  });
  data.once('finish', () => {
    finished = true;
    maybeDestroy();
  });
  if (!data.writableEnded) data.end();
  data.resume();
  maybeDestroy();
}
