/**
 * Protection of data connections (PROT P): the server is the TLS server on the data connection too
 * (RFC 4217 section 7). Under `session-reuse require` the connection must resume a TLS session of its
 * own control connection, else it is refused with a 425 that says why.
 *
 * Under `allow` and `off`, before TLS starts, the server reads the client's ClientHello from the socket
 * (it owns the socket) and gives the bytes back: a client that resumes gets the control context; one
 * that does not gets the TLS 1.2 context without tickets, so no session ticket is sent on a data
 * connection that carries a transfer (TLS 1.3 sends tickets after a full handshake, and Node cannot turn
 * that off; see src/tls/context.ts). Under `require` resumed handshakes send none anyway.
 *
 * An upload's TLS runs over a pipe that shows the TCP end apart from TLS's (data-end.ts), so that only a
 * close_notify ends it; downloads and listings keep TLS directly on the socket. When the client started
 * TLS before its transfer command, that handshake was answered at once with TLS directly on the socket,
 * made an upload's by early-tls.ts if the transfer is one (or on the upload's pipe where Node's
 * internals for that are missing), and the ClientHello is not read again.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { FtpError } from '../base/errors.js';
import { dataBinding, type ReuseDecision } from '../policy.js';
import { peerCertificate, type ClientCertificate } from '../tls/client-certs.js';
import { MAX_PEEK_BYTES, offersTls12, peekClientHello, type ClientHelloInfo } from '../tls/client-hello.js';
import type { SessionBinder } from '../tls/session-reuse.js';
import { nativeTls, nativeTlsPossible, uploadTls } from './data-end.js';
import { Code } from '../base/reply-codes.js';

export interface DataContexts {
  /** For data connections that resume (the control connections' context). */
  current: SecureContext;
  /** For data connections that do not resume: no tickets. */
  data: SecureContext;
}

/** What a data connection's TLS is made with (the session's contexts and policies). */
export interface DataTlsOptions {
  contexts: DataContexts;
  binder: SessionBinder | undefined;
  /** The session-reuse decision (policy.ts). */
  reuse: ReuseDecision;
  /**
   * Client certificates are asked for (the contexts verify them): `required` refuses a handshake without
   * a valid one; `control` is the certificate the control connection presented, if any.
   */
  clientCerts?: { required: boolean; control: ClientCertificate | undefined };
  /**
   * For an upload: whether it must end with close_notify (else a FIN ends it too; see data-end.ts).
   * `early`: an early handshake, whose direction is not known yet: Node's native TLS socket where
   * possible (`nativeTls`; the transfer calls `watchUploadEnd` if it is an upload), else the upload's pipe.
   */
  upload?: { requireCloseNotify: boolean; early?: boolean };
}

export interface ProtectOptions extends DataTlsOptions {
  handshakeTimeoutMs: number;
  signal: AbortSignal;
  /** The ClientHello, already read (early-tls.ts): not read again. */
  hello?: { info: ClientHelloInfo | undefined };
}

/** What a finished data handshake showed, taken at once (a closed TLS socket no longer tells). */
export interface HandshakeFacts {
  resumed: boolean;
  ownsSession: boolean;
  dataCert: ClientCertificate | undefined;
  protocol: string | null;
}

export async function protectDataSocket(socket: Socket, options: ProtectOptions): Promise<TLSSocket> {
  const deadline = Date.now() + options.handshakeTimeoutMs;
  const hello = options.hello ? options.hello.info : readsHello(options.reuse) ? await readClientHello(socket, options.handshakeTimeoutMs, options.signal) : undefined;
  const tls = startDataTls(socket, hello, options);
  await awaitSecure(tls, deadline, options.signal);
  checkDataBinding(tls, handshakeFacts(tls, options), options);
  return tls;
}

/**
 * Under `require` every connection that does not resume is refused anyway (see chooseContext), so its
 * ClientHello need not be read; under `require-or-client-cert` one that does not resume may be let in
 * by its certificate.
 */
function readsHello(reuse: ReuseDecision): boolean {
  return !reuse.require || reuse.orClientCert;
}

/**
 * The server TLS socket of a data connection, its handshake under way (the context chosen from `hello`):
 * for an upload (`options.upload`) over the pipe that tells close_notify from the TCP end (data-end.ts),
 * else directly on the socket. Its errors are left to whoever waits for it.
 */
