/**
 * Homes below an s3:// root for database, LDAP and hook users (src/auth/object-homes.ts): paths and
 * s3:// URLs inside the root become key prefixes; anything that would leave the root is refused; one
 * storage per prefix.
 */
import { describe, expect, it } from 'vitest';
import { ObjectHomes, objectHomePrefix, type PrefixRoot } from '../../src/auth/object-homes.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { DirectoryAccounts } from '../../src/auth/directory-account.js';
import { HomeStorages } from '../../src/auth/home-storages.js';

const ROOT = 's3://bucket/ftp';

describe('objectHomePrefix', () => {
  it('a path is a key prefix below the root, whatever its slashes', () => {
    expect(objectHomePrefix(ROOT, 'alice')).toBe('alice');
    expect(objectHomePrefix(ROOT, '/alice/')).toBe('alice');
    expect(objectHomePrefix(ROOT, '/srv//ftp/alice')).toBe('srv/ftp/alice');
    expect(objectHomePrefix(ROOT, '/')).toBe('');
  });

  it('an s3:// URL must be the root or below it', () => {
    expect(objectHomePrefix(ROOT, 's3://bucket/ftp')).toBe('');
    expect(objectHomePrefix(`${ROOT}/`, 's3://bucket/ftp/alice/')).toBe('alice');
    expect(() => objectHomePrefix(ROOT, 's3://bucket/ftp2/alice')).toThrow('outside the served root');
    expect(() => objectHomePrefix(ROOT, 's3://other/ftp/alice')).toThrow('outside the served root');
    expect(() => objectHomePrefix(ROOT, 's3://bucket')).toThrow('outside the served root');
    expect(objectHomePrefix('s3://bucket', 's3://bucket/x')).toBe('x');
  });

  it('. and .. segments, NUL, backslashes and other URLs are refused', () => {
    for (const bad of ['../alice', '/a/../../b', 'a/./b', 's3://bucket/ftp/../x', 'a\0b', 'a\\..\\b', 'file:///etc']) {
      expect(() => objectHomePrefix(ROOT, bad), bad).toThrow();
    }
  });
});

describe('ObjectHomes', () => {
  it('one storage per prefix, the root itself for the root', () => {
    const made: string[] = [];
    const root = Object.assign(new MemoryStorage(), {
      below(sub: string) {
        made.push(sub);
        return new MemoryStorage();
      },
    }) as PrefixRoot;
    const homes = new ObjectHomes(ROOT, root);
    const a = homes.storage('/alice');
    expect(homes.storage('s3://bucket/ftp/alice/')).toBe(a);
    expect(homes.storage('bob')).not.toBe(a);
    expect(homes.storage('s3://bucket/ftp')).toBe(root);
    expect(made).toEqual(['alice', 'bob']);
    expect(() => homes.storage('../x')).toThrow('outside the served root');
  });
});

describe('DirectoryAccounts below an s3:// root (LDAP and auth-hook users)', () => {
  it('the home the directory names is a key prefix below the root; one outside it is refused', async () => {
    const below = new Map<string, MemoryStorage>();
    const root = Object.assign(new MemoryStorage(), {
      below(sub: string) {
        const s = new MemoryStorage();
        below.set(sub, s);
        return s;
      },
    }) as PrefixRoot;
    const homes = new ObjectHomes(ROOT, root);
    const accounts = new DirectoryAccounts(ROOT, new HomeStorages(), homes);
    const hank = await accounts.login('hook', { name: 'hank', home: '/people/hank' });
    expect(hank.storage).toBe(below.get('people/hank'));
    const quota = await accounts.login('ldap', { name: 'ida', home: 's3://bucket/ftp/ida', quotaBytes: 1000 });
    expect(quota.storage).not.toBe(below.get('ida')); // wrapped in its quota
    await expect(accounts.login('hook', { name: 'eve', home: '/../other' })).rejects.toThrow('outside the served root');
    await expect(accounts.login('hook', { name: 'eve', home: 's3://other/x' })).rejects.toThrow('outside the served root');
  });
});
