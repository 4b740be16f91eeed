#!/usr/bin/env node
/**
 * The `ftpsd` command: serve (default) | hash-password | gen-cert | check-config | user | ban | admin.
 * Errors are one line on stderr; bad flags or config exit with code 2, other failures with 1.
 * Each command's code is loaded when that command runs (so `serve` holds none of the others, and the
 * admin console is loaded only when adminListen is set).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { DEFAULTS } from '../config/defaults.js';
import { ENV, FLAG_OPTIONS, optionMeta, type CliFlags } from '../config/sources.js';
import { EXIT_USAGE, UsageError, exitCodeOf, oneLine, reportError } from '../runtime/exit.js';
import type { GenCertFlags } from './gen-cert.js';
import { serveCommand } from '../cluster/launch.js';
import { USER_DB_ENV } from '../userdb/connect.js';
import type { UserFlags } from './user.js';
import type { AdminFlags } from './admin.js';
import type { AdminStarter } from '../runtime/admin-host.js';

/** The admin console's starter, loaded on first use (only a server with adminListen calls it). */
const startAdminConsole: AdminStarter = async (...args) => (await import('../admin/console.js')).startAdminConsole(...args);

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];
const env = (name: string) => ` [env: ${name}]`;

function buildProgram(): Command {
  const program = new Command('ftpsd')
    .description('An FTP server with first-class FTPS (explicit, implicit, CCC, TLS session reuse).')
    .version(version, '-V, --version')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (text, write) => write(`${oneLine(text)}\n`) })
    .addHelpText('after', '\nWithout a command, ftpsd serves: see "ftpsd serve --help" for its options.');

  const serve = program
    .command('serve', { isDefault: true })
    .description('Run the server (the default command). Flags override the environment, which overrides the config file.')
    .option('--config <file>', `YAML config file (see examples/ftpsd.yaml); SIGHUP reloads it${env(ENV.config)}`)
    .option('--user <name:password>', `an account with a plain password kept in memory; repeatable (default: "${DEFAULTS.userName}" with a random password, or ${ENV.password})`, collect)
    .option('--anonymous', `allow read-only anonymous logins (users "anonymous" and "ftp")${env(ENV.anonymous)}`)
    .option('--cert <file>', `PEM certificate (chain allowed); with --key (default: self-signed, in the state directory)${env(ENV.cert)}`)
    .option('--key <file>', `PEM private key; with --cert${env(ENV.key)}`)
    .option('--client-ca <file>', `PEM bundle of the CAs that sign client certificates: every TLS handshake asks for one (see docs/authentication.md)${env(ENV.clientCa)}`)
    .option('--client-cert-required', 'with --client-ca: refuse TLS handshakes without a valid client certificate')
    .option('--acme-domain <name>', `get the certificate from an ACME CA (Let's Encrypt) for this name; repeatable (not with --cert/--key; see docs/acme.md)${env(ENV.acmeDomains)}`, collect)
    .option('--acme-http-listen <host:port>', 'where the ACME http-01 responder listens; port 80 of each name must reach it (default: [::]:80)');
  // Every option's flag, from its schema (the `flag` metadata: config/schema.ts and the schemas it spreads in).
  for (const key of FLAG_OPTIONS) {
    const { flag, flagHelp, env: name, list, repeatable } = optionMeta(key);
    const help = `${flagHelp ?? ''}${name ? env(name) : ''}`;
    if (list || repeatable) serve.option(flag!, help, collect);
    else serve.option(flag!, help);
  }
  serve
    .option('--new-password', 'generate a new password for the default account (its hash is kept in the state directory, reused at each start)')
    // `serve` is the default command, so `ftpsd frob` arrives here as an argument (kept out of --help).
    .allowExcessArguments()
    .usage('[options]')
    .action(async (flags: CliFlags, command: Command) => {
      const unexpected = command.args;
      if (unexpected.length > 0) {
        throw new UsageError(`unknown command '${unexpected[0]}' (commands: serve, hash-password, gen-cert, check-config, user, ban)`);
      }
      await serveCommand(flags, { version, admin: startAdminConsole });
    });

  program
    .command('hash-password')
    .description('Read a password from stdin (a pipe, or a hidden prompt) and print its argon2id hash for the config file.')
    .action(async () => (await import('./hash-password.js')).hashPasswordCommand());

  program
    .command('gen-cert')
    .description('Write a self-signed ECDSA certificate and key, and print its SHA-256 fingerprint.')
    .option('--cert <file>', 'certificate file to write', 'cert.pem')
    .option('--key <file>', 'key file to write (mode 0600)', 'key.pem')
    .option('--name <name>', 'extra DNS name or IP address for the certificate; repeatable', collect)
    .option('--force', 'replace existing files')
    .action(async (flags: GenCertFlags) => (await import('./gen-cert.js')).genCertCommand(flags));

  program
    .command('check-config')
    .description('Validate a config file: prints "ok", or every error with its field, one per line (exit code 2).')
    .argument('<file>', 'YAML config file')
    .action(async (file: string) => {
      process.exitCode = await (await import('./check-config.js')).checkConfigCommand(file);
    });

  addUserCommands(program);
  return program;
}

