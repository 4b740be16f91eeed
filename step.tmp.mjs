const fs = await import('node:fs');
const pss = () => { const s = fs.readFileSync('/proc/self/smaps_rollup','utf8'); const g=k=>+s.match(new RegExp(k+':\\s+(\\d+)'))[1]; return `rss ${g('Rss')} anon ${g('Anonymous')}`; };
let last = 0;
for (const m of process.argv.slice(2)) {
  await import(m.startsWith('.') ? process.cwd() + '/' + m : m);
  await new Promise(r => setTimeout(r, 50)); gc();
  const r = process.memoryUsage();
  console.log(m.padEnd(40), pss(), 'heapUsed', Math.round(r.heapUsed/1024), 'ext', Math.round(r.external/1024));
}
