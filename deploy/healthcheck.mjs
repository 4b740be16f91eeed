#!/usr/bin/env node
// The container's health check (deploy/Containerfile): GET /healthz on ftpsd's metrics endpoint when
// FTPSD_METRICS_LISTEN is set (200 while serving, 503 once shutting down), else a TCP connection to
// the first FTP listener (FTPSD_LISTEN, default :2121). Exit code 0: healthy, 1: not.
import { connect } from 'node:net';

/** `[::1]:9102`, `127.0.0.1:9102`, `:9102` or `9102` -> host and port; all interfaces -> loopback. */
function target(text, defaultPort) {
  const value = (text ?? '').split(',')[0].trim();
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const host = m ? (m[1] ?? m[2] ?? '') : '';
  const port = m ? Number(m[3]) : defaultPort;
  const any = host === '' || host === '::' || host === '0.0.0.0' || host === '*';
  return { host: any ? '127.0.0.1' : host, port };
}

const fail = (why) => {
  console.error(`unhealthy: ${why}`);
  process.exit(1);
};
const timer = setTimeout(() => fail('no answer in 4 s'), 4000);

const metrics = process.env.FTPSD_METRICS_LISTEN;
if (metrics && metrics !== 'off') {
  const { host, port } = target(metrics, 9102);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`;
  fetch(url).then(
    (res) => (res.ok ? process.exit(0) : fail(`${url}: HTTP ${res.status}`)),
    (err) => fail(`${url}: ${err.cause?.code ?? err.message}`),
  );
} else {
  const { host, port } = target(process.env.FTPSD_LISTEN, 2121);
  const socket = connect({ host, port });
  socket.once('connect', () => {
    clearTimeout(timer);
    socket.destroy();
    process.exit(0);
  });
  socket.once('error', (err) => fail(`${host}:${port}: ${err.code ?? err.message}`));
}
