/**
 * One certificate order with acme-client (RFC 8555): account (created or found by its key, with
 * external account binding when configured), order for all names, one challenge per authorization
 * answered by our responder, CSR with a fresh ECDSA P-256 key, finalize, download the chain.
 * Every request has a timeout; the library's own retries of rate limits are off (they could sleep for
 * hours): the renewer decides when to try again.
 */
import { readFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { lookup } from 'node:dns/promises';
import * as acme from 'acme-client';
import type { Logger } from '../logger.js';
import type { AlpnChallengeResponder } from './alpn-responder.js';
import type { HttpChallengeResponder } from './http-responder.js';
import { AcmeError, explain, problemOf, type Problem } from './problem.js';
import type { AcmeSettings } from './settings.js';
import { accountKey, type AcmePaths } from './store.js';

export interface OrderContext {
  settings: AcmeSettings;
  paths: AcmePaths;
  log: Logger;
  http?: HttpChallengeResponder | undefined;
  alpn?: AlpnChallengeResponder | undefined;
  /** `[::]:80`, for messages. */
  responder: string;
}

export interface IssuedPair {
  cert: string;
  key: string;
}

const REQUEST_TIMEOUT_MS = 30_000;
let lastProblem: Problem | undefined;
let configuredCa: string | undefined | null = null;

/** Sets up the library's HTTP client once per CA bundle: timeout, trusted CA, problem capture, no retry sleeps. */
async function configureHttp(settings: AcmeSettings, log: Logger): Promise<void> {
  const instance = acme.axios;
  if (configuredCa === null) {
    instance.defaults.timeout = REQUEST_TIMEOUT_MS;
    instance.defaults.maxContentLength = 1 << 20;
    instance.defaults.maxRedirects = 3;
    (instance.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings.retryMaxAttempts = 0;
    instance.interceptors.response.use((resp) => {
      const p = problemOf(resp.data, resp.headers?.['retry-after']);
      if (p) lastProblem = p;
      return resp;
    });
    acme.setLogger((msg) => log.debug({ acme: msg }, 'acme-client'));
  }
  if (configuredCa !== settings.caBundle) {
    const ca = settings.caBundle === undefined ? undefined : await readFile(settings.caBundle, 'utf8').catch((err: Error) => {
      throw new AcmeError(`acme: cannot read caBundle ${settings.caBundle}: ${err.message}`);
    });
    instance.defaults.httpsAgent = ca === undefined ? undefined : new Agent({ ca, keepAlive: false });
    configuredCa = settings.caBundle;
  }
}

/** Warns (does not fail: the CA's resolver decides) when a name does not resolve from here. */
async function checkNames(names: readonly string[], log: Logger): Promise<void> {
  await Promise.all(
    names.map(async (name) => {
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), 5000).unref());
      try {
        await Promise.race([lookup(name), timeout]);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        log.warn({ name, code }, `acme: ${name} does not resolve from here (${code}); the CA must resolve it to this server`);
      }
    }),
  );
}

/** Orders a certificate for `settings.domains`; throws an AcmeError whose message is one clear line. */
export async function orderCertificate(ctx: OrderContext): Promise<IssuedPair> {
  const { settings, log } = ctx;
  await configureHttp(settings, log);
  await checkNames(settings.domains, log);
  const base = { names: settings.domains, challenge: settings.challenge, responder: ctx.responder, directory: settings.directory };
  const step = async <T>(name: string, fn: () => Promise<T>, names: readonly string[] = base.names): Promise<T> => {
    lastProblem = undefined;
    try {
      return await fn();
    } catch (err) {
      throw explain(err, lastProblem, { ...base, names, step: name });
    }
  };
  const key = await accountKey(ctx.paths);
  const eab = settings.eab ? await readEab(settings.eab) : undefined;
  const client = new acme.Client({
    directoryUrl: settings.directory,
    accountKey: key,
    backoffAttempts: 10,
    backoffMin: 500,
    backoffMax: 10_000,
    ...(eab ? { externalAccountBinding: eab } : {}),
  });
  await step('account', async () => {
    // The key's account if the CA knows it (a POST-as-GET, nothing changed), else a new one.
    try {
      await client.createAccount({ onlyReturnExisting: true });
    } catch (err) {
      if (lastProblem?.type !== 'urn:ietf:params:acme:error:accountDoesNotExist') throw err;
      lastProblem = undefined;
      await client.createAccount({ termsOfServiceAgreed: true, ...(settings.email ? { contact: [`mailto:${settings.email}`] } : {}) });
      log.info({ directory: settings.directory }, 'acme: account created');
    }
  });
  const order = await step('new order', () => client.createOrder({ identifiers: settings.domains.map((value) => ({ type: 'dns', value })) }));
  log.info({ names: settings.domains, order: order.url }, 'acme: order created');
  const authorizations = await step('authorizations', () => client.getAuthorizations(order));
  for (const authz of authorizations) {
    if (authz.status === 'valid') continue;
    const name = authz.identifier.value;
    const challenge = authz.challenges.find((c) => c.type === settings.challenge);
    if (!challenge) throw new AcmeError(`acme: the CA offers no ${settings.challenge} challenge for ${name} (offered: ${authz.challenges.map((c) => c.type).join(', ')})`);
    const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
    const remove = await answer(ctx, authz, challenge, keyAuthorization);
    try {
      await step(`${settings.challenge} challenge for ${name}`, async () => {
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
      }, [name]);
      log.info({ name, challenge: settings.challenge }, `acme: ${name} validated`);
    } finally {
      remove();
    }
  }
  const certKey = await acme.crypto.createPrivateEcdsaKey('P-256');
  const [, csr] = await acme.crypto.createCsr({ commonName: settings.domains[0]!, altNames: settings.domains }, certKey);
  const finalized = await step('finalize', () => client.finalizeOrder(order, csr));
  const cert = await step('certificate download', () => client.getCertificate(finalized));
  return { cert, key: certKey.toString() };
}

async function answer(ctx: OrderContext, authz: acme.Authorization, challenge: { type: string; token?: string }, keyAuthorization: string): Promise<() => void> {
  if (challenge.type === 'http-01') {
    const token = challenge.token ?? '';
    if (!ctx.http) throw new AcmeError('acme: no http-01 responder');
    ctx.http.set(token, keyAuthorization);
    return () => ctx.http?.remove(token);
  }
  if (!ctx.alpn) throw new AcmeError('acme: no tls-alpn-01 responder');
  const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
  const name = authz.identifier.value;
  ctx.alpn.set(name, cert.toString(), key.toString());
  return () => ctx.alpn?.remove(name);
}

async function readEab(eab: { keyId: string; hmacKey: string }): Promise<{ kid: string; hmacKey: string }> {
  try {
    const hmacKey = (await readFile(eab.hmacKey, 'utf8')).trim();
    return { kid: eab.keyId, hmacKey };
  } catch (err) {
    throw new AcmeError(`acme: cannot read the eab.hmacKey file ${eab.hmacKey}: ${(err as Error).message}`);
  }
}
