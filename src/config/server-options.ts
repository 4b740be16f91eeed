/**
 * From a ResolvedConfig to the options of FtpServer: creates the served directories, loads (or
 * generates) the certificate and builds the authenticator. This is the step with side effects.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { UserAccount, UserAuthenticator } from '../auth/users.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { ChainedAuthenticator } from '../auth/chain.js';
import type { LdapOptions } from '../auth/ldap.js';
import { ObjectHomes } from '../auth/object-homes.js';
import type { Logger } from '../logger.js';
import type { UploadJournal } from '../storage/upload-journal.js';
import type { FtpServerOptions } from '../server.js';
import type { Storage } from '../storage/storage.js';
import { loadCertificate, stateCertificate, type Certificate } from './certificate.js';
import { acmePaths, readStored } from '../acme/store.js';
import { ConfigError } from './errors.js';
import { readClientCerts, type ClientCertsConfig } from './client-cert-files.js';
import { checkCertificateFiles, checkTrusted, trustedOwners } from './file-trust.js';
import { makeOwnedDir, type Owner } from './owned-dir.js';
import type { ResolvedConfig } from './load.js';
import { pickUserPolicy } from './user-policy-pick.js';
import { SETTINGS_OPTIONS, type SettingsOptions } from '../settings.js';

export interface PreparedServer {
  options: FtpServerOptions;
  certificate: Certificate;
  /** The directories this call created (parents first). */
  created: string[];
  /** With an s3:// root: the homes of the users the config does not name (user database, LDAP, hook). */
  objectHomes?: ObjectHomes;
}

/**
 * What a start prepares on disk before anything listens: the served directories (created) and the
 * certificate (read, or generated in the state directory). A cluster's primary does this alone, without
 * loading the FTP code; toServerOptions does it first.
 */
export async function prepareFiles(config: ResolvedConfig, owner?: Owner): Promise<Pick<PreparedServer, 'certificate' | 'created'>> {
  const created: string[] = [];
  created.push(...(await makeDir(config.root, 'root', owner)));
  for (const [i, user] of config.users.entries()) created.push(...(await makeDir(user.home, `users[${i}].home`, owner)));
  if (config.anonymous) created.push(...(await makeDir(config.anonymous.home, 'anonymous.home', owner)));

  checkCertificateFiles(certificateFiles(config), trustedOwners(owner?.uid));
  const certificate = config.tls
    ? await loadCertificate(config.tls.cert, config.tls.key, config.tls.fields)
    : config.acme
      ? await acmeCertificate(config.stateDir, config.acme.domains)
      : await stateCertificate(config.stateDir);
  return { certificate, created };
}

/**
 * `owner`: started as root with `runAs`, the user the served directories must belong to; they are
 * created for it without a chown by path (owned-dir.ts). `journal`: where uploads to local homes record
 * their temp files (see storage/upload-journal.ts).
 */
export async function toServerOptions(config: ResolvedConfig, logger: Logger, owner?: Owner, journal?: UploadJournal): Promise<PreparedServer> {
  const { certificate, created } = await prepareFiles(config, owner);
  // The FTP side (accounts, storages) is loaded here, not where only the files are prepared (a cluster's primary).
  const { UserAuthenticator } = await import('../auth/users.js');

  // An s3:// root: one S3Storage, checked at start; homes are key prefixes below it.
  let home = (h: string): string | Storage => h;
  let objectHomes: ObjectHomes | undefined;
  if (isS3Root(config.root)) {
    const { checkS3Root, homeStorage, openS3Root } = await import('./s3-root.js'); // the SDK only when needed
    const rootStorage = openS3Root(config.root, config.s3);
    await checkS3Root(rootStorage, logger);
    home = (h) => homeStorage(rootStorage, config.root, h);
    objectHomes = new ObjectHomes(config.root, rootStorage);
  }
  const users: UserAccount[] = config.users.map((u) => ({ name: u.name, ...(u.password ? { password: u.password } : {}), home: home(u.home), readOnly: u.readOnly, ...pickUserPolicy(u) }));
  const anonymous = config.anonymous && { home: home(config.anonymous.home) };
  const builtin = new UserAuthenticator(users, anonymous, {
    uploads: config.uploads,
    ...(journal ? { journal } : {}),
    ...(config.clientCerts ? { certificateUserName: config.clientCerts.userName } : {}),
  });
  const options: FtpServerOptions = {
    ...protocolOptions(config, logger),
    // clientCerts always given (undefined: off), so a config reload that removes them turns them off.
    tls: { cert: certificate.cert, key: certificate.key, clientCerts: config.clientCerts ? await readClientCerts(config.clientCerts) : undefined },
    authenticator: await authenticatorChain(config, builtin, logger, trustedOwners(owner?.uid), objectHomes),
  };
  return { options, certificate, created, ...(objectHomes ? { objectHomes } : {}) };
}

