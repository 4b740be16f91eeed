/**
 * The S3 client: endpoint, region and credentials from the options, else the SDK's defaults (AWS_* env
 * variables, profiles, container and instance roles); every request has a connect and an idle timeout, so
 * a storage call never hangs a session; throttling and 5xx are retried by the SDK (standard mode).
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';

export interface S3ClientOptions {
  endpoint?: string;
  region?: string;
  /** Path-style addressing; default: true with a custom endpoint, false otherwise. */
  forcePathStyle?: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Timeout of the TCP/TLS connection, ms; default 10 s. */
  connectTimeoutMs?: number;
  /** Timeout of a request with no bytes moving, ms; default 60 s. */
  requestTimeoutMs?: number;
  maxAttempts?: number;
  /** Connections open at once to the endpoint; more requests wait for one. Default 64. */
  maxSockets?: number;
}

export function createS3Client(options: S3ClientOptions = {}): S3Client {
  // The SDK is pinned to the last releases that run on Node 20 (docs/object-storage.md): its warning
  // about later releases says nothing an operator can act on here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const maxSockets = options.maxSockets ?? 64;
  const agent = { keepAlive: true, maxSockets };
  const config: S3ClientConfig = {
    forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
    maxAttempts: options.maxAttempts ?? 3,
    retryMode: 'standard',
    // Whole-object digests are kept by the uploader; per-request CRCs are sent only where S3 requires them
    // (S3-compatible stores differ in what they accept).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: options.connectTimeoutMs ?? 10_000,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
      httpAgent: new HttpAgent(agent),
      httpsAgent: new HttpsAgent(agent),
    },
  };
  if (endpoint !== undefined) config.endpoint = endpoint;
  if (options.region !== undefined) config.region = options.region;
  else if (process.env.AWS_REGION === undefined && process.env.AWS_DEFAULT_REGION === undefined) config.region = 'us-east-1';
  if (options.accessKeyId !== undefined && options.secretAccessKey !== undefined) {
    config.credentials = { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey };
  }
  const client = new S3Client(config);
  limitInFlight(client, maxSockets);
  return client;
}

/**
 * At most `max` requests in flight (a streamed body counts until it is read or destroyed); the others wait
 * here, not in the HTTP agent's queue: the SDK's connect timeout starts when the request is handed to the
 * agent, so a burst of requests waiting there for a socket failed as "did not establish a connection".
 */
function limitInFlight(client: S3Client, max: number): void {
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  const acquire = async (): Promise<void> => {
    if (active < max) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
  };
  aroundRequests(client, 'ftpsdLimitInFlight', acquire, release);
}

/**
 * Calls `start` before each request of `client` and `end` once it is over: when its streamed body closes
 * (a body holds its connection until it is read to the end or destroyed), else as soon as it returns.
 */
export function aroundRequests(client: S3Client, name: string, start: () => void | Promise<void>, end: () => void): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      await start();
      let body: Readable | undefined;
      try {
        const result = await next(args);
        const b = (result.output as { Body?: unknown } | undefined)?.Body as Readable | undefined;
        if (b && typeof b.once === 'function' && !b.destroyed && !b.readableEnded) body = b;
        return result;
      } finally {
        if (body) body.once('close', end);
        else end();
      }
    },
    { step: 'initialize', name },
  );
}
