import { describe, expect, it } from 'vitest';
import type { CheckTxnStatus } from '../../../src/percolator/commands';
import { tsMax } from '../../../src/percolator/timestamp';
import { TxnHarness, k, put, tso } from './harness';

const start = tso(1000, 7);

function status(h: TxnHarness, currentTs: bigint, extra: Partial<CheckTxnStatus> = {}) {
  return h.apply({ type: 'CheckTxnStatus', primary: k('p'), lockTs: start, currentTs, ...extra });
}

describe('checkTxnStatus', () => {
  it('TTL just alive: one tick before startTs + ttl the lock stands', () => {
    const h = new TxnHarness();
    h.prewrite([put('p', '1')], start, k('p'), 100);
    const before = h.dump();
    const out = status(h, tso(1099, (1 << 18) - 1));
    expect(out).toEqual({ type: 'Locked', lock: { primary: k('p'), startTs: start, ttl: 100, kind: 'put' }, action: 'none' });
    expect(h.dump()).toBe(before);
  });

  it('TTL just expired: at startTs + ttl the primary is rolled back', () => {
    const h = new TxnHarness();
    h.prewrite([put('p', '1'), put('s', '2')], start, k('p'), 100);
    expect(status(h, tso(1100, 0))).toEqual({ type: 'RolledBack', action: 'ttlExpireRollback' });
    expect(h.lock('p')).toBeUndefined();
    expect(h.value('p', start)).toBeUndefined();
    expect(h.writes('p')).toEqual([[start, { startTs: start, kind: 'rollback' }]]);
    // The secondary is left for resolveLock; the txn can no longer commit.
    expect(h.lock('s')).toBeDefined();
    expect(h.commit(['p'], start, tso(1200)).type).toBe('TxnAborted');
  });

  it('expiry counts physical time only: logical bits do not add milliseconds', () => {
    const h = new TxnHarness();
    h.prewrite([put('p', '1')], tso(1000, (1 << 18) - 1), k('p'), 1);
    const alive = h.apply({ type: 'CheckTxnStatus', primary: k('p'), lockTs: tso(1000, (1 << 18) - 1), currentTs: tso(1000, (1 << 18) - 1) });
    expect(alive.type).toBe('Locked');
    const dead = h.apply({ type: 'CheckTxnStatus', primary: k('p'), lockTs: tso(1000, (1 << 18) - 1), currentTs: tso(1001, 0) });
    expect(dead.type).toBe('RolledBack');
  });

  it('a current ts before the lock’s start never expires it', () => {
    const h = new TxnHarness();
    h.prewrite([put('p', '1')], start, k('p'), 0);
    expect(status(h, tso(900)).type).toBe('Locked');
    expect(status(h, tso(1000)).type).toBe('RolledBack'); // ttl 0: expired at once
  });

  it('committed: reports the commitTs and changes nothing', () => {
    const h = new TxnHarness();
    h.commitTxn([put('p', '1')], start, tso(1001));
    const before = h.dump();
    expect(status(h, tso(5000))).toEqual({ type: 'Committed', commitTs: tso(1001) });
    expect(h.dump()).toBe(before);
  });

  it('rolled back: reports it and changes nothing', () => {
    const h = new TxnHarness();
    h.prewrite([put('p', '1')], start);
    h.rollback(['p'], start);
    const before = h.dump();
    expect(status(h, tso(5000))).toEqual({ type: 'RolledBack', action: 'none' });
    expect(h.dump()).toBe(before);
  });

  it('no lock and no write: writes a rollback record so a late prewrite fails', () => {
    const h = new TxnHarness();
    expect(status(h, tso(1001))).toEqual({ type: 'RolledBack', action: 'lockNotExistRollback' });
    expect(h.writes('p')).toEqual([[start, { startTs: start, kind: 'rollback' }]]);
    expect(h.prewrite([put('p', 'late')], start).type).toBe('TxnAborted');
    expect(status(h, tso(1002))).toEqual({ type: 'RolledBack', action: 'none' });
  });

  it('another txn’s lock on the primary is not ours: rolls ours back, keeps theirs', () => {
    const h = new TxnHarness();
    h.prewrite([put('p', 'other')], tso(2000), k('p'), 10);
    expect(status(h, tso(9000))).toEqual({ type: 'RolledBack', action: 'lockNotExistRollback' });
    expect(h.lock('p')?.startTs).toBe(tso(2000));
  });

  it('pointed at a secondary of the txn: PrimaryMismatch, nothing done even when expired', () => {
    const h = new TxnHarness();
    h.prewrite([put('p', '1'), put('s', '2')], start, k('p'), 100);
    const before = h.dump();
    const out = h.apply({ type: 'CheckTxnStatus', primary: k('s'), lockTs: start, currentTs: tso(5000) });
    expect(out).toMatchObject({ type: 'PrimaryMismatch', key: k('s'), lock: { primary: k('p') } });
    expect(h.dump()).toBe(before);
  });

  describe('minCommitTs push', () => {
    it('pushes the lock past the caller’s startTs; commit below it is refused', () => {
      const h = new TxnHarness();
      h.prewrite([put('p', '1')], start, k('p'), 100);
      const caller = tso(1010);
      const out = status(h, tso(1010), { callerStartTs: caller });
      expect(out).toMatchObject({ type: 'Locked', action: 'minCommitTsPushed', lock: { minCommitTs: caller + 1n } });
      expect(h.lock('p')?.minCommitTs).toBe(caller + 1n);
      // The reader may now ignore the lock; the txn commits after it or not at all.
      expect(h.read({ type: 'TxnGet', key: k('p'), ts: caller })).toEqual({ type: 'Value', value: undefined });
      expect(h.commit(['p'], start, caller)).toMatchObject({ type: 'CommitTsExpired', minCommitTs: caller + 1n });
      expect(h.commit(['p'], start, caller + 1n)).toEqual({ type: 'Committed', commitTs: caller + 1n });
      expect(h.get('p', caller)).toBeUndefined();
      expect(h.get('p', caller + 1n)).toBe('1');
    });

    it('never pulls minCommitTs back, and skips callers that cannot see the txn', () => {
      const h = new TxnHarness();
      h.prewrite([put('p', '1')], start, k('p'), 100);
      status(h, tso(1010), { callerStartTs: tso(1020) });
      const before = h.dump();
      expect(status(h, tso(1010), { callerStartTs: tso(1015) })).toMatchObject({ action: 'none', lock: { minCommitTs: tso(1020) + 1n } });
      expect(status(h, tso(1010), { callerStartTs: tso(999) })).toMatchObject({ action: 'none' });
      expect(status(h, tso(1010), { callerStartTs: tsMax })).toMatchObject({ action: 'none' });
      expect(h.dump()).toBe(before);
    });

    it('does not push an expired lock: it rolls back', () => {
      const h = new TxnHarness();
      h.prewrite([put('p', '1')], start, k('p'), 100);
      expect(status(h, tso(1200), { callerStartTs: tso(1200) })).toEqual({ type: 'RolledBack', action: 'ttlExpireRollback' });
    });
  });
});