export function startDataTls(socket: Socket, hello: ClientHelloInfo | undefined, options: DataTlsOptions): TLSSocket {
  const context = chooseContext(readsHello(options.reuse) ? hello : undefined, options);
  const tlsOptions = {
    isServer: true,
    secureContext: context,
    ...(options.binder ? { server: options.binder.dataServer() } : {}),
    ...(options.clientCerts ? { requestCert: true, rejectUnauthorized: options.clientCerts.required } : {}),
  };
  const upload = options.upload;
  const tls = !upload
    ? new TLSSocket(socket, tlsOptions)
    : upload.early && nativeTlsPossible(socket)
      ? nativeTls(socket, tlsOptions)
      : uploadTls(socket, { ...tlsOptions, requireCloseNotify: upload.requireCloseNotify });
  tls.on('error', () => {}); // failures are handled by awaitSecure and by the transfer
  return tls;
}

/** Resolves when `tls`'s handshake is done; destroys it and rejects with a 425 on failure, timeout or abort. */
export function awaitSecure(tls: TLSSocket, deadline: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (reason: string) => () => {
      cleanup();
      tls.destroy();
      reject(dataError(reason));
    };
    const onTimeout = fail(TIMED_OUT);
    const onError = fail(FAILED);
    const onAbort = fail(ABORTED);
    const timer = setTimeout(onTimeout, Math.max(0, deadline - Date.now()));
    const onSecure = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      tls.off('secure', onSecure);
      tls.off('error', onError);
      tls.off('close', onError);
      tls.off('end', onError);
      signal.removeEventListener('abort', onAbort);
    };
    if (signal.aborted) return onAbort();
    tls.once('secure', onSecure);
    tls.once('error', onError);
    tls.once('close', onError);
    // The stream ended before the handshake did (a TLS socket directly on the TCP socket, half-open
    // allowed, reports the client's FIN so and stays open).
    tls.once('end', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** What the handshake of `tls` (just done) showed, for `checkDataBinding`. */
export function handshakeFacts(tls: TLSSocket, options: DataTlsOptions): HandshakeFacts {
  return {
    resumed: tls.isSessionReused(),
    ownsSession: options.binder?.owns(tls) ?? false,
    dataCert: options.clientCerts ? peerCertificate(tls) : undefined,
    protocol: tls.getProtocol(),
  };
}

/**
 * Refuses (closes `tls` and throws the 425) a data connection that does not belong to its control
 * connection under the session's policies (policy.ts `dataBinding`).
 */
export function checkDataBinding(tls: TLSSocket, facts: HandshakeFacts, options: DataTlsOptions): void {
  const refusal = dataBinding(options.reuse, {
    ownsSession: facts.ownsSession,
    controlCert: options.clientCerts?.control,
    dataCert: facts.dataCert,
    certRequired: options.clientCerts?.required ?? false,
  });
  if (!refusal) return;
  // TLS 1.3: the client's handshake is complete; a reset makes its read fail, so no client can take
  // the refusal for an empty transfer. TLS 1.2: the server's last flight must get out first.
  if (facts.protocol === 'TLSv1.2') closeGently(tls);
  else tls.destroy();
  if (refusal === 'certificate') throw dataError(REFUSED_CERTIFICATE, 'FTP_ERR_CLIENT_CERT');
  throw dataError(facts.resumed ? REFUSED_OTHER : REFUSED_FRESH, 'FTP_ERR_TLS_REUSE');
}

/**
 * Ends a refused TLS 1.2 data connection with close_notify instead of a reset, bounded by a short timer.
 * A TLS 1.2 handshake ends with the server's Finished, still on its way when 'secure' fires: destroying
 * at once cut it, and the client reported a broken handshake (Java: "Remote host terminated the
 * handshake") instead of going on to read the 425 on the control connection. The client then sees an
 * empty transfer followed by the 425 as the command's final reply.
 */
function closeGently(tls: TLSSocket): void {
  const timer = setTimeout(() => tls.destroy(), 2000);
  timer.unref();
  tls.once('close', () => clearTimeout(timer));
  tls.end();
}

const REFUSED_CERTIFICATE = "Data connection refused: its client certificate is not the control connection's.";
const REFUSED_OTHER = "Data connection refused: it resumed a TLS session other than the control connection's.";
const REFUSED_FRESH = "Data connection refused: TLS session reuse required (resume the control connection's TLS session).";
const LET_IN = 'security.sessionReuseAllow (users, networks) lets such clients in, or sessionReuse: allow (--session-reuse allow) everyone; see docs/troubleshooting.md';

/**
 * The log fields for a data connection refused under `require` (`reply`: the 425's text): a stable
 * reason key, the reply, and which clients this usually is and the setting that lets them in.
 */
export function reuseRefusal(reply: string): { reason: string; detail: string; hint: string } {
  return reply === REFUSED_OTHER
    ? {
        reason: 'tls-session-of-another-connection',
        detail: reply,
        hint: `the client presented a TLS session issued on another control connection (a client sharing one session cache across parallel connections, or someone trying to take this transfer); ${LET_IN}`,
      }
    : {
        reason: 'tls-session-not-resumed',
        detail: reply,
        hint: `clients that cannot resume the control connection's TLS session on data connections: Java/JSSE (Apache commons-net FTPSClient), curl with several URLs under TLS 1.3; ${LET_IN}`,
      };
}

/**
 * The control context for a client that resumes from a ticket or a TLS 1.3 PSK (or cannot do TLS 1.2,
 * or sent something this reader does not understand: TLS then fails on it as it would anyway); the
 * ticketless TLS 1.2 context otherwise. That includes resumption by session id (TLS 1.2 clients without
 * tickets, such as curl): the binder's session cache answers it in either context, and TLS 1.2 is what
 * such a session needs even when the client also offers TLS 1.3.
 *
 * Under `require` (no `hello`: it is not read) every data connection gets the control context: one that
 * resumes sends no tickets, and one that does not is refused right after its handshake, which in TLS
 * 1.3 is complete on the client's side by then (a TLS 1.2 handshake ends with the server's flight, so
 * a TLS 1.2 refusal closes gently, `closeGently`, letting that flight out before the close_notify).
 */
function chooseContext(hello: ClientHelloInfo | undefined, options: DataTlsOptions): SecureContext {
  if (!hello || !offersTls12(hello)) return options.contexts.current;
  // Under `off` nothing is resumed: a ticket the client still offers (TLS 1.3 sends stateful ones even
  // without ticket keys) must not lead it back to TLS 1.3 and its tickets.
  const resumes = options.reuse.bind && (hello.psk || hello.ticket);
  return resumes ? options.contexts.current : options.contexts.data;
}

/**
 * Reads from `socket` until the ClientHello is complete (or clearly is not one), then puts every byte
 * back (`unshift`), so the TLS socket reads them first. Rejects with a 425 when the connection ends, the
 * time is up, or the transfer is aborted first.
 */
function readClientHello(socket: Socket, timeoutMs: number, signal: AbortSignal): Promise<ClientHelloInfo | undefined> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      stop();
      socket.destroy();
      reject(dataError(ABORTED));
    };
    const stop = watchClientHello(socket, timeoutMs, (err, hello) => {
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(hello);
    });
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Watches `socket` for its ClientHello: `done(undefined, hello)` once it is complete (the hello is
 * undefined when the bytes are not one this reader understands), every byte read put back (`unshift`)
 * and the socket paused; `done(error)` with a 425 when the connection ends first or `timeoutMs` passes
 * (the socket is destroyed). `done` may be called before this returns. The returned function stops
 * watching without calling `done`: the bytes read so far are put back and the socket is paused.
 */
