/**
 * Typed events for embedders and for the operations layer (logs, metrics, hooks).
 */
import { EventEmitter } from 'node:events';

export interface SessionInfo {
  /** Session id, also in every log line of the session. */
  id: string;
  remoteAddress: string;
  user?: string;
}

export interface TransferInfo extends SessionInfo {
  /** The virtual path, `/a/b.txt`. */
  path: string;
  bytes: number;
  durationMs: number;
  secure: boolean;
}

export interface ServerEventMap {
  connect: [SessionInfo];
  login: [SessionInfo & { user: string }];
  'login-failed': [SessionInfo & { user: string }];
  upload: [TransferInfo];
  download: [TransferInfo];
  delete: [SessionInfo & { path: string; directory: boolean }];
  rename: [SessionInfo & { from: string; to: string }];
  mkdir: [SessionInfo & { path: string }];
  disconnect: [SessionInfo];
  error: [Error & { sessionId?: string }];
}

export class ServerEvents extends EventEmitter<ServerEventMap> {}
