#!/usr/bin/env node
/**
 * The `ftpsd` command: serve (default) | hash-password | gen-cert | check-config.
 * Errors are one line on stderr; bad flags or config exit with code 2, other failures with 1.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { DEFAULTS } from '../config/defaults.js';
import { ENV, FLAG_OPTIONS, optionMeta, type CliFlags } from '../config/sources.js';
import { checkConfigCommand } from './check-config.js';
import { EXIT_USAGE, UsageError, exitCodeOf, oneLine, reportError } from '../runtime/exit.js';
import { genCertCommand, type GenCertFlags } from './gen-cert.js';
import { hashPasswordCommand } from './hash-password.js';
import { serveCommand } from '../cluster/launch.js';
import { startAdminConsole } from '../admin/console.js';

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
    .option('--key <file>', `PEM private key; with --cert${env(ENV.key)}`);
  // Every option's flag, from its schema (the `flag` metadata: config/schema.ts and the schemas it spreads in).
  for (const key of FLAG_OPTIONS) {
    const { flag, flagHelp, env: name, list, repeatable } = optionMeta(key);
    const help = `${flagHelp ?? ''}${name ? env(name) : ''}`;
    if (list || repeatable) serve.option(flag!, help, collect);
    else serve.option(flag!, help);
  }
  serve
    // `serve` is the default command, so `ftpsd frob` arrives here as an argument.
    .argument('[unexpected...]')
    .usage('[options]')
    .action(async (unexpected: string[], flags: CliFlags) => {
      if (unexpected.length > 0) {
        throw new UsageError(`unknown command '${unexpected[0]}' (commands: serve, hash-password, gen-cert, check-config)`);
      }
      await serveCommand(flags, { version, admin: startAdminConsole });
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