/**
 * The config users alone, or chained with LDAP and the auth hook (auth/chain.ts). With LDAP, the config
 * names LDAP also has are looked up in the background and warned about (config-file accounts win).
 */
async function authenticatorChain(config: ResolvedConfig, users: UserAuthenticator, logger: Logger, owners: ReadonlySet<number>, objectHomes?: ObjectHomes): Promise<Authenticator> {
  const { ldap, authHook } = config;
  if (!ldap && !authHook) return users;
  // Loaded only when configured: ldapts and the directory code stay out of a process without them.
  const [{ AuthenticatorChain }, { DirectoryAccounts }] = await Promise.all([import('../auth/chain.js'), import('../auth/directory-account.js')]);
  const accounts = new DirectoryAccounts(config.root, users.homes, objectHomes);
  const others: ChainedAuthenticator[] = [];
  if (ldap) {
    // Whoever may replace the CA may impersonate the directory; the bind password is a secret (StrictModes).
    if (ldap.ca !== undefined) checkTrusted(ldap.ca, 'LDAP CA file', owners);
    if (ldap.bindPasswordFile !== undefined) checkTrusted(ldap.bindPasswordFile, 'LDAP bind password file', owners);
    const ca = ldap.ca === undefined ? undefined : await readConfigFile(ldap.ca, 'ldap.ca');
    const bindPassword = ldap.bindPasswordFile === undefined ? undefined : (await readConfigFile(ldap.bindPasswordFile, 'ldap.bindPasswordFile')).replace(/\r?\n$/, '');
    const options: LdapOptions = {
      url: ldap.url,
      base: ldap.base,
      ...(ldap.startTls !== undefined ? { startTls: ldap.startTls } : {}),
      ...(ca !== undefined ? { ca } : {}),
      ...(ldap.filter !== undefined ? { filter: ldap.filter } : {}),
      ...(ldap.bindDn !== undefined ? { bindDn: ldap.bindDn, bindPassword: bindPassword ?? '' } : {}),
      ...(ldap.homeAttribute !== undefined ? { homeAttribute: ldap.homeAttribute } : {}),
      ...(ldap.quotaAttribute !== undefined ? { quotaAttribute: ldap.quotaAttribute } : {}),
      ...(ldap.groups !== undefined ? { groups: ldap.groups } : {}),
      ...(ldap.requireGroup !== undefined ? { requireGroup: ldap.requireGroup } : {}),
      ...(ldap.cacheMs !== undefined ? { cacheMs: ldap.cacheMs } : {}),
      ...(ldap.timeoutMs !== undefined ? { timeoutMs: ldap.timeoutMs } : {}),
    };
    const { LdapAuthenticator } = await import('../auth/ldap.js');
    others.push(new LdapAuthenticator(options, accounts, logger));
  }
  if (authHook) {
    const { AuthHookAuthenticator } = await import('../auth/auth-hook.js');
    others.push(new AuthHookAuthenticator({ url: authHook.url, ...(authHook.timeoutMs !== undefined ? { timeoutMs: authHook.timeoutMs } : {}) }, accounts, logger));
  }
  const chain = new AuthenticatorChain(users, others, logger);
  void chain.checkShadowed();
  return chain;
}

