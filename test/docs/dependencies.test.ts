/**
 * The floors of src/ (docs/architecture.md, "Floors"): dependency-cruiser, with .dependency-cruiser.cjs,
 * finds no upward import, no import cycle (type-only imports count) and no file off a floor. A violation fails here, listed.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const DEPCRUISE = join(REPO, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

describe('the floors of src/', () => {
  it('has no upward import, no import cycle, no file off a floor (dependency-cruiser)', () => {
    const run = spawnSync(process.execPath, [DEPCRUISE, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
      cwd: REPO,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (run.error) throw run.error;
    let result: { summary: { violations: Violation[]; totalCruised: number } };
    try {
      result = JSON.parse(run.stdout) as typeof result;
    } catch {
      throw new Error(`dependency-cruiser gave no report (exit ${run.status}): ${run.stderr}`);
    }
    expect(result.summary.totalCruised).toBeGreaterThan(100);
    const listed = result.summary.violations.map((v) =>
      v.cycle ? `${v.rule.name}: ${v.from} -> ${v.cycle.map((c) => c.name).join(' -> ')}` : `${v.rule.name}: ${v.from} -> ${v.to}`,
    );
    expect(listed).toEqual([]);
  }, 60_000);
});
