# A Python ssl client that presents a client certificate (ftplib FTP_TLS with a context that
# load_cert_chain), driven by a JSON config in argv[1]; prints what it saw as one JSON line.
#   host, port, implicit?, cert?, key?, user, password?, list?: bool, upload?: str,
#   data: "reuse" (resume the control session) | "fresh" (a new SSLContext per data socket, no session:
#   what Java's JSSE does) | "fresh-other" (a fresh context with dataCert/dataKey) | "fresh-none" (no cert)
import ftplib, io, json, socket, ssl, sys

cfg = json.loads(sys.argv[1])


def context(cert=None, key=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cfg.get('tlsMax') == '1.2':
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


class Client(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        mode = cfg.get('data', 'reuse')
        if mode == 'reuse':
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        elif mode == 'fresh':
            conn = context(cfg.get('cert'), cfg.get('key')).wrap_socket(conn, server_hostname=self.host)
        elif mode == 'fresh-other':
            conn = context(cfg.get('dataCert'), cfg.get('dataKey')).wrap_socket(conn, server_hostname=self.host)
        elif mode == 'fresh-none':
            conn = context().wrap_socket(conn, server_hostname=self.host)
        return conn, size

    def connect(self, host='', port=0, timeout=-999, source_address=None):
        if not cfg.get('implicit'):
            return super().connect(host, port, timeout, source_address)
        self.host, self.port, self.timeout = host, port, timeout
        raw = socket.create_connection((host, port), timeout)
        self.af = raw.family
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.file = self.sock.makefile('r', encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


out = {}
try:
    c = Client(context=context(cfg.get('cert'), cfg.get('key')), timeout=20)
    c.connect(cfg['host'], cfg['port'])
    if not cfg.get('implicit'):
        c.auth()
    c.putcmd('USER ' + cfg['user'])
    try:
        resp = c.getresp()
    except ftplib.Error as e:
        resp = str(e)
    out['user'] = resp[:3]
    if resp.startswith('3'):
        try:
            out['pass'] = c.sendcmd('PASS ' + cfg.get('password', ''))[:3]
        except ftplib.Error as e:
            out['pass'] = str(e)[:3]
    if out.get('user', '').startswith('2') or out.get('pass', '').startswith('2'):
        c.prot_p()
        if cfg.get('upload'):
            try:
                out['upload'] = c.storbinary('STOR ' + cfg['upload'], io.BytesIO(b'hello from python\n'))[:3]
            except ftplib.Error as e:
                out['upload'] = str(e)[:3]
            except (ssl.SSLError, OSError, EOFError) as e:
                out['upload'] = 'data: ' + type(e).__name__
        if cfg.get('list'):
            try:
                lines = []
                out['list'] = c.retrlines('LIST', lines.append)[:3]
                out['lines'] = lines
            except ftplib.Error as e:
                out['list'] = str(e)[:3]
            except (ssl.SSLError, OSError, EOFError) as e:
                out['list'] = 'data: ' + type(e).__name__
    try:
        c.quit()
    except Exception:
        pass
except (ssl.SSLError, OSError, EOFError, ftplib.Error) as e:
    out['error'] = type(e).__name__ + ': ' + str(e)
print(json.dumps(out))
