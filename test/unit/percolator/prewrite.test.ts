import { describe, expect, it } from 'vitest';
import { utf8 } from '../../../src/util/bytes';
import { TxnHarness, assertAbsent, del, k, lockOnly, put } from './harness';

describe('prewrite', () => {
  it('with no mutations succeeds and writes nothing', () => {
    const h = new TxnHarness();
    expect(h.apply({ type: 'Prewrite', mutations: [], primary: k('p'), startTs: 1n, lockTtl: 10 })).toEqual({ type: 'Prewritten' });
    expect(h.dump()).toBe(new TxnHarness().dump());
  });

  it('locks a key and stores its value at startTs, without a write record', () => {
    const h = new TxnHarness();
    expect(h.prewrite([put('a', 'va')], 10n, k('a'), 3000)).toEqual({ type: 'Prewritten' });
    expect(h.lock('a')).toEqual({ primary: k('a'), startTs: 10n, ttl: 3000, kind: 'put' });
    expect(h.value('a', 10n)).toBe('va');
    expect(h.writes('a')).toEqual([]);
    // Not visible to anyone before commit; readers at or after startTs are blocked.
    expect(h.read({ type: 'TxnGet', key: k('a'), ts: 11n }).type).toBe('KeyLocked');
  });

  it('locks many keys with one primary; delete and lock ops write no value', () => {
    const h = new TxnHarness();
    expect(h.prewrite([put('a', '1'), del('b'), lockOnly('c'), assertAbsent('d')], 10n, k('a'))).toEqual({ type: 'Prewritten' });
    expect(h.lock('a')?.kind).toBe('put');
    expect(h.lock('b')?.kind).toBe('delete');
    expect(h.lock('c')?.kind).toBe('lock');
    expect(h.lock('d')?.kind).toBe('lock');
    for (const key of ['b', 'c', 'd']) {
      expect(h.lock(key)?.primary).toEqual(k('a'));
      expect(h.values(key)).toBe(0);
    }
  });

  it('stores minCommitTs on every lock when given', () => {
    const h = new TxnHarness();
    h.apply({ type: 'Prewrite', mutations: [put('a', '1'), put('b', '2')], primary: k('a'), startTs: 10n, lockTtl: 5, minCommitTs: 12n });
    expect(h.lock('a')?.minCommitTs).toBe(12n);
    expect(h.lock('b')?.minCommitTs).toBe(12n);
  });

  it('is idempotent: a repeated prewrite changes nothing', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1'), put('b', '2')], 10n);
    const before = h.dump();
    expect(h.prewrite([put('a', '1'), put('b', '2')], 10n)).toEqual({ type: 'Prewritten' });
    expect(h.dump()).toBe(before);
  });

  it('a repeated prewrite may add keys the first one did not have', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1')], 10n);
    expect(h.prewrite([put('a', '1'), put('b', '2')], 10n)).toEqual({ type: 'Prewritten' });
    expect(h.lock('b')?.startTs).toBe(10n);
  });

  it('answers KeyLocked with the other txn’s lock, and writes nothing at all', () => {
    const h = new TxnHarness();
    h.prewrite([put('b', 'old')], 5n, k('pb'));
    const before = h.dump();
    const out = h.prewrite([put('a', '1'), put('b', '2')], 10n);
    expect(out).toEqual({ type: 'KeyLocked', key: k('b'), lock: { primary: k('pb'), startTs: 5n, ttl: 3000, kind: 'put' } });
    expect(h.dump()).toBe(before);
    expect(h.lock('a')).toBeUndefined();
  });

  it('a lock of a later txn blocks too (only our own lock passes)', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', 'x')], 20n);
    expect(h.prewrite([put('a', 'y')], 10n).type).toBe('KeyLocked');
  });

  it('conflicts with a write committed after startTs', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'x')], 5n, 12n);
    const before = h.dump();
    expect(h.prewrite([put('a', 'y')], 10n)).toEqual({ type: 'WriteConflict', key: k('a'), startTs: 10n, conflictTs: 12n, conflictStartTs: 5n });
    expect(h.dump()).toBe(before);
  });

  it('conflicts with a write committed exactly at startTs', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'x')], 5n, 10n);
    expect(h.prewrite([put('a', 'y')], 10n).type).toBe('WriteConflict');
  });

  it('conflicts with a committed lock record (read-write conflict) and a committed delete', () => {
    const h = new TxnHarness();
    h.commitTxn([lockOnly('a')], 5n, 12n);
    h.commitTxn([del('b')], 6n, 13n);
    expect(h.prewrite([put('a', 'y')], 10n)).toMatchObject({ type: 'WriteConflict', conflictTs: 12n });
    expect(h.prewrite([put('b', 'y')], 10n)).toMatchObject({ type: 'WriteConflict', conflictTs: 13n });
  });

  it('does not conflict with writes committed before startTs', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'x')], 5n, 8n);
    expect(h.prewrite([put('a', 'y')], 10n)).toEqual({ type: 'Prewritten' });
  });

  it('does not conflict with another txn’s rollback record after startTs', () => {
    const h = new TxnHarness();
    h.rollback(['a'], 20n);
    expect(h.prewrite([put('a', 'y')], 10n)).toEqual({ type: 'Prewritten' });
  });

  it('still conflicts with a commit hidden below other txns’ rollbacks', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'x')], 11n, 12n);
    for (let ts = 20n; ts < 60n; ts++) h.rollback(['a'], ts);
    expect(h.prewrite([put('a', 'y')], 10n)).toMatchObject({ type: 'WriteConflict', conflictTs: 12n });
  });

  it('fails with TxnAborted when this txn was rolled back, even before it arrived', () => {
    const h = new TxnHarness();
    h.rollback(['a'], 10n);
    const before = h.dump();
    expect(h.prewrite([put('a', 'late')], 10n)).toEqual({ type: 'TxnAborted', key: k('a'), startTs: 10n });
    expect(h.dump()).toBe(before);
  });

  it('TxnAborted wins over a lock of another txn', () => {
    const h = new TxnHarness();
    h.rollback(['a'], 10n);
    h.prewrite([put('a', 'other')], 15n);
    expect(h.prewrite([put('a', 'late')], 10n).type).toBe('TxnAborted');
  });

  it('a stale duplicate prewrite after commit reports AlreadyCommitted and writes nothing', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'x')], 10n, 12n);
    const before = h.dump();
    expect(h.prewrite([put('a', 'x')], 10n)).toEqual({ type: 'AlreadyCommitted', key: k('a'), commitTs: 12n });
    expect(h.dump()).toBe(before);
  });

  it('all or nothing: a conflict on the last key leaves the earlier ones unlocked', () => {
    const h = new TxnHarness();
    h.commitTxn([put('c', 'x')], 5n, 15n);
    const before = h.dump();
    expect(h.prewrite([put('a', '1'), put('b', '2'), put('c', '3')], 10n).type).toBe('WriteConflict');
    expect(h.dump()).toBe(before);
  });
});

