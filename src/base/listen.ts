/**
 * Starts a listener and waits for it: resolves once it listens, rejects with the error that stopped it
 * (EADDRINUSE, EACCES...). The caller installs its own 'error' handler afterwards, so a failure to
 * listen is the caller's error (one line at start-up, a port to skip), not a logged stack.
 */
import type { ListenOptions, Server } from 'node:net';

export function listenOn(server: Server, options: ListenOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
