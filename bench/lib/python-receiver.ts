/**
 * The Python receiver the floor benches set beside Node (bench/receive-floor.ts, bench/transfer-floor.ts):
 * a Python function, to be put into a script that imports `os`. `receive_to_file(s, path, eof)` reads `s`
 * with `recv_into` into one reused 256 KiB buffer, gathers the bytes into 1 MiB chunks and writes each
 * full chunk to `path` (the rest at the end), until the end of the stream or an exception in `eof` (a TLS
 * peer that closes without close_notify: `ssl.SSLEOFError`).
 */
export const PY_RECEIVE_TO_FILE = String.raw`
def receive_to_file(s, path, eof=()):
    view = memoryview(bytearray(256 * 1024))
    chunk = bytearray(1 << 20); filled = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    while True:
        try:
            n = s.recv_into(view)
        except eof:
            break
        if n == 0: break
        off = 0
        while off < n:
            k = min(n - off, len(chunk) - filled)
            chunk[filled:filled + k] = view[off:off + k]; filled += k; off += k
            if filled == len(chunk): os.write(fd, chunk); filled = 0
    if filled: os.write(fd, memoryview(chunk)[:filled])
    os.close(fd)
`;
