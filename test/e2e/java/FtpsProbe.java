/*
 * A minimal Apache commons-net FTPSClient run for the interoperability tests: explicit or implicit
 * FTPS, PBSZ 0 + PROT P, passive mode, one download and one upload. Prints one JSON line with the
 * replies and any exception, so the test can see what a Java (JSSE) client experiences.
 *
 * Usage: java -cp commons-net.jar:DIR FtpsProbe HOST PORT USER PASS explicit|implicit TLSv1.2|TLSv1.3 REMOTE_FILE [KEYSTORE.p12]
 * With a PKCS#12 keystore (password "changeit"), the client presents its certificate on every handshake.
 */
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.io.FileInputStream;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.apache.commons.net.ftp.FTP;
import org.apache.commons.net.ftp.FTPSClient;

public class FtpsProbe {
  private static String json(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  public static void main(String[] args) throws Exception {
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    boolean implicit = args[4].equals("implicit");
    X509TrustManager trustAll = new X509TrustManager() {
      public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) {}
      public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) {}
      public java.security.cert.X509Certificate[] getAcceptedIssuers() { return new java.security.cert.X509Certificate[0]; }
    };
    SSLContext ctx = SSLContext.getInstance(args[5]);
    javax.net.ssl.KeyManager[] keys = null;
    if (args.length > 7) {
      KeyStore store = KeyStore.getInstance("PKCS12");
      try (FileInputStream in = new FileInputStream(args[7])) { store.load(in, "changeit".toCharArray()); }
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(store, "changeit".toCharArray());
      keys = kmf.getKeyManagers();
    }
    ctx.init(keys, new TrustManager[] { trustAll }, null);
    FTPSClient ftp = new FTPSClient(implicit, ctx);
    ftp.setConnectTimeout(10_000);
    ftp.setDefaultTimeout(20_000);
    ftp.setDataTimeout(java.time.Duration.ofSeconds(20));
    String download = null, upload = null, error = null, downloaded = null;
    try {
      ftp.connect(host, port);
      if (!ftp.login(args[2], args[3])) throw new RuntimeException("login failed: " + ftp.getReplyString());
      ftp.execPBSZ(0);
      ftp.execPROT("P");
      ftp.enterLocalPassiveMode();
      ftp.setFileType(FTP.BINARY_FILE_TYPE);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      try {
        boolean ok = ftp.retrieveFile(args[6], out);
        download = ftp.getReplyString().trim();
        if (ok) downloaded = out.toString(StandardCharsets.UTF_8);
      } catch (Exception e) {
        download = "exception: " + e.getClass().getSimpleName() + ": " + e.getMessage();
        // The 425 the server sent is still on the control connection.
        try { ftp.getReply(); download += " | then: " + ftp.getReplyString().trim(); } catch (Exception ignored) {}
      }
      try {
        ftp.storeFile("from-java.txt", new ByteArrayInputStream("uploaded by commons-net".getBytes(StandardCharsets.UTF_8)));
        upload = ftp.getReplyString().trim();
      } catch (Exception e) {
        upload = "exception: " + e.getClass().getSimpleName() + ": " + e.getMessage();
      }
      ftp.logout();
    } catch (Exception e) {
      error = e.getClass().getSimpleName() + ": " + e.getMessage();
    } finally {
      try { ftp.disconnect(); } catch (Exception ignored) {}
    }
    System.out.println("{\"download\":" + json(download) + ",\"downloaded\":" + json(downloaded) + ",\"upload\":" + json(upload) + ",\"error\":" + json(error) + "}");
  }
}
