/**
 * ftpsd's public API (`import ... from 'ftpsd'`). Re-exports only.
 *
 * Start with {@link createServer}; `ftpsd/testing` has the storage contract suite for your own backends.
 *
 * @packageDocumentation
 */

// Embedding: createServer and what it takes and gives.
export { createServer, FtpsdServer, type ListeningAddresses, type CertificateInfo, type CloseOptions } from './embed/server.js';
export type { ServerOptions, LiveOptions, ReconfigurableOption, ListenOption, UserOption, TlsOption, StorageOption, HookOption, WebhookOption } from './embed/options.js';
export type { Session, SessionCertificate, SessionList, TransferState } from './embed/sessions.js';
export { ConfigError, type ConfigIssue } from './config/errors.js';

// Authentication and permissions.
export type { Authenticator, ClientCertificate, LoginRefusal, LoginRequest, LoginResult, UserBandwidth } from './auth/authenticator.js';
export { AuthUnavailableError, isAuthUnavailable } from './auth/authenticator.js';
export { permissionSet, readOnly, readWrite, PERMISSIONS, type Permission, type Permissions } from './auth/permissions.js';
export { UserAuthenticator, type UserAccount, type AnonymousAccess, type UploadPolicy, type UserAuthenticatorOptions, type LoginMethod } from './auth/users.js';
export { RulePermissions, type PermissionRule } from './auth/rules.js';
export { hashPassword } from './auth/password.js';
export type { LoginThrottle } from './auth/throttle.js';

// Storage.
export type { Storage, FileStat, FileType, ReadOptions, OpenedFile, WriteOptions, Upload, HashAlgorithm } from './storage/storage.js';
export { LocalStorage, type LocalStorageOptions, type PartialUploadPolicy } from './storage/local.js';
export { openUploadJournal, UploadJournal, type UploadJournalOptions, type RecoveryReport, type TempFileRecord } from './storage/upload-journal.js';
export { QuotaStorage, QuotaUsage, type QuotaLimits } from './storage/quota.js';
export { MemoryStorage, type MemoryTree } from './storage/memory.js';
export { checksumByReading, hashStream, HASH_ALGORITHMS } from './storage/checksum.js';
export { type VirtualPath, formatPath, resolvePath } from './base/virtual-path.js';
export { FtpError, StorageError, type FtpErrorCode } from './base/errors.js';

// Commands.
export { reply, sent, type Reply, type Sent } from './base/reply.js';
export { defineCommand } from './commands/define.js';
export { CommandRegistry, type CommandSpec, type CommandSpecBase, type PublicCommandSpec, type UserCommandSpec, type ArgPolicy } from './commands/context.js';
export { defineSiteCommand, type SiteCommandSpec } from './commands/site.js';
export type { CommandContext, SessionContext, DataSetup, LoginOutcome, TransferSource } from './commands/context.js';
export type { SessionState, LoggedInUser, TransferType } from './session.js';
export type {
  ServerSettings,
  SettingsOptions,
  Timeouts,
  Limits,
  BanPolicy,
  SecurityOptions,
  SecuritySettings,
  TlsRequired,
  SessionReuse,
  DataProtection,
  UploadSettings,
  UploadOptions,
} from './settings.js';
export type { PolicySettings, PolicyName } from './policy-options.js';
export type { PortRange } from './data/passive.js';

// Events and tracing.
export {
  ServerEvents,
  type ServerEventMap,
  type SessionInfo,
  type TransferInfo,
  type CommandEvent,
  type TransferEndEvent,
  type TlsHandshakeEvent,
  type LoginAttemptEvent,
} from './events.js';
export { CHANNELS, type CommandTrace, type TransferTrace, type SessionTrace } from './diagnostics.js';
export type { Logger, LogLevel } from './logger.js';

// TLS and addresses. The engine under createServer (FtpServer, src/server.ts) is internal: FtpsdServer is the one front door.
export type { ListenAddress } from './server.js';
export type { PasvAddressRule } from './security/pasv-address.js';
export { generateSelfSigned, type GeneratedCert, type GenerateOptions } from './tls/self-signed.js';
export { CertificateReloader, watchCertificate, type CertificateFiles, type ReloaderOptions, type ReloadResult, type ReloadTarget } from './runtime/certificate-reload.js';
export type { TlsMaterial } from './tls/context.js';
export type { ClientCertSettings, CertificateUserName } from './tls/client-certs.js';
export type { ClientCertsConfig } from './config/client-certs.js';
