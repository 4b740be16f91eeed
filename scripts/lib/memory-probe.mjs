// Soak harness preload (never part of ftpsd): on SIGUSR2, run a full GC (needs --expose-gc) and print
// the process's memory figures on stderr as one line: `MEM {"rss":...,"heapUsed":...}`.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  process.stderr.write(`MEM ${JSON.stringify(process.memoryUsage())}\n`);
});
