/**
 * `ftpsd check-config FILE`: prints `ok`, or every problem with its field path on stderr, one per line
 * (exit code 2). It checks the file itself (syntax, options, values), not the files it points to.
 */
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';

export async function checkConfigCommand(file: string): Promise<number> {
  try {
    await loadConfig({ config: file }, { env: {} });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // A line about the file as a whole or its YAML syntax names the file.
    const lines = err.lines().map((l) => (/^(cannot read|line \d+, column \d+:|YAML:)/.test(l) ? `${file}: ${l}` : l));
    process.stderr.write(lines.map((l) => `${l.replace(/[\r\n]+/g, ' ')}\n`).join(''));
    return 2;
  }
  process.stdout.write('ok\n');
  return 0;
}
