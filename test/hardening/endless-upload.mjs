// A client process for the SIGKILL tests (upload-ends.test.ts): logs in, starts an upload and sends data
// for ever, never ending it. Prints "sending" once the upload runs; the test then kills it with SIGKILL.
//
//   node endless-upload.mjs PORT USER PASS PROT COMMAND     (PROT: C or P; COMMAND: "STOR name", ...)
//
// Plain Node (net, tls), no helpers, so it starts fast. Under PROT P the data connection resumes the
// control connection's TLS session (the server's default sessionReuse: require).
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

const [port, user, pass, prot, command] = process.argv.slice(2);
const host = '127.0.0.1';

let buffer = '';
let control = netConnect({ port: Number(port), host });
const waiting = [];
const replies = [];
function attach(s) {
  s.setEncoding('utf8');
  s.on('data', (d) => {
    buffer += d;
    let m;
    while ((m = /^(\d{3}) [^\r\n]*\r\n/m.exec(buffer))) {
      replies.push(m[0].trim());
      buffer = buffer.slice(m.index + m[0].length);
      waiting.shift()?.();
    }
  });
}
async function reply() {
  while (replies.length === 0) await new Promise((r) => waiting.push(r));
  return replies.shift();
}
async function cmd(line, code) {
  control.write(`${line}\r\n`);
  const r = await reply();
  if (!r.startsWith(String(code))) throw new Error(`${line}: ${r}`);
  return r;
}

attach(control);
await once(control, 'connect');
await reply(); // 220
let session;
if (prot === 'P') {
  await cmd('AUTH TLS', 234);
  control.removeAllListeners('data');
  const tls = tlsConnect({ socket: control, rejectUnauthorized: false, servername: 'localhost' });
  tls.on('session', (s) => (session = s));
  await once(tls, 'secureConnect');
  control = tls;
  attach(tls);
}
await cmd(`USER ${user}`, 331);
await cmd(`PASS ${pass}`, 230);
if (prot === 'P') {
  await cmd('PBSZ 0', 200);
  await cmd('PROT P', 200);
}
await cmd('TYPE I', 200);
const epsv = await cmd('EPSV', 229);
const dataPort = Number(/\|\|\|(\d+)\|/.exec(epsv)[1]);
const raw = netConnect({ port: dataPort, host });
await once(raw, 'connect');
control.write(`${command}\r\n`);
const opening = await reply();
if (!opening.startsWith('150')) throw new Error(opening);
const data = prot === 'P' ? tlsConnect({ socket: raw, rejectUnauthorized: false, servername: 'localhost', session }) : raw;
if (prot === 'P') await once(data, 'secureConnect');
const chunk = Buffer.alloc(64 * 1024, 0x55);
process.stdout.write('sending\n');
const pump = () => {
  while (data.write(chunk));
  data.once('drain', pump);
};
pump();
