/**
 * From a ResolvedConfig to the options of FtpServer: creates the served directories, loads (or
 * generates) the certificate and builds the authenticator. This is the step with side effects.
 */
import { mkdir } from 'node:fs/promises';
import { UserAuthenticator, type UserAccount } from '../auth/users.js';
import type { Logger } from '../logger.js';
import type { FtpServerOptions } from '../server.js';
import { loadCertificate, stateCertificate, type Certificate } from './certificate.js';
import { ConfigError } from './errors.js';
import type { ResolvedConfig } from './load.js';
import { pickUserPolicy } from './user-policy.js';

export interface PreparedServer {
  options: FtpServerOptions;
  certificate: Certificate;
}

export async function toServerOptions(config: ResolvedConfig, logger: Logger): Promise<PreparedServer> {
  await makeDir(config.root, 'root');
  for (const [i, user] of config.users.entries()) await makeDir(user.home, `users[${i}].home`);
  if (config.anonymous) await makeDir(config.anonymous.home, 'anonymous.home');

  const certificate = config.tls
    ? await loadCertificate(config.tls.cert, config.tls.key, config.tls.fields)
    : await stateCertificate(config.stateDir);

  const users: UserAccount[] = config.users.map((u) => ({ name: u.name, password: u.password, home: u.home, readOnly: u.readOnly, ...pickUserPolicy(u) }));
  const options: FtpServerOptions = {
    listen: config.listen,
    implicitListen: config.implicitListen,
    tls: { cert: certificate.cert, key: certificate.key },
    authenticator: new UserAuthenticator(users, config.anonymous, { uploads: config.uploads }),
    tlsRequired: config.tlsRequired,
    sessionReuse: config.sessionReuse,
    timeouts: config.timeouts,
    limits: config.limits,
    security: config.security,
    logger,
    ...(config.pasvPorts ? { pasvPorts: config.pasvPorts } : {}),
    ...(config.pasvAddress !== undefined ? { pasvAddress: config.pasvAddress } : {}),
  };
  return { options, certificate };
}

async function makeDir(path: string, field: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw ConfigError.of(field, `cannot create directory ${path}: ${code === 'EEXIST' || code === 'ENOTDIR' ? 'not a directory' : code ?? (err as Error).message}`);
  }
}
