/**
 * Protection of data connections (PROT P): the server is the TLS server on the data connection too
 * (RFC 4217 section 7). Under `session-reuse require` the connection must resume a TLS session of its
 * own control connection, else it is refused with a 425 that says why.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { FtpError } from '../protocol/errors.js';
import type { SessionReuse } from '../settings.js';
import type { SessionBinder } from '../tls/session-reuse.js';

export interface ProtectOptions {
  context: SecureContext;
  binder: SessionBinder | undefined;
  reuse: SessionReuse;
  handshakeTimeoutMs: number;
  signal: AbortSignal;
}

export async function protectDataSocket(socket: Socket, options: ProtectOptions): Promise<TLSSocket> {
  const tls = new TLSSocket(socket, {
    isServer: true,
    secureContext: options.context,
    ...(options.binder ? { server: options.binder.dataServer as never } : {}),
  });
  tls.on('error', () => {}); // failures are handled below and by the transfer
  await new Promise<void>((resolve, reject) => {
    const fail = (reason: string) => () => {
      cleanup();
      tls.destroy();
      reject(new FtpError(425, reason, { code: 'FTP_ERR_DATA_CONNECTION' }));
    };
    const onTimeout = fail('TLS handshake on the data connection timed out.');
    const onError = fail('TLS handshake on the data connection failed.');
    const onAbort = fail('Data connection aborted.');
    const timer = setTimeout(onTimeout, options.handshakeTimeoutMs);
    const onSecure = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      tls.off('secure', onSecure);
      tls.off('error', onError);
      tls.off('close', onError);
      options.signal.removeEventListener('abort', onAbort);
    };
    tls.once('secure', onSecure);
    tls.once('error', onError);
    tls.once('close', onError);
    options.signal.addEventListener('abort', onAbort, { once: true });
  });
  if (options.reuse === 'require' && !options.binder?.owns(tls)) {
    const resumed = tls.isSessionReused(); // ask before destroy(): afterwards it is always false
    tls.destroy();
    throw new FtpError(
      425,
      resumed
        ? 'Data connection refused: it resumed a TLS session of another control connection.'
        : 'Data connection refused: TLS session reuse required (resume the control connection\'s TLS session).',
      { code: 'FTP_ERR_DATA_CONNECTION' },
    );
  }
  return tls;
}
