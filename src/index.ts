/**
 * ftpsd's public API. Re-exports only.
 */
export { FtpServer, type FtpServerOptions, type ListenAddress } from './server.js';
export type { Authenticator, LoginRequest, LoginResult } from './auth/authenticator.js';
export { permissionSet, readOnly, readWrite, PERMISSIONS, type Permission, type Permissions } from './auth/permissions.js';
export { UserAuthenticator, type UserAccount, type AnonymousAccess, type UploadPolicy, type UserAuthenticatorOptions } from './auth/users.js';
export { RulePermissions, type PermissionRule } from './auth/rules.js';
export { hashPassword } from './auth/password.js';
export type { Storage, FileStat, FileType, ReadOptions, WriteOptions, Upload, HashAlgorithm } from './storage/storage.js';
export { LocalStorage, type LocalStorageOptions, type PartialUploadPolicy } from './storage/local.js';
export { QuotaStorage, QuotaUsage, type QuotaLimits } from './storage/quota.js';
export { MemoryStorage, type MemoryTree } from './storage/memory.js';
export { type VirtualPath, formatPath, resolvePath } from './storage/virtual-path.js';
export { FtpError, StorageError, type FtpErrorCode } from './protocol/errors.js';
export { reply, type Reply } from './protocol/reply.js';
export { defineCommand, type CommandSpec } from './commands/define.js';
export { defineSiteCommand, type SiteCommandSpec } from './commands/site.js';
export type { CommandContext } from './commands/context.js';
export { ServerEvents, type ServerEventMap, type SessionInfo, type TransferInfo } from './events.js';
export type { Logger } from './logger.js';
export { generateSelfSigned } from './tls/self-signed.js';
export { CertificateReloader, watchCertificate, type CertificateFiles, type ReloaderOptions, type ReloadResult, type ReloadTarget } from './tls/reload.js';
export type { TlsMaterial } from './tls/context.js';
