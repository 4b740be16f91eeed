/**
 * Reading and validating a config file: YAML syntax errors and schema errors alike come back as a
 * ConfigError listing every issue with its field path.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { errnoText } from './errno-text.js';
import { ConfigError, zodIssues, type ConfigIssue } from './errors.js';
import { closestKey, schemaKeys } from './key-suggestions.js';
import { configSchema, type ConfigFile } from './schema.js';

// yaml is loaded (synchronously) when a config text is first parsed: a start without a config file never
// holds it (about 3 MiB).
const require = createRequire(import.meta.url);
let yaml: typeof import('yaml') | undefined;

let known: Set<string> | undefined;
/** Every key of the config file, for "did you mean" (walked once, when a key is unknown). */
function knownKeys(): Set<string> {
  known ??= schemaKeys(configSchema);
  return known;
}

/** Parses and validates config text; `file` is only used in messages. */
export function parseConfigText(text: string, file?: string): ConfigFile {
  yaml ??= require('yaml') as typeof import('yaml');
  const doc = yaml.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((e) => {
      const [line, col] = e.linePos?.[0] ? [e.linePos[0].line, e.linePos[0].col] : [undefined, undefined];
      const where = line !== undefined ? `line ${line}, column ${col}` : 'YAML';
      return { field: where, message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '') };
    });
    throw new ConfigError(issues, file);
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const result = configSchema.safeParse(data);
  if (!result.success) throw new ConfigError(zodIssues(result.error, '', (key) => closestKey(key, knownKeys())), file);
  return result.data;
}

/** Reads and validates a config file; `label` (default: the path) names it in messages. */
export async function readConfigFile(file: string, label = file): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw ConfigError.of('', `cannot read config file: ${errnoText(err)}`, label);
  }
  return parseConfigText(text, label);
}