/** `ftpsd user ...`, `ftpsd ban ...` and `ftpsd admin ...` (src/cli/user.ts, ban.ts, admin.ts): the user database. */
function addUserCommands(program: Command): void {
  // A connection the database left half-open must not keep a finished command alive.
  const once = <A extends unknown[]>(fn: (...args: A) => Promise<void>) => (...args: A) =>
    fn(...args).finally(() => setTimeout(() => process.exit(), 2_000).unref());
  const db = `postgres:// URL of the user database${env(USER_DB_ENV)}`;
  const fields = (c: Command, set: boolean) =>
    c
      .option('--home <dir>', set ? 'new home: an absolute directory, or below an s3:// root a key prefix' : 'home: an absolute directory, or below an s3:// root a key prefix (a path or s3://BUCKET/PREFIX/...) (default: <root>/NAME on each node)')
      .option('--read-only', 'download only (list + read)')
      .option('--login <mode>', 'password (default), certificate (a verified client certificate naming the user, no password) or certificate+password')
      .option('--certificate-sha256 <hex,...|none>', 'pins: the SHA-256 fingerprints of the client certificates that may vouch for the user')
      .option('--quota-bytes <n|off>', 'most bytes the home may hold')
      .option('--quota-files <n|off>', 'most files the home may hold')
      .option('--allowed-networks <cidr,...|any>', 'log in only from these networks')
      .option('--rules <json>', 'per-directory permission rules, as in the config file (JSON array)')
      .option('--password-stdin', set ? 'read a new password from stdin' : 'read the password from stdin (default: generate one and print it once)')
      .option('--user-db <url>', db);
  const user = program.command('user').description(`Manage the users of the user database (--user-db or ${USER_DB_ENV}).`);
  const users = () => import('./user.js');
  const bans = () => import('./ban.js');
  fields(user.command('add').description('Add a user.').argument('<name>'), false).action(once(async (name: string, flags: UserFlags) => (await users()).userAddCommand(name, flags)));
  fields(user.command('set').description('Change a user: the flags given, nothing else.').argument('<name>'), true)
    .option('--no-read-only', 'read-write again')
    .option('--enable', 'allow logins again')
    .option('--disable', 'refuse logins and end the live sessions on every node')
    .action(once(async (name: string, flags: UserFlags) => (await users()).userSetCommand(name, flags)));
  user.command('remove').description('Remove a user (their live sessions end on every node; files stay).').argument('<name>').option('--user-db <url>', db)
    .action(once(async (name: string, flags: UserFlags) => (await users()).userRemoveCommand(name, flags)));
  user.command('list').description('List the users (never their hashes).').option('--json', 'as JSON').option('--user-db <url>', db)
    .action(once(async (flags: UserFlags) => (await users()).userListCommand(flags)));
  const ban = program.command('ban').description(`Login-failure bans shared by every node (--user-db or ${USER_DB_ENV}).`);
  ban.command('list').description('List the bans in force.').option('--json', 'as JSON').option('--user-db <url>', db)
    .action(once(async (flags: { userDb?: string; json?: boolean }) => (await bans()).banListCommand(flags)));
  ban.command('remove').description('Lift the ban of an address (or network) on every node.').argument('<address>').option('--user-db <url>', db)
    .action(once(async (address: string, flags: { userDb?: string }) => (await bans()).banRemoveCommand(address, flags)));
  const admin = program.command('admin').description(`Manage the admin console's accounts in the user database (--user-db or ${USER_DB_ENV}).`);
  const admins = () => import('./admin.js');
  admin.command('add').description('Add an admin account.').argument('<name>')
    .option('--password-stdin', 'read the password from stdin (default: generate one and print it once)').option('--user-db <url>', db)
    .action(once(async (name: string, flags: AdminFlags) => (await admins()).adminAddCommand(name, flags)));
  admin.command('remove').description('Remove an admin account (its console sessions and tokens stop working).').argument('<name>').option('--user-db <url>', db)
    .action(once(async (name: string, flags: AdminFlags) => (await admins()).adminRemoveCommand(name, flags)));
  admin.command('list').description('List the admin accounts of the database (never their hashes).').option('--json', 'as JSON').option('--user-db <url>', db)
    .action(once(async (flags: AdminFlags) => (await admins()).adminListCommand(flags)));
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; commander has already printed its own one-line error otherwise.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    reportError(err);
    process.exitCode = exitCodeOf(err);
  }
}

await main(process.argv);