describe('assert_not_exists', () => {
  it('passes on an absent key and takes a lock-kind lock', () => {
    const h = new TxnHarness();
    expect(h.prewrite([assertAbsent('a')], 10n)).toEqual({ type: 'Prewritten' });
    expect(h.lock('a')?.kind).toBe('lock');
  });

  it('fails with AlreadyExist on a key that has a value', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'x')], 5n, 8n);
    const before = h.dump();
    expect(h.prewrite([put('b', '1'), assertAbsent('a')], 10n)).toEqual({ type: 'AlreadyExist', key: k('a') });
    expect(h.dump()).toBe(before);
  });

  it('passes on a key whose newest version is a delete, looking past lock and rollback records', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'x')], 2n, 3n);
    h.commitTxn([del('a')], 4n, 5n);
    h.commitTxn([lockOnly('a')], 6n, 7n);
    h.rollback(['a'], 8n);
    expect(h.prewrite([assertAbsent('a')], 10n)).toEqual({ type: 'Prewritten' });
  });

  it('fails on a put hidden under lock records', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'x')], 2n, 3n);
    h.commitTxn([lockOnly('a')], 6n, 7n);
    expect(h.prewrite([assertAbsent('a')], 10n).type).toBe('AlreadyExist');
  });

  it('an insert (put with assertNotExists) checks too', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'x')], 2n, 3n);
    expect(h.prewrite([{ op: 'put', key: utf8('a'), value: utf8('y'), assertNotExists: true }], 10n).type).toBe('AlreadyExist');
    expect(h.prewrite([{ op: 'put', key: utf8('b'), value: utf8('y'), assertNotExists: true }], 10n).type).toBe('Prewritten');
    expect(h.lock('b')?.kind).toBe('put');
  });

  it('a write conflict is reported before the existence check', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'x')], 12n, 13n);
    expect(h.prewrite([assertAbsent('a')], 10n).type).toBe('WriteConflict');
  });

  it('keeps a concurrent inserter out: the second one meets the lock', () => {
    const h = new TxnHarness();
    expect(h.prewrite([assertAbsent('a'), put('x', '1')], 10n, k('x')).type).toBe('Prewritten');
    expect(h.prewrite([put('a', 'mine')], 11n).type).toBe('KeyLocked');
  });
});
