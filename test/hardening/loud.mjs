// Test harness preload (never part of ftpsd): turns an uncaught exception or unhandled rejection in the
// server process into a loud, recognisable exit (code 70) instead of a quiet stack trace.
process.on('uncaughtException', (err) => {
  process.stderr.write(`CRASH uncaughtException: ${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(70);
});
process.on('unhandledRejection', (err) => {
  process.stderr.write(`CRASH unhandledRejection: ${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(70);
});
