/**
 * `server.sessions`: a read-only view of the live sessions, for dashboards and admin tools. The view
 * itself is src/session-view.ts (on the server floor, so the cluster's workers and the admin console
 * use it too).
 */
export { Sessions, type Session, type SessionCertificate, type SessionList, type TransferState } from '../session-view.js';
