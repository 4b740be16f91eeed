/**
 * Which clients end a protected upload with TLS close_notify (docs/uploads.md): each uploads over
 * explicit FTPS with PROT P to a server on the default `uploads.requireCloseNotify: true`, where an
 * upload that ends without close_notify gets 426 and is not committed. A client missing on this machine
 * is skipped with the reason. `sessionReuse: allow`, since rclone and commons-net do not resume the
 * control connection's TLS session on data connections.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'basic-ftp';
import { describe, expect, it } from 'vitest';
import { PASS, USER } from '../helpers/server.js';
import { curl, curlTarget, lftp } from './clients.js';
import { expectSuccess, run, sha256, withLocalFile, withServer } from './helpers.js';

const COMMONS_NET = '/usr/share/java/commons-net.jar';

/** Whether `cmd` can be run (found on PATH). */
async function available(cmd: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${cmd}`]).then((r) => r.code === 0);
}

const JAVA_CLIENT = `
import org.apache.commons.net.ftp.FTP;
import org.apache.commons.net.ftp.FTPSClient;
import org.apache.commons.net.util.TrustManagerUtils;
import java.io.FileInputStream;
public class Upload {
  public static void main(String[] a) throws Exception {
    FTPSClient c = new FTPSClient(false);
    c.setTrustManager(TrustManagerUtils.getAcceptAllTrustManager());
    c.connect("127.0.0.1", Integer.parseInt(a[0]));
    if (!c.login(a[1], a[2])) throw new Exception("login: " + c.getReplyString());
    c.execPBSZ(0);
    c.execPROT("P");
    c.setFileType(FTP.BINARY_FILE_TYPE);
    c.enterLocalPassiveMode();
    try (FileInputStream in = new FileInputStream(a[3])) {
      if (!c.storeFile(a[4], in)) throw new Exception("STOR: " + c.getReplyString());
    }
    c.logout();
    c.disconnect();
  }
}
`;

describe('clients that end a protected upload with close_notify (uploads.requireCloseNotify: true)', () => {
  const server = withServer({ sessionReuse: 'allow' });
  const local = withLocalFile(1024 * 1024);

  async function expectStored(name: string): Promise<void> {
    expect(sha256(await readFile(join(server().root, name)))).toBe(local.hash);
  }

  it('curl', async () => {
    const { args, url } = curlTarget(server(), 'explicit');
    expectSuccess(await curl([...args, '-T', local.path, `${url}/curl.bin`]));
    await expectStored('curl.bin');
  });

  it('lftp', async () => {
    const t = server();
    expectSuccess(
      await lftp(`set ftp:ssl-force true; set ftp:ssl-protect-data true; open -u ${USER},${PASS} -p ${t.port} ${t.host}; put ${local.path} -o lftp.bin`),
    );
    await expectStored('lftp.bin');
  });

  it('Python ftplib (FTP_TLS.storbinary)', async (ctx) => {
    if (!(await available('python3'))) ctx.skip(true, 'python3 is not installed');
    const script = [
      'import ftplib, ssl, sys',
      'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
      'f = ftplib.FTP_TLS(context=ctx); f.connect("127.0.0.1", int(sys.argv[1])); f.login(sys.argv[2], sys.argv[3]); f.prot_p()',
      'f.storbinary("STOR ftplib.bin", open(sys.argv[4], "rb")); f.quit()',
    ].join('\n');
    expectSuccess(await run('python3', ['-c', script, String(server().port), USER, PASS, local.path]));
    await expectStored('ftplib.bin');
  });

  it('basic-ftp', async () => {
    const client = new Client();
    try {
      await client.access({ host: '127.0.0.1', port: server().port, user: USER, password: PASS, secure: true, secureOptions: { rejectUnauthorized: false } });
      await client.uploadFrom(local.path, 'basic.bin');
    } finally {
      client.close();
    }
    await expectStored('basic.bin');
  });

  it('rclone', async (ctx) => {
    if (!(await available('rclone'))) ctx.skip(true, 'rclone is not installed');
    const obscured = expectSuccess(await run('rclone', ['obscure', PASS])).stdout.trim();
    const remote = `:ftp,host=127.0.0.1,port=${server().port},user=${USER},pass=${obscured},explicit_tls=true,no_check_certificate=true:`;
    expectSuccess(await run('rclone', ['copyto', local.path, `${remote}/rclone.bin`, '--config', '/dev/null']));
    await expectStored('rclone.bin');
  });

  it('Apache commons-net (FTPSClient.storeFile, Java)', async (ctx) => {
    if (!existsSync(COMMONS_NET)) ctx.skip(true, `${COMMONS_NET} is missing (Debian: libcommons-net-java)`);
    if (!(await available('javac'))) ctx.skip(true, 'javac is not installed (Debian: default-jdk-headless)');
    const dir = local.work.path;
    await writeFile(join(dir, 'Upload.java'), JAVA_CLIENT);
    expectSuccess(await run('javac', ['-cp', COMMONS_NET, '-d', dir, join(dir, 'Upload.java')]));
    expectSuccess(await run('java', ['-cp', `${COMMONS_NET}:${dir}`, 'Upload', String(server().port), USER, PASS, local.path, 'commons.bin']));
    await expectStored('commons.bin');
  });
});
