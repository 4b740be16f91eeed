/** A loopback TCP server with half-open sockets (as the data listeners are); `accepted()` gives the next socket. */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface LoopbackListener {
  server: Server;
  port: number;
  accepted: () => Promise<Socket>;
}

export async function loopbackListener(): Promise<LoopbackListener> {
  const queue: Socket[] = [];
  const waiting: ((s: Socket) => void)[] = [];
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    const w = waiting.shift();
    if (w) w(s);
    else queue.push(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    accepted: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((r) => waiting.push(r))),
  };
}