export function watchClientHello(socket: Socket, timeoutMs: number, done: (err: FtpError | undefined, hello?: ClientHelloInfo) => void): () => void {
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  const finish = (err: FtpError | undefined, hello?: ClientHelloInfo, notify = true) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
    socket.pause();
    if (err) socket.destroy();
    else if (size > 0) socket.unshift(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    if (notify) done(err, hello);
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    const peek = peekClientHello(chunks.length === 1 ? chunk : Buffer.concat(chunks));
    if (peek.kind === 'hello') finish(undefined, peek.hello);
    else if (peek.kind === 'other' || size > MAX_PEEK_BYTES) finish(undefined, undefined);
  };
  const onEnd = () => finish(dataError(FAILED));
  const timer = setTimeout(() => finish(dataError(TIMED_OUT)), timeoutMs);
  if (socket.destroyed || socket.readableEnded) {
    onEnd();
  } else {
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  }
  return () => finish(undefined, undefined, false);
}

export const TIMED_OUT = 'TLS handshake on the data connection timed out.';
const FAILED = 'TLS handshake on the data connection failed.';
export const ABORTED = 'Data connection aborted.';

export function dataError(reason: string, code: 'FTP_ERR_DATA_CONNECTION' | 'FTP_ERR_TLS_REUSE' | 'FTP_ERR_CLIENT_CERT' = 'FTP_ERR_DATA_CONNECTION'): FtpError {
  return new FtpError(Code.cannotOpenData, reason, { code });
}
