/** The admin API as an OpenAPI 3.1 document, made from the route table (routes.ts) and the schemas below. */
import { ROUTES } from './routes.js';

const str = { type: 'string' };
const int = { type: 'integer' };
const problem5xx = { description: 'A problem document (RFC 9457): the server failed, is stopping, or its user database is unreachable (503).', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
const problem = { description: 'A problem document (RFC 9457).', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };

const SCHEMAS: Record<string, unknown> = {
  Problem: { type: 'object', properties: { type: str, title: str, status: int, detail: str }, required: ['type', 'title', 'status'] },
  Login: { type: 'object', properties: { name: str, password: str }, required: ['name', 'password'] },
  Admin: { type: 'object', properties: { name: str }, required: ['name'] },
  NewToken: { type: 'object', properties: { label: str } },
  Token: { type: 'object', properties: { id: str, label: str, admin: str, created: { type: 'string', format: 'date-time' } }, required: ['id', 'label', 'admin', 'created'] },
  CreatedToken: { allOf: [{ $ref: '#/components/schemas/Token' }, { type: 'object', properties: { token: str }, required: ['token'] }] },
  Tokens: { type: 'array', items: { $ref: '#/components/schemas/Token' } },
  Transfer: {
    type: 'object',
    properties: {
      direction: { enum: ['upload', 'download'] },
      path: { type: ['string', 'null'] },
      bytes: int,
      rate: { ...int, description: 'bytes per second since it started' },
      startedAt: { type: 'string', format: 'date-time' },
      expectedSize: { type: ['integer', 'null'] },
    },
    required: ['direction', 'path', 'bytes', 'rate', 'startedAt'],
  },
  Session: {
    type: 'object',
    properties: {
      id: str,
      node: { ...str, description: 'the node that holds it, for a session of another node (user database)' },
      user: { type: ['string', 'null'] },
      peer: str,
      since: { type: 'string', format: 'date-time' },
      tls: { type: 'object', properties: { control: { type: 'boolean' }, dataProtection: { enum: ['clear', 'private'] }, implicit: { type: 'boolean' } } },
      cwd: str,
      bytes: { type: 'object', properties: { sent: int, received: int } },
      transfer: { oneOf: [{ $ref: '#/components/schemas/Transfer' }, { type: 'null' }] },
      worker: { ...int, description: 'the cluster worker holding it (cluster mode)' },
    },
    required: ['id', 'user', 'peer', 'since', 'tls', 'cwd', 'bytes', 'transfer'],
  },
  Sessions: { type: 'array', items: { $ref: '#/components/schemas/Session' } },
  NewBan: { type: 'object', properties: { address: str, durationMs: int }, required: ['address'] },
  Bans: { type: 'array', items: { type: 'object', properties: { address: str, until: { type: 'string', format: 'date-time' } }, required: ['address', 'until'] } },
  User: {
    type: 'object',
    properties: {
      name: str,
      source: { enum: ['config', 'database'] },
      home: { type: ['string', 'null'] },
      readOnly: { type: 'boolean' },
      enabled: { type: 'boolean' },
      quotaBytes: { type: ['integer', 'null'] },
      quotaFiles: { type: ['integer', 'null'] },
      allowedNetworks: { type: ['array', 'null'], items: str },
      sessions: int,
    },
    required: ['name', 'source'],
  },
  Users: { type: 'array', items: { $ref: '#/components/schemas/User' } },
  CreatedUser: { allOf: [{ $ref: '#/components/schemas/User' }, { type: 'object', properties: { password: { ...str, description: 'the generated password (when none was given), shown only here' } } }] },
  NewUser: {
    type: 'object',
    properties: {
      name: str,
      password: { ...str, description: 'omitted: one is generated and returned once' },
      home: { type: ['string', 'null'], description: 'absolute; null: <root>/<name>' },
      readOnly: { type: 'boolean' },
      enabled: { type: 'boolean' },
      quotaBytes: { type: ['integer', 'null'], minimum: 0 },
      quotaFiles: { type: ['integer', 'null'], minimum: 0 },
      allowedNetworks: { type: ['array', 'null'], items: str, description: 'addresses or networks; null: anywhere' },
    },
    required: ['name'],
    additionalProperties: false,
  },
  UserChanges: {
    type: 'object',
    properties: {
      password: str,
      home: { type: ['string', 'null'] },
      readOnly: { type: 'boolean' },
      enabled: { type: 'boolean', description: 'false disables the user: its sessions on every node end with 421' },
      quotaBytes: { type: ['integer', 'null'], minimum: 0 },
      quotaFiles: { type: ['integer', 'null'], minimum: 0 },
      allowedNetworks: { type: ['array', 'null'], items: str },
    },
    additionalProperties: false,
  },
  Status: {
    type: 'object',
    properties: {
      version: str, uptimeSeconds: int, workers: int, sessions: int,
      workerList: {
        type: 'array',
        items: { type: 'object', properties: { worker: int, pid: { type: ['integer', 'null'] }, state: { enum: ['listening', 'starting'] }, sessions: int }, required: ['worker', 'state', 'sessions'] },
      },
      listeners: { type: 'object' }, certificate: { type: 'object' }, limits: { type: 'object' }, lastReload: {}, history: { type: 'array' },
      usersEditable: { type: 'boolean', description: 'a user database is configured: POST /api/users, PATCH and DELETE /api/users/{name} work' },
    },
    required: ['version', 'uptimeSeconds', 'listeners', 'workers', 'certificate'],
  },
  Reload: {
    type: 'object',
    properties: {
      ok: { type: 'boolean' },
      changed: { type: 'array', items: str },
      restartNeeded: { type: 'array', items: str },
      error: str,
      workers: { type: 'array', description: 'cluster mode: each worker\'s result', items: { type: 'object', properties: { worker: int, ok: { type: 'boolean' }, error: str }, required: ['worker', 'ok'] } },
    },
    required: ['ok'],
  },
};

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: str }));
    const ok: Record<string, unknown> = { description: r.summary };
    if (r.response) ok.content = { 'application/json': { schema: { $ref: `#/components/schemas/${r.response}` } } };
    if (r.path === '/api/events') ok.content = { 'text/event-stream': { schema: str } };
    const op: Record<string, unknown> = {
      operationId: `${r.method.toLowerCase()}${r.path.replace(/[{}]/g, '').replace(/[/.](\w)/g, (_m, c: string) => c.toUpperCase())}`,
      summary: r.summary,
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: { $ref: `#/components/schemas/${r.body}` } } } } } : {}),
      responses: { [String(r.status)]: ok, '4XX': problem, '5XX': problem5xx },
      security: r.auth ? [{ cookie: [] }, { bearer: [] }] : [],
    };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ftpsd admin API',
      version,
      description: 'Cookie-authenticated POST, PATCH and DELETE requests need the header X-Requested-With (any value). Errors are RFC 9457 problem documents.',
    },
    paths,
    components: {
      schemas: SCHEMAS,
      securitySchemes: {
        cookie: { type: 'apiKey', in: 'cookie', name: 'ftpsd_admin' },
        bearer: { type: 'http', scheme: 'bearer' },
      },
    },
  };
}
