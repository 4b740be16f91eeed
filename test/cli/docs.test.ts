/**
 * The README and examples/ftpsd.yaml stay in step with the code: every flag, environment variable and
 * config option is documented, and the README shows the example file as it is.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { ENV } from '../../src/config/sources.js';
import { REPO, assertBuilt, run } from './cli.js';

beforeAll(assertBuilt);

const readme = () => readFile(join(REPO, 'README.md'), 'utf8');
const example = () => readFile(join(REPO, 'examples', 'ftpsd.yaml'), 'utf8');

describe('documentation', () => {
  it('the quick start has the two commands', async () => {
    const text = await readme();
    const quick = text.slice(text.indexOf('## Quick start'), text.indexOf('## Command line'));
    expect(quick).toContain('```sh\nnpm ci && npm start\n```');
    expect(quick).toContain('```sh\nnpm test\n```');
  });

  it('the README documents every serve flag and environment variable', async () => {
    const help = (await run(['serve', '--help'])).stdout;
    const flags = [...help.matchAll(/^\s+(--[a-z-]+)/gm)].map((m) => m[1]!).filter((f) => f !== '--help');
    expect(flags.length).toBeGreaterThan(10);
    const text = await readme();
    for (const flag of flags) expect(text, flag).toContain(`\`${flag}`);
    for (const name of Object.values(ENV)) expect(text, name).toContain(`\`${name}\``);
  });

  it('the example sets every option of the schema (tls commented out)', async () => {
    const data = parse(await example()) as Record<string, Record<string, unknown>>;
    const commented = ['tls', 'pasvAddress', 'pasvAdvertisedPorts', 'runAs'];
    const keys = Object.keys(configSchema.shape).filter((k) => !commented.includes(k));
    expect(Object.keys(data).sort()).toEqual(keys.sort());
    const text = await example();
    expect(text).toMatch(/^# tls:$/m);
    expect(text).toMatch(/^# pasvAddress: /m);
    expect(text).toMatch(/^# pasvAdvertisedPorts: /m);
    expect(text).toMatch(/^# runAs: /m);
    const shape = configSchema.shape;
    expect(Object.keys(data.timeouts!).sort()).toEqual(Object.keys(shape.timeouts.unwrap().shape).sort());
    expect(Object.keys(data.limits!).sort()).toEqual(Object.keys(shape.limits.unwrap().shape).sort());
  });

  it('the README shows examples/ftpsd.yaml as it is', async () => {
    expect(await readme()).toContain('```yaml\n' + (await example()) + '```\n');
  });
});
