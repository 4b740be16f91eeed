/**
 * The S3 clients of the configured roots. A config reload builds the storages anew: with the same client
 * settings it gets the same client back (its keep-alive connections too), so reloads do not add sockets.
 * When the settings of a root change, the root's previous client is retired: it is destroyed (its idle
 * connections closed) as soon as no request of it is in flight, a GetObject body still being read
 * included, and again whenever it falls idle after a session that began before the reload used it.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { aroundRequests, createS3Client, type S3ClientOptions } from './client.js';

interface Entry {
  client: S3Client;
  inFlight: number;
  retired: boolean;
}

const bySettings = new Map<string, Entry>();
const byOwner = new Map<string, string>();

function settingsKey(options: S3ClientOptions): string {
  // The secret only as a digest, so the key holds no credential.
  const { secretAccessKey, ...rest } = options;
  const secret = secretAccessKey === undefined ? '' : createHash('sha256').update(secretAccessKey).digest('hex');
  return JSON.stringify({ ...rest, secret, env: [process.env.AWS_ENDPOINT_URL_S3, process.env.AWS_ENDPOINT_URL, process.env.AWS_REGION] });
}

function track(entry: Entry): void {
  const done = (): void => {
    if (--entry.inFlight === 0 && entry.retired) entry.client.destroy();
  };
  aroundRequests(entry.client, 'ftpsdInFlight', () => void entry.inFlight++, done);
}

/** The client of `owner` (a root) with these settings: the current one when they did not change. */
export function sharedS3Client(owner: string, options: S3ClientOptions): S3Client {
  const key = settingsKey(options);
  let entry = bySettings.get(key);
  if (!entry) {
    entry = { client: createS3Client(options), inFlight: 0, retired: false };
    track(entry);
    bySettings.set(key, entry);
  }
  const previous = byOwner.get(owner);
  byOwner.set(owner, key);
  if (previous !== undefined && previous !== key && ![...byOwner.values()].includes(previous)) {
    const old = bySettings.get(previous);
    bySettings.delete(previous);
    if (old) {
      old.retired = true;
      if (old.inFlight === 0) old.client.destroy();
    }
  }
  return entry.client;
}

/** How many clients are live (for the tests: reloads with unchanged settings keep it at one). */
export function liveS3Clients(): number {
  return bySettings.size;
}
