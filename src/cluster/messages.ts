/**
 * The IPC messages between the cluster's primary and its workers (plain JSON over the cluster channel).
 * Every message has `ftpsd: 1` so that other messages on the channel are ignored, and is checked by
 * shape before use.
 */

/** Sessions of one worker: totals, by client address and by logged-in user. */
export interface SessionSnapshot {
  sessions: number;
  addresses: [string, number][];
  users: [string, number][];
}

/** The addresses a worker listens on (port 0 resolved), for the banner. */
export interface ListeningReport {
  explicit: { address: string; family: string; port: number }[];
  implicit: { address: string; family: string; port: number }[];
}

/** What the primary's admin console asks a worker (message `admin`; the answer: `admin-reply`). */
export type AdminOp =
  /** Its sessions (SessionInfo[]). */
  | { kind: 'sessions' }
  /** Ends a session (EndResult). */
  | { kind: 'end'; session: string; reason: string }
  /** Reloads the config (ConfigReloadResult). */
  | { kind: 'reload'; reason: string };

/** Worker to primary. */
export type WorkerMessage =
  | { ftpsd: 1; type: 'hello' }
  | { ftpsd: 1; type: 'listening'; addresses: ListeningReport }
  | { ftpsd: 1; type: 'fatal'; message: string; exitCode: number }
  | { ftpsd: 1; type: 'sessions'; snapshot: SessionSnapshot }
  | { ftpsd: 1; type: 'failure'; address: string }
  | { ftpsd: 1; type: 'ban'; address: string; until: number }
  | { ftpsd: 1; type: 'metrics'; id: number; metrics: unknown }
  | { ftpsd: 1; type: 'pong'; seq: number }
  /**
   * Workers on demand (init `load`): about once a second, the event-loop utilization since the last
   * report (0..1), the sessions now and the connections accepted since the last report.
   */
  | { ftpsd: 1; type: 'load'; elu: number; sessions: number; accepted: number }
  /** The answer to an `admin` request. */
  | { ftpsd: 1; type: 'admin-reply'; id: number; result: unknown }
  /** The worker switched to another certificate (sent only with the admin console on, which follows it). */
  | { ftpsd: 1; type: 'tls'; cert: string; key: string; source: string };

/** Primary to worker. */
export type PrimaryMessage =
  | {
      ftpsd: 1;
      type: 'init';
      index: number;
      count: number;
      generatedPassword?: string;
      metrics: boolean;
      admin?: boolean;
      load?: boolean;
      /**
       * The config the primary loaded and checked (a ResolvedConfig, secrets included: the channel is a
       * pipe between the two processes, seen by no other); absent: the worker reads it itself.
       */
      config?: unknown;
      /** The command line's flags (a worker runs worker-main.ts, without the command line; reloads read them). */
      flags?: unknown;
    }
  | { ftpsd: 1; type: 'sessions'; from: number; snapshot: SessionSnapshot }
  | { ftpsd: 1; type: 'failure'; address: string }
  | { ftpsd: 1; type: 'ban'; address: string; until: number }
  /** An admin lifted the ban of the address's network. */
  | { ftpsd: 1; type: 'unban'; address: string }
  | { ftpsd: 1; type: 'admin'; id: number; op: AdminOp }
  | { ftpsd: 1; type: 'metrics-request'; id: number }
  | { ftpsd: 1; type: 'ping'; seq: number }
  /** ACME stored a new pair in the state directory: reload it. */
  | { ftpsd: 1; type: 'certificate' }
  | { ftpsd: 1; type: 'shutdown' };

/** An empty snapshot (a worker that is gone). */
export const NO_SESSIONS: SessionSnapshot = { sessions: 0, addresses: [], users: [] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

/** The message if `v` is one of ours (by its marker and type), else undefined. */
export function ourMessage<T extends { type: string }>(v: unknown): T | undefined {
  return isObject(v) && v.ftpsd === 1 && typeof v.type === 'string' ? (v as unknown as T) : undefined;
}

/**
 * True when `v` survives the channel's JSON unchanged: null, booleans, finite numbers, strings, arrays
 * of those and plain objects (a property that is undefined is dropped, which reads the same).
 */
export function plainData(v: unknown, depth = 0): boolean {
  if (depth > 64) return false;
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every((e) => e !== undefined && plainData(e, depth + 1));
  if (typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(v).every((e) => e === undefined || plainData(e, depth + 1));
}

/** A snapshot from the channel, or an empty one when it is malformed. */
export function checkedSnapshot(v: unknown): SessionSnapshot {
  if (!isObject(v) || typeof v.sessions !== 'number' || !Array.isArray(v.addresses) || !Array.isArray(v.users)) return NO_SESSIONS;
  const pairs = (a: unknown[]) => a.filter((p): p is [string, number] => Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'number');
  return { sessions: v.sessions, addresses: pairs(v.addresses), users: pairs(v.users) };
}
