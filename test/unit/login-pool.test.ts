/**
 * The admission counts (security/login-pool.ts) kept as sessions change: who waits to log in, who is
 * pushed out first (the one that connected first, also after a REIN), and the sessions of each user.
 */
import { describe, expect, it } from 'vitest';
import { LoginPool } from '../../src/security/login-pool.js';

class Member {
  unauthenticated = true;
  closing = false;
  userName: string | undefined;
  constructor(readonly name: string) {}
}

const limits = { maxSessions: 100, maxUnauthenticated: 2 };

function setUp(n: number): { pool: LoginPool<Member>; m: Member[] } {
  const pool = new LoginPool<Member>();
  const m = Array.from({ length: n }, (_, i) => new Member(`m${i}`));
  for (const x of m) pool.join(x);
  return { pool, m };
}

function login(pool: LoginPool<Member>, x: Member, user: string): void {
  x.unauthenticated = false;
  x.userName = user;
  pool.update(x);
}

function logout(pool: LoginPool<Member>, x: Member): void {
  x.unauthenticated = true;
  x.userName = undefined;
  pool.update(x);
}

describe('LoginPool', () => {
  it('counts live members and pushes out the oldest one waiting to log in when the pool is full', () => {
    const { pool, m } = setUp(3);
    expect(pool.room(limits)).toEqual({ live: 3, evict: m[0] });
    login(pool, m[0]!, 'alice');
    expect(pool.room(limits)).toEqual({ live: 3, evict: m[1] });
    login(pool, m[1]!, 'bob');
    expect(pool.room(limits)).toEqual({ live: 3, evict: undefined });
    // A full server with someone waiting: that one goes.
    expect(pool.room({ maxSessions: 3, maxUnauthenticated: 10 })).toEqual({ live: 3, evict: m[2] });
    // Others (cluster peers) count toward maxSessions.
    expect(pool.room({ maxSessions: 5, maxUnauthenticated: 10 }, 2)).toEqual({ live: 3, evict: m[2] });
    expect(pool.room({ maxSessions: 6, maxUnauthenticated: 10 }, 2)).toEqual({ live: 3, evict: undefined });
  });

  it('leaves closing members out, for good', () => {
    const { pool, m } = setUp(3);
    m[0]!.closing = true;
    pool.update(m[0]!);
    expect(pool.room(limits)).toEqual({ live: 2, evict: m[1] });
    pool.leave(m[0]!);
    pool.update(m[0]!); // a late report after it left changes nothing
    expect(pool.room(limits)).toEqual({ live: 2, evict: m[1] });
    pool.leave(m[1]!);
    expect(pool.room(limits)).toEqual({ live: 1, evict: undefined });
  });

  it('keeps the connection order for a member back to waiting after a login (REIN)', () => {
    const { pool, m } = setUp(4);
    login(pool, m[0]!, 'alice');
    login(pool, m[1]!, 'alice');
    expect(pool.room(limits)).toEqual({ live: 4, evict: m[2] });
    logout(pool, m[1]!);
    // m1 connected before m2 and m3: it is the oldest waiting again.
    expect(pool.room(limits)).toEqual({ live: 4, evict: m[1] });
    logout(pool, m[0]!);
    expect(pool.room(limits)).toEqual({ live: 4, evict: m[0] });
  });

  it('counts the sessions of each user, closing ones too, until they leave', () => {
    const { pool, m } = setUp(3);
    expect(pool.userSessions('alice')).toBe(0);
    login(pool, m[0]!, 'alice');
    login(pool, m[1]!, 'alice');
    login(pool, m[2]!, 'bob');
    expect([pool.userSessions('alice'), pool.userSessions('bob')]).toEqual([2, 1]);
    m[0]!.closing = true;
    pool.update(m[0]!);
    expect(pool.userSessions('alice')).toBe(2);
    pool.leave(m[0]!);
    expect(pool.userSessions('alice')).toBe(1);
    logout(pool, m[1]!);
    expect(pool.userSessions('alice')).toBe(0);
    login(pool, m[1]!, 'bob');
    expect(pool.userSessions('bob')).toBe(2);
    pool.leave(m[2]!);
    pool.leave(m[2]!);
    expect(pool.userSessions('bob')).toBe(1);
  });
});

describe('LoginPool order', () => {
  it('keeps new members in order without a rebuild, so a full pool evicts each oldest in turn', () => {
    const { pool, m } = setUp(3);
    const late = new Member('late');
    pool.join(late);
    expect(pool.room(limits).evict).toBe(m[0]);
    for (const x of [m[0]!, m[1]!, m[2]!]) {
      x.closing = true;
      pool.update(x);
    }
    expect(pool.room(limits)).toEqual({ live: 1, evict: undefined });
    expect(pool.room({ maxSessions: 1, maxUnauthenticated: 10 })).toEqual({ live: 1, evict: late });
  });
});
