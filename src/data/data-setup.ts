/**
 * What a command asks of a session's data side: how to set up the data connection (PASV/EPSV or
 * PORT/EPRT) and what a download sends. Commands name these in their context (commands/context.ts).
 */
import type { Readable } from 'node:stream';
import type { VirtualPath } from '../base/virtual-path.js';

export type DataSetup =
  | { kind: 'passive'; extended: boolean; family?: 4 | 6 }
  | { kind: 'active'; host: string; port: number };

export interface TransferSource {
  /** Opens the content once the data connection is ready to be used (listings are generated lazily). */
  readonly stream: Readable;
  /** For logs and events. */
  readonly path?: VirtualPath;
  /** Bytes it will send, when known (a file): progress for admin tools. */
  readonly size?: number;
}
