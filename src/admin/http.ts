/**
 * HTTP plumbing of the admin console: JSON replies, RFC 9457 problem documents, bounded JSON bodies
 * (size and time), cookies.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body the API reads. */
export const MAX_BODY_BYTES = 16 * 1024;
/** Time to receive a whole body. */
export const BODY_TIMEOUT_MS = 10_000;

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    options?: ErrorOptions,
  ) {
    super(title, options);
  }
}

/** A call to the user database: its failure is a 503 with a fixed text (the cause goes to the log). */
export async function fromDb<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof HttpProblem) throw err;
    throw new HttpProblem(503, 'Service Unavailable', 'user database unavailable; try again later', { cause: err });
  }
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** An RFC 9457 problem document (`application/problem+json`). */
export function sendProblem(res: ServerResponse, problem: HttpProblem, headers: Record<string, string> = {}): void {
  const body = { type: 'about:blank', title: problem.title, status: problem.status, ...(problem.detail ? { detail: problem.detail } : {}) };
  const text = JSON.stringify(body);
  res.writeHead(problem.status, { ...SECURITY_HEADERS, 'content-type': 'application/problem+json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendStatic(res: ServerResponse, type: string, body: Buffer | string): void {
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  });
  res.end(body);
}

/** Reads a JSON object body: at most MAX_BODY_BYTES, within BODY_TIMEOUT_MS, `application/json` only. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new HttpProblem(415, 'Unsupported Media Type', 'the body must be application/json');
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) throw new HttpProblem(413, 'Content Too Large', `the body may have at most ${MAX_BODY_BYTES} bytes`);
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new HttpProblem(408, 'Request Timeout'));
    }, BODY_TIMEOUT_MS);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        clearTimeout(timer);
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpProblem(413, 'Content Too Large', `the body may have at most ${MAX_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  let value: unknown;
  try {
    value = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new HttpProblem(400, 'Bad Request', 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpProblem(400, 'Bad Request', 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

export function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

/** A string field of a body, or a 400 naming it. */
export function field(body: Record<string, unknown>, name: string, max = 1024): string {
  const v = body[name];
  if (typeof v !== 'string' || v === '' || v.length > max) throw new HttpProblem(400, 'Bad Request', `"${name}" must be a non-empty string of at most ${max} characters`);
  return v;
}
