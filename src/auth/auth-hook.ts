/**
 * The HTTP auth hook ("external auth"): for each login ftpsd POSTs JSON `{name, password, address,
 * certificate, protocol: "ftp"}` to `authHook.url`. A 200 answer with JSON `{home, readOnly, permissions,
 * quotaBytes}` logs the user in (the home relative to the served root, confined like any home); 401 or
 * 403 refuses; anything else (no answer within `timeoutMs`, another status, a body that is not that
 * JSON or is over MAX_HOOK_BODY bytes) makes `login` reject with an AuthUnavailableError (421).
 * Credentials in the URL are sent as HTTP Basic and never logged (the log names the URL without them).
 */
import { z } from 'zod';
import { AuthUnavailableError, type Authenticator, type LoginRequest, type LoginResult } from './authenticator.js';
import type { DirectoryAccounts } from './directory-account.js';
import type { Logger } from '../logger.js';
import { PERMISSIONS } from './permissions.js';

export interface AuthHookOptions {
  url: string;
  /** The whole exchange, answer body included (default 5000). */
  timeoutMs?: number;
}

export const DEFAULT_AUTH_HOOK_TIMEOUT_MS = 5000;

/** The largest answer body read. */
export const MAX_HOOK_BODY = 64 * 1024;

const answer = z.object({
  home: z.string().min(1),
  readOnly: z.boolean().optional(),
  permissions: z.array(z.enum(PERMISSIONS)).optional(),
  quotaBytes: z.int().min(0).optional(),
});

export class AuthHookAuthenticator implements Authenticator {
  private readonly url: URL;
  private readonly authorization: string | undefined;
  /** The URL as logs may show it: no user name or password. */
  readonly safeUrl: string;

  constructor(
    private readonly options: AuthHookOptions,
    private readonly accounts: DirectoryAccounts,
    private readonly log: Logger,
  ) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('authHook.url must be an http:// or https:// URL');
    this.authorization =
      url.username !== '' || url.password !== ''
        ? 'Basic ' + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')
        : undefined;
    url.username = '';
    url.password = '';
    this.url = url;
    this.safeUrl = url.origin + url.pathname;
  }

  async login(req: LoginRequest): Promise<LoginResult | null> {
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_AUTH_HOOK_TIMEOUT_MS;
    const signal = AbortSignal.timeout(timeoutMs);
    let status: number;
    let text: string;
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(this.authorization ? { authorization: this.authorization } : {}),
        },
        // `certificate`: the verified client certificate of the connection (clientCerts.ca), else null.
        body: JSON.stringify({ name: req.user, password: req.password, address: req.remoteAddress, certificate: hookCertificate(req), protocol: 'ftp' }),
        redirect: 'error',
        signal,
      });
      status = response.status;
      if (status === 401 || status === 403) {
        await response.body?.cancel().catch(() => {});
        return null;
      }
      text = await readBounded(response, MAX_HOOK_BODY);
    } catch (err) {
      const why = signal.aborted ? `no answer within ${timeoutMs} ms` : (err as Error).message;
      throw this.unavailable(why);
    }
    if (status !== 200) throw this.unavailable(`answered ${status}`);
    let parsed: z.infer<typeof answer>;
    try {
      parsed = answer.parse(JSON.parse(text));
    } catch {
      throw this.unavailable('answer is not JSON {home, readOnly, permissions, quotaBytes}');
    }
    try {
      return await this.accounts.login('hook', {
        name: req.user,
        home: parsed.home,
        ...(parsed.readOnly !== undefined ? { readOnly: parsed.readOnly } : {}),
        ...(parsed.permissions !== undefined ? { permissions: parsed.permissions } : {}),
        ...(parsed.quotaBytes !== undefined ? { quotaBytes: parsed.quotaBytes } : {}),
      });
    } catch (err) {
      this.log.warn({ user: req.user, home: parsed.home, err: (err as Error).message }, 'auth hook login refused: home refused');
      return null;
    }
  }

  private unavailable(why: string): AuthUnavailableError {
    return new AuthUnavailableError(`auth hook ${this.safeUrl}: ${why}`);
  }
}

/** The body as text, or an error when it is longer than `max` bytes. */
async function readBounded(response: Response, max: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new Error(`answer longer than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What the hook is told of the connection's client certificate: only a verified one counts. */
function hookCertificate(req: LoginRequest): { subject: string; fingerprint: string } | null {
  const cert = req.certificate;
  return cert?.verified ? { subject: cert.subject, fingerprint: cert.fingerprint } : null;
}
