/**
 * Active data connections (PORT, EPRT): the server connects to the client, only ever to the control
 * connection's peer address (no FXP or bounce attacks) and never to a privileged port. The connection is
 * made from the control connection's local address.
 */
import { Socket } from 'node:net';
import { FtpError } from '../base/errors.js';
import { Code } from '../base/reply-codes.js';

export interface ActiveTarget {
  host: string;
  port: number;
  /** The control connection's local address. */
  localAddress: string | undefined;
}

/**
 * Connects to the client. `paused`: the socket reads nothing until asked (as a passive one accepted
 * with `pauseOnConnect`), so an upload can move it to caller-owned read buffers (receive-file.ts).
 */
export function connectActive(target: ActiveTarget, timeoutMs: number, signal: AbortSignal, paused = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // Half-open allowed: an upload checks after the client's FIN whether it was really a reset (data-end.ts).
    const socket = new Socket({ allowHalfOpen: true });
    socket.setNoDelay(true);
    if (paused) socket.pause();
    socket.connect({
      host: target.host,
      port: target.port,
      ...(target.localAddress ? { localAddress: target.localAddress } : {}),
    });
    const fail = () => {
      cleanup();
      socket.destroy();
      reject(new FtpError(Code.cannotOpenData, "Can't open data connection.", { code: 'FTP_ERR_DATA_CONNECTION' }));
    };
    const timer = setTimeout(fail, timeoutMs);
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const cleanup = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', fail);
      socket.off('connect', onConnect);
      socket.off('error', fail);
    };
    socket.on('error', () => {}); // the owner adds its own handling; never unhandled
    socket.once('connect', onConnect);
    socket.once('error', fail);
    signal.addEventListener('abort', fail, { once: true });
  });
}
