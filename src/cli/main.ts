#!/usr/bin/env node
/**
 * The `ftpsd` command: serve (default) | hash-password | gen-cert | check-config.
 * Errors are one line on stderr; bad flags or config exit with code 2, other failures with 1.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { DEFAULTS, LOG_LEVELS } from '../config/defaults.js';
import { POLICY_NAMES, policyFields, policyValues } from '../policy-options.js';
import { ENV, type CliFlags } from '../config/sources.js';
import { HOOK_EVENTS } from '../ops/hooks.js';
import { LOG_FORMATS } from '../ops/log-format.js';
import { checkConfigCommand } from './check-config.js';
import { EXIT_USAGE, UsageError, exitCodeOf, oneLine, reportError } from '../runtime/exit.js';
import { genCertCommand, type GenCertFlags } from './gen-cert.js';
import { hashPasswordCommand } from './hash-password.js';
import { serveCommand } from '../cluster/launch.js';

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
    .option('--root <dir>', `served directory, created if missing (default: ${DEFAULTS.root})${env(ENV.root)}`)
    .option('--user <name:password>', `an account with a plain password kept in memory; repeatable (default: "${DEFAULTS.userName}" with a random password, or ${ENV.password})`, collect)
    .option('--anonymous', `allow read-only anonymous logins (users "anonymous" and "ftp")${env(ENV.anonymous)}`)
    .option('--listen <host:port>', `explicit FTP(S) listener; repeatable (default: ${DEFAULTS.listen})${env(ENV.listen)}`, collect)
    .option('--implicit-listen <host:port|off>', `implicit FTPS listener; repeatable, or off (default: ${DEFAULTS.implicitListen})${env(ENV.implicitListen)}`, collect)
    .option('--cert <file>', `PEM certificate (chain allowed); with --key (default: self-signed, in the state directory)${env(ENV.cert)}`)
    .option('--key <file>', `PEM private key; with --cert${env(ENV.key)}`)
    .option('--pasv-ports <min-max>', `passive data port range, e.g. 50000-50100 (default: any free port)${env(ENV.pasvPorts)}`)
    .option('--pasv-address <address>', `IPv4 address or host name advertised in PASV replies (NAT), or rules NETWORK=ADDRESS,...,ADDRESS${env(ENV.pasvAddress)}`)
    .option('--pasv-advertised-ports <min-max>', `passive ports as clients see them (port mapping; same size as --pasv-ports)${env(ENV.pasvAdvertisedPorts)}`);
  // The policy options' flags, from their declaration (policy-options.ts).
  for (const name of POLICY_NAMES) {
    const { flag, flagNote } = policyFields[name].meta()!;
    serve.option(flag!, `${policyValues(name).join('|')}${flagNote ? `: ${flagNote}` : ''} (default: ${DEFAULTS[name]})${env(ENV[name])}`);
  }
  serve
    .option('--log-level <level>', `${LOG_LEVELS.join('|')} (default: ${DEFAULTS.logLevel})${env(ENV.logLevel)}`)
    .option('--state-dir <dir>', `where the generated certificate and the upload journals are kept (default: ${DEFAULTS.stateDir})${env(ENV.stateDir)}`)
    .option('--log-format <format>', `${LOG_FORMATS.join('|')}: auto is pretty on a terminal, json otherwise (default: auto)${env(ENV.logFormat)}`)
    .option('--xferlog <file|off>', `transfer log in the xferlog format, reopened on SIGHUP/SIGUSR1 (default: off)${env(ENV.xferlog)}`)
    .option('--metrics-listen <host:port|off>', `serve Prometheus /metrics and /healthz here (default: off)${env(ENV.metricsListen)}`)
    .option('--hook <event=command>', `run a command (no shell) on an event: ${HOOK_EVENTS.join(', ')} or *; repeatable`, collect)
    .option('--webhook <url>', 'POST each event as JSON to this http(s) URL; repeatable', collect)
    .option('--proxy-protocol <cidr>', `trusted proxy network: its connections must start with a PROXY protocol header (v1/v2); repeatable${env(ENV.proxyProtocol)}`, collect)
    .option('--watch-config', `reload the config file when it changes, as on SIGHUP${env(ENV.watchConfig)}`)
    .option('--run-as-user <name|uid>', `after binding the ports and reading the certificate, switch to this user${env(ENV.runAsUser)}`)
    .option('--run-as-group <name|gid>', `with --run-as-user: this group instead of the user's primary group${env(ENV.runAsGroup)}`)
    .option('--umask <octal>', `file mode creation mask for new directories and files, e.g. 027 (default: 022)${env(ENV.umask)}`)
    .option('--new-password', 'generate a new password for the default account (its hash is kept in the state directory, reused at each start)')
    .option('--workers <n|auto>', `worker processes sharing the ports (cluster mode); 1: a single process (default: auto, one per core)${env(ENV.workers)}`)
    // `serve` is the default command, so `ftpsd frob` arrives here as an argument (kept out of --help).
    .allowExcessArguments()
    .usage('[options]')
    .action(async (flags: CliFlags, command: Command) => {
      const unexpected = command.args;
      if (unexpected.length > 0) {
        throw new UsageError(`unknown command '${unexpected[0]}' (commands: serve, hash-password, gen-cert, check-config)`);
      }
      await serveCommand(flags, { version });
    });

  program
    .command('hash-password')
    .description('Read a password from stdin (a pipe, or a hidden prompt) and print its argon2id hash for the config file.')
    .action(hashPasswordCommand);

  program
    .command('gen-cert')
    .description('Write a self-signed ECDSA certificate and key, and print its SHA-256 fingerprint.')
    .option('--cert <file>', 'certificate file to write', 'cert.pem')
    .option('--key <file>', 'key file to write (mode 0600)', 'key.pem')
    .option('--name <name>', 'extra DNS name or IP address for the certificate; repeatable', collect)
    .option('--force', 'replace existing files')
    .action((flags: GenCertFlags) => genCertCommand(flags));

  program
    .command('check-config')
    .description('Validate a config file: prints "ok", or every error with its field, one per line (exit code 2).')
    .argument('<file>', 'YAML config file')
    .action(async (file: string) => {
      process.exitCode = await checkConfigCommand(file);
    });

  return program;
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
