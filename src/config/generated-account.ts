/**
 * The default account's generated password survives restarts: its argon2id hash is kept in the state
 * directory (`generated-user.json`, mode 0600, the password itself never written), and a later start
 * uses that hash instead of generating a new password. `--new-password` replaces it. The banner says
 * which (src/runtime/banner.ts). Nothing here applies when users are configured or FTPSD_PASSWORD is set.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashPassword, isArgon2Hash } from '../auth/password.js';
import { ConfigError } from './errors.js';
import type { ResolvedConfig } from './load.js';

export const GENERATED_USER_FILE = 'generated-user.json';

export interface KeepOptions {
  /** `--new-password`: generate a new password even when one is kept. */
  renew: boolean;
  /** Write the hash of a new password (the process that prints the banner); workers and reloads only read. */
  write: boolean;
}

/**
 * `config` with the default account's password taken from the state directory when one is kept there
 * (`generatedPassword` then undefined, `generatedPasswordFile` set), or with a newly generated one's hash
 * written there.
 */
export async function keepGeneratedAccount(config: ResolvedConfig, options: KeepOptions): Promise<ResolvedConfig> {
  const [user, ...others] = config.users;
  if (config.generatedPassword === undefined || !user || others.length > 0) return config;
  const file = join(config.stateDir, GENERATED_USER_FILE);
  if (!options.renew) {
    const kept = await readKept(file, user.name);
    if (kept !== undefined) return { ...config, users: [{ ...user, password: { hash: kept } }], generatedPassword: undefined, generatedPasswordFile: file, generatedPasswordKept: true };
  }
  if (!options.write) return config;
  const hash = await hashPassword(config.generatedPassword);
  try {
    await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
    await writeAtomic(file, JSON.stringify({ name: user.name, hash }) + '\n');
  } catch (err) {
    throw ConfigError.of('stateDir', `cannot keep the generated password in ${file}: ${(err as Error).message}`);
  }
  return { ...config, generatedPasswordFile: file, generatedPasswordKept: false };
}

/** The kept hash for `name`, or undefined when there is none (a missing or unusable file: a new one). */
async function readKept(file: string, name: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ConfigError.of('stateDir', `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as { name?: unknown; hash?: unknown };
    if (parsed.name === name && typeof parsed.hash === 'string' && isArgon2Hash(parsed.hash)) return parsed.hash;
  } catch {
    // unusable: replaced by a new one
  }
  return undefined;
}

async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode: 0o600, flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
