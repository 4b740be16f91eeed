/**
 * The manual and examples/ftpsd.yaml stay in step with the code: the README keeps the two commands of the
 * quick start; docs/configuration.md documents every flag, environment variable and top-level option and
 * links the example file (which sets every option); docs/operations.md every metric; docs/embedding.md
 * every event.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { ENV } from '../../src/config/sources.js';
import { METRIC_NAMES } from '../../src/ops/metrics.js';
import { REPO, assertBuilt, run } from './cli.js';

beforeAll(assertBuilt);

const readme = () => readFile(join(REPO, 'README.md'), 'utf8');
const doc = (name: string) => readFile(join(REPO, 'docs', name), 'utf8');
const example = () => readFile(join(REPO, 'examples', 'ftpsd.yaml'), 'utf8');

describe('documentation', () => {
  it('the quick start has the two commands', async () => {
    const text = await readme();
    const start = text.indexOf('\n## Quick start\n');
    expect(start).toBeGreaterThan(0);
    const quick = text.slice(start, text.indexOf('\n## ', start + 1));
    expect(quick).toContain('```sh\nnpm ci && npm start\n```\n\nThis installs, builds and runs the embedded default');
    expect(quick).toContain('```sh\nnpm test\n```\n\nThis builds and runs the whole test suite');
    expect(quick).toContain('The last line reads `N passed, N failed`.');
  });

  it('docs/configuration.md documents every serve flag and environment variable', async () => {
    const help = (await run(['serve', '--help'])).stdout;
    const flags = [...help.matchAll(/^\s+(--[a-z-]+)/gm)].map((m) => m[1]!).filter((f) => f !== '--help');
    expect(flags.length).toBeGreaterThan(10);
    const text = await doc('configuration.md');
    const section = (heading: string) => text.slice(text.indexOf(`\n${heading}\n`), text.indexOf('\n## ', text.indexOf(`\n${heading}\n`) + 1));
    // Each flag has a row of the serve table, each variable a row of the environment table.
    const serve = section('### `ftpsd serve`');
    for (const flag of flags) expect(serve, flag).toMatch(new RegExp(`^\\| [^|]*\`${flag}[ \`]`, 'm'));
    const env = section('## Environment variables');
    for (const name of Object.values(ENV)) expect(env, name).toMatch(new RegExp(`^\\| [^|]*\`${name}\``, 'm'));
  });

  it('the example sets every option of the schema (tls commented out)', async () => {
    const data = parse(await example()) as Record<string, Record<string, unknown>>;
    const commented = ['tls', 'clientCerts', 'acme', 'pasvAddress', 'pasvAdvertisedPorts', 'runAs', 'ldap', 'authHook', 'userDb'];
    const keys = Object.keys(configSchema.shape).filter((k) => !commented.includes(k));
    expect(Object.keys(data).sort()).toEqual(keys.sort());
    const text = await example();
    expect(text).toMatch(/^# tls:$/m);
    expect(text).toMatch(/^# clientCerts:$/m);
    expect(text).toMatch(/^# acme:$/m);
    expect(text).toMatch(/^# pasvAddress: /m);
    expect(text).toMatch(/^# pasvAdvertisedPorts: /m);
    expect(text).toMatch(/^# runAs: /m);
    expect(text).toMatch(/^# userDb: /m);
    expect(text).toMatch(/^# ldap:$/m);
    expect(text).toMatch(/^# authHook:$/m);
    const shape = configSchema.shape;
    expect(Object.keys(data.timeouts!).sort()).toEqual(Object.keys(shape.timeouts.unwrap().shape).sort());
    expect(Object.keys(data.limits!).sort()).toEqual(Object.keys(shape.limits.unwrap().shape).sort());
  });

  it('docs/configuration.md links examples/ftpsd.yaml and has a row for every top-level option', async () => {
    const text = await doc('configuration.md');
    expect(text).toContain('](../examples/ftpsd.yaml)');
    const rows = text.slice(text.indexOf('\n## Config file\n'), text.indexOf('\n## Users and passwords\n'));
    const named = new Set([...rows.matchAll(/^\| (`\w+`(?:, `\w+`)*) \|/gm)].flatMap((m) => m[1]!.split(', ').map((k) => k.slice(1, -1))));
    expect(Object.keys(configSchema.shape).filter((k) => !named.has(k))).toEqual([]);
    expect([...named].filter((k) => !(k in configSchema.shape))).toEqual([]);
  });

  it('the README is a front page: no copy of the example file, no option reference', async () => {
    const text = await readme();
    expect(text).not.toContain('```yaml');
    expect(text.split('\n').length).toBeLessThan(120);
    expect(text).toContain('](docs/configuration.md)');
  });

  it('docs/operations.md documents every metric, in its table', async () => {
    const text = await doc('operations.md');
    for (const name of METRIC_NAMES) expect(text, name).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
  });

  it('docs/embedding.md documents every server event', async () => {
    const source = await readFile(join(REPO, 'src', 'events.ts'), 'utf8');
    const maps = [...source.matchAll(/^export interface ServerEventMap \{\n([\s\S]*?)^\}/gm)].map((m) => m[1]!);
    const events = maps.flatMap((body) => [...body.matchAll(/^ {2}'?([\w-]+)'?: \[/gm)].map((m) => m[1]!));
    expect(events.length).toBeGreaterThanOrEqual(16);
    const text = await doc('embedding.md');
    for (const event of events) expect(text, event).toContain(`\`${event}\``);
  });
});
