/**
 * `ftpsd hash-password`: reads a password from stdin (a pipe, or a hidden prompt on a terminal, asked
 * twice) and prints its argon2id PHC hash, for the `password` of a user in the config file.
 */
import { hashPassword } from '../auth/password.js';
import { UsageError } from '../runtime/exit.js';
import { readSecret } from './read-secret.js';

export async function hashPasswordCommand(): Promise<void> {
  const password = await readSecret('Password: ');
  if (password === '') throw new UsageError('password must not be empty');
  if (process.stdin.isTTY) {
    const again = await readSecret('Repeat password: ');
    if (again !== password) throw new UsageError('passwords do not match');
  }
  process.stdout.write(`${await hashPassword(password)}\n`);
}
