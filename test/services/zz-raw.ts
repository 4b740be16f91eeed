import { connect } from 'node:net';
import { startSwift } from './swift.js';
async function main() {
  const s = await startSwift();
  const port = Number(new URL(s.endpoint).port);
  const sock = connect(port, '127.0.0.1');
  let data = '';
  sock.on('data', (d) => (data += d.toString()));
  sock.on('close', () => (data += '<<CLOSED>>'));
  sock.write('HEAD /bench-b/nope HTTP/1.1\r\nHost: x\r\nAuthorization: AWS test:tester:xxxx\r\nDate: Mon, 07 Dec 2026 17:20:48 GMT\r\n\r\n');
  await new Promise((r) => setTimeout(r, 1500));
  console.log(JSON.stringify(data));
  sock.destroy();
  await s.stop();
}
main();
