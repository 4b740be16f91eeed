/**
 * The small-files driver: sequential downloads over one logged-in control connection (TYPE I set and,
 * for TLS, PBSZ 0 / PROT P done). Per file: PASV -> 227 -> connect the data socket (its TLS handshake
 * starts at once, offering the control connection's session) -> on TCP connect send RETR -> 150/125 ->
 * data until close + 226/250. A callback state machine, so the client adds as little latency as it can.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { CLIENT_TLS, type FtpClient } from './ftp-client.js';
import { ReplyLines } from './reply-lines.js';

export interface SmallResult {
  /** Files transferred. */
  n: number;
  /** Data connections whose TLS session was resumed. */
  resumed: number;
  /** Files that arrived with the wrong size. */
  bad: number;
}

export function runSmall(
  ftp: FtpClient,
  names: readonly string[],
  { secure = false, maxSeconds = Infinity, expectSize = -1 }: { secure?: boolean; maxSeconds?: number; expectSize?: number } = {},
): Promise<SmallResult> {
  return new Promise((resolve, reject) => {
    const ctrl = ftp.detach();
    const host = ftp.host;
    let idx = 0;
    let step = 0; // 1: wait 227, 2: wait 1xx, 3: wait 2xx
    let dataDone = false;
    let finalDone = false;
    let bytes = 0;
    let resumed = 0;
    let bad = 0;
    const t0 = Date.now();
    let finished = false;
    const send = (l: string) => ctrl.write(l + '\r\n');

    const end = (err?: Error) => {
      if (finished) return;
      finished = true;
      ctrl.off('data', onData);
      ctrl.off('error', end);
      ctrl.off('close', onClose);
      ftp.buf = lines.rest;
      ftp.attach(ctrl);
      if (err) reject(err);
      else resolve({ n: idx, resumed, bad });
    };
    const onClose = () => end(new Error('control connection closed'));

    const startFile = () => {
      if (idx >= names.length || (Date.now() - t0) / 1000 > maxSeconds) return end();
      step = 1;
      send('PASV');
    };
    const fileDone = () => {
      if (expectSize >= 0 && bytes !== expectSize) bad++;
      idx++;
      startFile();
    };
    const openData = (port: number) => {
      bytes = 0;
      dataDone = false;
      finalDone = false;
      const d: Socket | TLSSocket = secure
        ? tlsConnect({ ...CLIENT_TLS, host, port, ...(ftp.session ? { session: ftp.session } : {}) })
        : netConnect({ host, port });
      d.once('connect', () => {
        step = 2;
        send('RETR ' + names[idx]);
      });
      if (secure)
        d.once('secureConnect', () => {
          if ((d as TLSSocket).isSessionReused()) resumed++;
        });
      d.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      d.on('error', () => {});
      d.once('close', () => {
        dataDone = true;
        if (finalDone) fileDone();
      });
    };
    const reply = (code: number, text: string) => {
      if (step === 1) {
        if (code !== 227) return end(new Error(`PASV ${code}`));
        const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(text);
        if (!m) return end(new Error('bad PASV reply'));
        return openData(Number(m[5]) * 256 + Number(m[6]));
      }
      if (step === 2) {
        if (code >= 300) return end(new Error(`RETR ${code} ${text}`));
        if (code < 200) {
          step = 3;
          return;
        }
        // a 2xx without a 1xx first
      } else if (step !== 3) {
        return end(new Error(`unexpected reply ${code}`));
      }
      if (code !== 226 && code !== 250) return end(new Error(`RETR final ${code} ${text}`));
      step = 0;
      finalDone = true;
      if (dataDone) fileDone();
    };
    const lines = new ReplyLines(reply, () => !finished, ftp.buf);
    const onData = (c: Buffer) => lines.feed(c);
    ctrl.on('data', onData);
    ctrl.on('error', end);
    ctrl.on('close', onClose);
    startFile();
  });
}
