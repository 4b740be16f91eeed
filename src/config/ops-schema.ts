/**
 * Config schema of the operations options: log format, transfer log, metrics endpoint, hooks and
 * webhooks. Kept apart from schema.ts, which spreads these in (the same schemas check the file, the
 * environment and the command line).
 */
import { z } from 'zod';
import { DEFAULT_DELIVERY, type DeliveryOptions } from '../ops/delivery-queue.js';
import { HOOK_EVENTS, hookSpec, parseHook, type HookSpec } from '../ops/hooks.js';
import { LOG_FORMATS } from '../ops/log-format.js';
import { parseWebhook, type WebhookSpec } from '../ops/webhooks.js';
import type { ListenAddress } from '../server.js';
import { parseListenAddress } from './listen-address.js';
import { parsed } from './zod-forms.js';

import { DEFAULT_DRAIN_MS } from './defaults.js';

export interface DeliverySettings extends DeliveryOptions {
  /** At shutdown: time for queued deliveries to finish. */
  drainMs: number;
}

function pathOrOff(what: string) {
  return z.preprocess(
    (v) => (v === false ? 'off' : typeof v === 'number' ? String(v) : v),
    z
      .string({ error: (iss) => (iss.input === undefined ? 'is required' : `must be ${what}, or off`) })
      .min(1, 'must not be empty'),
  );
}

const EVENT_LIST = `${HOOK_EVENTS.join(', ')}, or * for all`;
const HOOK_FORM = 'must be EVENT=COMMAND, or a mapping {event, command}';

/** `upload=/usr/local/bin/scan --quiet`, or `{event: upload, command: [/usr/local/bin/scan, --quiet]}`. */
const hook = z.unknown().transform((v, ctx): HookSpec => {
  try {
    if (typeof v === 'string') return parseHook(v);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(HOOK_FORM);
    const { event, command, ...rest } = v as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw new Error(`${extra}: unknown option (a hook has event and command)`);
    if (typeof event !== 'string') throw new Error(`event: must be one of ${EVENT_LIST}`);
    const okCommand =
      typeof command === 'string' || (Array.isArray(command) && command.length > 0 && command.every((w) => typeof w === 'string'));
    if (!okCommand) throw new Error('command: must be a command line, or a list [program, arg, ...]');
    return hookSpec(event, command as string | string[]);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** `https://hooks.example/ftpsd`, or `{url: ..., events: [upload, delete]}`. */
const webhook = z.unknown().transform((v, ctx): WebhookSpec => {
  try {
    if (typeof v === 'string') {
      parseWebhook(v);
      return { url: v };
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('must be a URL, or a mapping {url, events}');
    const { url, events, ...rest } = v as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw new Error(`${extra}: unknown option (a webhook has url and events)`);
    if (typeof url !== 'string') throw new Error('url: must be an http:// or https:// URL');
    if (events !== undefined && !(Array.isArray(events) && events.every((e) => typeof e === 'string'))) {
      throw new Error(`events: must be a list of events (${EVENT_LIST})`);
    }
    const spec: WebhookSpec = events === undefined ? { url } : { url, events: events as WebhookSpec['events'] };
    parseWebhook(spec);
    return spec;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** A list; a single entry is accepted too. */
function list<T extends z.ZodType>(item: T, what: string) {
  return z.preprocess((v) => (v === null ? [] : Array.isArray(v) ? v : [v]), z.array(item, { error: `must be a list of ${what}` }));
}

function count(min: number) {
  return z.int({ error: 'must be a whole number' }).min(min, `must be >= ${min}`);
}

/** The operations options, shared by the file, the environment and the command line. */
export const opsFields = {
  logFormat: z
    .enum(LOG_FORMATS, { error: `must be one of ${LOG_FORMATS.join(', ')}` })
    .describe('auto: readable lines on a terminal, JSON lines otherwise; json; pretty. Default: auto.')
    .meta({
      reload: 'restart',
      env: 'FTPSD_LOG_FORMAT',
      flag: '--log-format <format>',
      flagHelp: `${LOG_FORMATS.join('|')}: auto is pretty on a terminal, json otherwise (default: auto)`,
    }),
  metricsListen: pathOrOff('an address like 127.0.0.1:9102')
    .pipe(z.string().transform(parsed((s): ListenAddress | false => (s === 'off' ? false : parseListenAddress(s)))))
    .describe('HOST:PORT of the Prometheus endpoint (/metrics, /healthz), or off. Default: off.')
    .meta({
      reload: 'restart',
      env: 'FTPSD_METRICS_LISTEN',
      flag: '--metrics-listen <host:port|off>',
      flagHelp: 'serve Prometheus /metrics and /healthz here (default: off)',
    }),
  xferlog: pathOrOff('a file path')
    .pipe(z.string().transform((s): string | false => (s === 'off' ? false : s)))
    .describe('A transfer log in the xferlog format, appended to; reopened on SIGHUP and SIGUSR1. Default: off.')
    .meta({
      reload: 'restart',
      env: 'FTPSD_XFERLOG',
      flag: '--xferlog <file|off>',
      flagHelp: 'transfer log in the xferlog format, reopened on SIGHUP/SIGUSR1 (default: off)',
      path: true,
    }),
  hooks: list(hook, 'hooks (EVENT=COMMAND)')
    .describe(`Commands run for events (${EVENT_LIST}). Default: none.`)
    .meta({
      reload: 'restart',
      flag: '--hook <event=command>',
      flagHelp: `run a command (no shell) on an event: ${HOOK_EVENTS.join(', ')} or *; repeatable`,
      repeatable: true,
    }),
  webhooks: list(webhook, 'webhook URLs')
    .describe('URLs that get a JSON POST for each event. Default: none.')
    .meta({ reload: 'restart', flag: '--webhook <url>', flagHelp: 'POST each event as JSON to this http(s) URL; repeatable', repeatable: true }),
} as const;

const deliveryShape = {
  queueSize: count(1).describe(`Deliveries waiting, per hook or webhook, with a fair share per user (more are dropped, each logged with its user and path, and counted). Default: ${DEFAULT_DELIVERY.queueSize}.`),
  concurrency: count(1).describe(`Deliveries running at once, per hook or webhook. Default: ${DEFAULT_DELIVERY.concurrency}.`),
  timeoutMs: count(1).describe(`Time for one attempt. Default: ${DEFAULT_DELIVERY.timeoutMs}.`),
  retries: count(0).describe(`Attempts after a failed first one. Default: ${DEFAULT_DELIVERY.retries}.`),
  retryDelayMs: count(0).describe(`Delay before the first retry, doubled for each next one. Default: ${DEFAULT_DELIVERY.retryDelayMs}.`),
  drainMs: count(0).describe(`At shutdown, time for queued deliveries to finish. Default: ${DEFAULT_DRAIN_MS}.`),
} satisfies Record<keyof DeliverySettings, z.ZodType>;

/** The config file's keys for the operations options. */
export const opsSchemaShape = {
  logFormat: opsFields.logFormat.optional(),
  metricsListen: opsFields.metricsListen.optional(),
  xferlog: opsFields.xferlog.optional(),
  hooks: opsFields.hooks.optional(),
  webhooks: opsFields.webhooks.optional(),
  hookDelivery: z
    .strictObject(deliveryShape, { error: 'must be a mapping of queueSize, concurrency, timeoutMs, retries, retryDelayMs, drainMs' })
    .partial()
    .optional()
    .describe('How hooks and webhooks are run.')
    .meta({ reload: 'restart' }),
};
