import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/commands/dispatcher.js';
import { runs } from './fuzz-runs.js';

describe('parseCommand', () => {
  it('upper-cases the verb, whatever its case', () => {
    expect(parseCommand('user alice')).toEqual({ verb: 'USER', arg: 'alice' });
    expect(parseCommand('PwD')).toEqual({ verb: 'PWD', arg: '' });
    expect(parseCommand('xMkD dir')).toEqual({ verb: 'XMKD', arg: 'dir' });
  });

  it('keeps the argument verbatim after the first space', () => {
    expect(parseCommand('STOR  leading')).toEqual({ verb: 'STOR', arg: ' leading' });
    expect(parseCommand('STOR trailing  ')).toEqual({ verb: 'STOR', arg: 'trailing  ' });
    expect(parseCommand('RNFR "quoted" name')).toEqual({ verb: 'RNFR', arg: '"quoted" name' });
    expect(parseCommand('CWD 日本/é ü')).toEqual({ verb: 'CWD', arg: '日本/é ü' });
    expect(parseCommand('PASS p@ss w0rd\t')).toEqual({ verb: 'PASS', arg: 'p@ss w0rd\t' });
    expect(parseCommand('NOOP ')).toEqual({ verb: 'NOOP', arg: '' });
    expect(parseCommand('SITE CHMOD 644 x')).toEqual({ verb: 'SITE', arg: 'CHMOD 644 x' });
  });

  it('rejects malformed verbs', () => {
    for (const line of ['', ' USER a', '1USER', 'USÉR x', 'US\tER', 'USER\tx', 'A'.repeat(17), '-X', 'US/ER', 'USER\0']) {
      expect(parseCommand(line), JSON.stringify(line)).toBeUndefined();
    }
  });

  it('accepts verbs up to 16 characters, digits and dashes after the first letter', () => {
    expect(parseCommand('A'.repeat(16))?.verb).toBe('A'.repeat(16));
    expect(parseCommand('x-ab1 z')).toEqual({ verb: 'X-AB1', arg: 'z' });
  });

  it('property: never throws; a result is the line cut at its first space', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (line) => {
        const parsed = parseCommand(line);
        if (parsed === undefined) return;
        expect(parsed.verb).toMatch(/^[A-Z][A-Z0-9-]{0,15}$/);
        const n = parsed.verb.length;
        expect(line.slice(0, n).toUpperCase()).toBe(parsed.verb);
        expect(line.slice(n)).toBe(line.includes(' ') ? ` ${parsed.arg}` : '');
      }),
      runs(500),
    );
  });

  it('property: verb + space + any argument parses back to the same argument', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,5}$/), fc.string({ unit: 'binary', maxLength: 40 }), (verb, arg) => {
        expect(parseCommand(`${verb} ${arg}`)).toEqual({ verb: verb.toUpperCase(), arg });
      }),
      runs(500),
    );
  });
});