async function readConfigFile(path: string, field: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw ConfigError.of(field, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The CA's pair kept in the state directory when it is usable, else the self-signed one (and why). */
async function acmeCertificate(stateDir: string, domains: readonly string[]): Promise<Certificate> {
  const paths = acmePaths(stateDir);
  const found = await readStored(paths, domains);
  const files = { cert: paths.cert, key: paths.key };
  if (found.ok) {
    const { cert, key, fingerprint256, validTo, names } = found.stored;
    return { cert, key, fingerprint256, validTo, names, certPath: paths.cert, keyPath: paths.key, source: 'acme', acme: files };
  }
  return { ...(await stateCertificate(stateDir)), acme: { ...files, pending: found.why } };
}

/** Whether a root (or home) is an S3 bucket, `s3://BUCKET[/PREFIX]`, not a directory. */
export function isS3Root(root: string): boolean {
  return root.startsWith('s3://');
}

/** The certificate files the config names (or those of the state directory), for the mode checks. */
export function certificateFiles(
  config: Pick<ResolvedConfig, 'tls' | 'stateDir'> & Partial<Pick<ResolvedConfig, 'clientCerts'>>,
): { cert: string; key: string; stateDir?: string; clientCerts?: ClientCertsConfig } {
  const clientCerts = config.clientCerts ? { clientCerts: config.clientCerts } : {};
  if (config.tls) return { cert: config.tls.cert, key: config.tls.key, ...clientCerts };
  return { cert: join(config.stateDir, 'cert.pem'), key: join(config.stateDir, 'key.pem'), stateDir: config.stateDir, ...clientCerts };
}

/**
 * The options that come straight from the config, without side effects: everything but the certificate
 * and the authenticator. `createServer` (src/embed/) uses it too, so an option added here reaches both.
 */
export function protocolOptions(config: ResolvedConfig, logger: Logger): Omit<FtpServerOptions, 'tls' | 'authenticator'> {
  // Every server setting (settings.ts) the config has, under the same name; `uploads` is the storage's
  // too (atomic, partial), the protocol takes requireCloseNotify.
  const settings: Record<string, unknown> = {};
  for (const key of SETTINGS_OPTIONS) {
    const value = (config as unknown as Record<string, unknown>)[key];
    if (key !== 'uploads' && value !== undefined) settings[key] = value;
  }
  return {
    ...(settings as SettingsOptions),
    listen: config.listen,
    implicitListen: config.implicitListen,
    logger,
    ...(config.uploads.requireCloseNotify !== undefined ? { uploads: { requireCloseNotify: config.uploads.requireCloseNotify } } : {}),
  };
}

/** The directories a config serves from disk: the root and every home (where temp files can be). */
export function servedRoots(config: Pick<ResolvedConfig, 'root' | 'users' | 'anonymous'>): string[] {
  return [...new Set([config.root, ...config.users.map((u) => u.home), ...(config.anonymous ? [config.anonymous.home] : [])])].filter((r) => !isS3Root(r));
}

/**
 * Opens this process's upload journal in `stateDir/upload-journals`, after removing what crashed
 * processes left (logged). A journal that cannot be made is a warning, not an error: uploads work
 * without it, only a crash's temp files then stay.
 */
export async function startUploadJournal(config: Pick<ResolvedConfig, 'stateDir' | 'root' | 'users' | 'anonymous'>, logger: Logger, owner?: Owner): Promise<UploadJournal | undefined> {
  const { JOURNAL_DIR, openUploadJournal } = await import('../storage/upload-journal.js');
  const dir = join(config.stateDir, JOURNAL_DIR);
  try {
    // The state directory must be trusted (StrictModes) before a journal in it may make root remove
    // anything; when it is not, toServerOptions refuses the start (generated certificate) or the
    // journal stays off (with a warning).
    checkTrusted(config.stateDir, 'state directory', trustedOwners(owner?.uid));
    return (await openUploadJournal({ dir, roots: servedRoots(config), logger })).journal;
  } catch (err) {
    logger.warn({ dir, err: (err as Error).message }, 'upload journal unavailable; temp files of uploads cut by a crash will not be removed');
    return undefined;
  }
}

/** Creates `path` and its parents (for `owner`); returns the directories it created, parents first. */
export async function makeDir(path: string, field: string, owner?: Owner): Promise<string[]> {
  if (isS3Root(path)) return []; // a bucket or key prefix: nothing to create
  try {
    if (owner) return makeOwnedDir(path, owner);
    const first = await mkdir(path, { recursive: true });
    if (first === undefined) return [];
    const out = [path];
    for (let dir = path; dir !== first && dirname(dir) !== dir; ) out.unshift((dir = dirname(dir)));
    return out;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'not a directory' : code ?? (err as Error).message;
    throw ConfigError.of(field, `cannot create directory ${path}: ${why}`);
  }
}