describe('txnHeartbeat', () => {
  it('extends the ttl, which keeps checkTxnStatus from expiring the lock', () => {
    const h = new TxnHarness();
    h.prewrite([put('p', '1')], start, k('p'), 100);
    expect(h.apply({ type: 'TxnHeartbeat', primary: k('p'), startTs: start, adviseTtl: 500 })).toEqual({ type: 'LockTtl', ttl: 500 });
    expect(h.lock('p')?.ttl).toBe(500);
    expect(status(h, tso(1499)).type).toBe('Locked');
    expect(status(h, tso(1500)).type).toBe('RolledBack');
  });

  it('never shortens the ttl', () => {
    const h = new TxnHarness();
    h.prewrite([put('p', '1')], start, k('p'), 100);
    const before = h.dump();
    expect(h.apply({ type: 'TxnHeartbeat', primary: k('p'), startTs: start, adviseTtl: 50 })).toEqual({ type: 'LockTtl', ttl: 100 });
    expect(h.dump()).toBe(before);
  });

  it('keeps the rest of the lock (minCommitTs included)', () => {
    const h = new TxnHarness();
    h.prewrite([put('p', '1')], start, k('p'), 100);
    status(h, tso(1010), { callerStartTs: tso(1010) });
    h.apply({ type: 'TxnHeartbeat', primary: k('p'), startTs: start, adviseTtl: 900 });
    expect(h.lock('p')).toEqual({ primary: k('p'), startTs: start, ttl: 900, kind: 'put', minCommitTs: tso(1010) + 1n });
  });

  it('without the lock (gone, or another txn’s): TxnLockNotFound', () => {
    const h = new TxnHarness();
    expect(h.apply({ type: 'TxnHeartbeat', primary: k('p'), startTs: start, adviseTtl: 500 })).toEqual({
      type: 'TxnLockNotFound',
      key: k('p'),
      startTs: start,
    });
    h.prewrite([put('p', '1')], start + 1n);
    expect(h.apply({ type: 'TxnHeartbeat', primary: k('p'), startTs: start, adviseTtl: 500 }).type).toBe('TxnLockNotFound');
    h.commit(['p'], start + 1n, start + 2n);
    expect(h.apply({ type: 'TxnHeartbeat', primary: k('p'), startTs: start + 1n, adviseTtl: 500 }).type).toBe('TxnLockNotFound');
  });
});
