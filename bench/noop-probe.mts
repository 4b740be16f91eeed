// temp probe (not committed)
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { startFtpsd, rsaCertificate } from './lib/servers.js';
const cpu = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const main = process.argv[2];
const N = 20000;
const { cert, key } = await rsaCertificate('/tmp/ps-state');
const t = await startFtpsd({ root: '/tmp/bench/home', cert, key, user: 'bench', pass: 'benchpass', pasvPorts: '31850-31999', cwd: '/tmp/ps-state', ...(main ? { main } : {}) });
const s = connect(t.port, '127.0.0.1');
let buf = ''; let lines = 0; let want = 0; let done: () => void = () => {};
s.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\r\n')) >= 0) { buf = buf.slice(i + 2); lines++; } if (lines >= want) done(); });
const until = (n: number) => new Promise<void>((r) => { want = n; done = r; if (lines >= n) r(); });
await until(1);
s.write('USER bench\r\nPASS benchpass\r\n'); await until(3);
for (let round = 0; round < 4; round++) {
  const c0 = cpu(t.pids[0]!); const t0 = performance.now();
  const base = lines;
  // 100 at a time: bounded
  for (let k = 0; k < N; k += 100) { s.write('NOOP\r\n'.repeat(100)); await until(base + k + 100); }
  console.log(`round ${round}: ${((cpu(t.pids[0]!) - c0) * 1000 / N).toFixed(1)} us server CPU per NOOP, ${((performance.now() - t0) * 1000 / N).toFixed(1)} us wall`);
}
s.end(); await t.stop();
