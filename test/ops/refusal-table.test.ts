/**
 * The refusal log lines and their reason keys (src/base/refusals.ts) against docs/operations.md's log
 * table, both ways, and against the code: every `reason: '...'` a log line of src/ carries is a key of
 * the table. Plus the short handshake keys made from OpenSSL's texts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { handshakeFailure, REFUSAL_LOG } from '../../src/base/refusals.js';
import { REPO } from '../hardening/child-server.js';

/** The rows of the table under `## Logs`: message column -> the whole row. */
function logTableRows(): string[] {
  const text = readFileSync(join(REPO, 'docs', 'operations.md'), 'utf8');
  const section = text.slice(text.indexOf('## Logs'), text.indexOf('\n## ', text.indexOf('## Logs') + 3));
  return section.split('\n').filter((l) => l.startsWith('| '));
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('the refusal log table', () => {
  const rows = logTableRows();
  const allKeys = new Set<string>(Object.values(REFUSAL_LOG).flat());

  it('docs/operations.md lists every refusal message with every reason key', () => {
    const missing: string[] = [];
    for (const [msg, keys] of Object.entries(REFUSAL_LOG)) {
      const row = rows.find((r) => r.includes(`\`${msg}\``));
      if (!row) {
        missing.push(`no row for \`${msg}\``);
        continue;
      }
      for (const key of keys) if (!row.includes(`\`${key}\``)) missing.push(`\`${msg}\`: no \`${key}\``);
    }
    expect(missing).toEqual([]);
  });

  it('the code logs no reason key that is not in the table', () => {
    const unknown: string[] = [];
    for (const file of sources(join(REPO, 'src'))) {
      if (file.endsWith(join('tls', 'client-hello.ts'))) continue; // parser results, not log lines
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/reason: '([a-z0-9-]+)'/g)) if (!allKeys.has(m[1]!)) unknown.push(`${file}: ${m[1]}`);
    }
    // The gate's reasons are a type: every one of them is a key too.
    const gate = readFileSync(join(REPO, 'src', 'security', 'gate.ts'), 'utf8');
    const type = /export type RefusalReason = ([^;]+);/.exec(gate)![1]!;
    for (const m of type.matchAll(/'([a-z-]+)'/g)) if (!allKeys.has(m[1]!)) unknown.push(`gate: ${m[1]}`);
    expect(unknown).toEqual([]);
  });

  it('a TLS handshake failure gets a short key from OpenSSL text', () => {
    expect(handshakeFailure({ message: 'error:0A000418:SSL routines::tlsv1 alert unknown ca' })).toBe('unknown-ca');
    expect(handshakeFailure({ message: 'error:0A00010B:SSL routines::wrong version number' })).toBe('not-tls');
    expect(handshakeFailure({ message: 'error:0A0000C1:SSL routines::no shared cipher' })).toBe('no-shared-cipher');
    expect(handshakeFailure({ message: 'error:0A00009C:SSL routines::http request' })).toBe('http-request');
    expect(handshakeFailure({ message: 'error:0A000102:SSL routines::unsupported protocol' })).toBe('protocol-version');
    expect(handshakeFailure({ message: 'socket hang up', code: 'ECONNRESET' })).toBe('closed');
    expect(handshakeFailure({ message: 'something new' })).toBe('other');
  });
});
