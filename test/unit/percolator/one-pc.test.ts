import { describe, expect, it } from 'vitest';
import type { Mutation } from '../../../src/percolator/commands';
import { TxnHarness, assertAbsent, del, k, lockOnly, put } from './harness';

function onePc(h: TxnHarness, mutations: Mutation[], startTs: bigint, commitTs: bigint) {
  return h.apply({ type: 'PrewriteAndCommit', mutations, startTs, commitTs });
}

describe('prewriteAndCommit (1PC)', () => {
  it('commits every key at once, without ever locking', () => {
    const h = new TxnHarness();
    h.commitTxn([put('b', 'old')], 1n, 2n);
    expect(onePc(h, [put('a', '1'), del('b'), lockOnly('c')], 10n, 11n)).toEqual({ type: 'Committed', commitTs: 11n });
    expect(h.rows('lock')).toHaveLength(0);
    expect(h.writes('a')).toEqual([[11n, { startTs: 10n, kind: 'put' }]]);
    expect(h.writes('b')[0]).toEqual([11n, { startTs: 10n, kind: 'delete' }]);
    expect(h.writes('c')).toEqual([[11n, { startTs: 10n, kind: 'lock' }]]);
    expect(h.get('a', 11n)).toBe('1');
    expect(h.get('a', 10n)).toBeUndefined();
    expect(h.get('b', 10n)).toBe('old');
    expect(h.get('b', 11n)).toBeUndefined();
  });

  it('conflicts with a write after startTs, and writes nothing', () => {
    const h = new TxnHarness();
    h.commitTxn([put('b', 'x')], 5n, 12n);
    const before = h.dump();
    expect(onePc(h, [put('a', '1'), put('b', '2')], 10n, 13n)).toMatchObject({ type: 'WriteConflict', key: k('b'), conflictTs: 12n });
    expect(h.dump()).toBe(before);
  });

  it('meets a lock of a 2PC txn', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', 'x')], 5n);
    const before = h.dump();
    expect(onePc(h, [put('a', '1')], 10n, 11n)).toMatchObject({ type: 'KeyLocked', key: k('a'), lock: { startTs: 5n } });
    expect(h.dump()).toBe(before);
  });

  it('a duplicate of an applied 1PC reports Committed and writes nothing', () => {
    const h = new TxnHarness();
    onePc(h, [put('a', '1'), put('b', '2')], 10n, 11n);
    const before = h.dump();
    expect(onePc(h, [put('a', '1'), put('b', '2')], 10n, 11n)).toEqual({ type: 'Committed', commitTs: 11n });
    expect(h.dump()).toBe(before);
  });

  it('a later 2PC txn that started before the 1PC commit conflicts with it', () => {
    const h = new TxnHarness();
    onePc(h, [put('a', '1')], 10n, 12n);
    expect(h.prewrite([put('a', '2')], 11n)).toMatchObject({ type: 'WriteConflict', conflictTs: 12n });
  });

  it('checks assert_not_exists: fails on an existing key, passes on an absent one', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'x')], 1n, 2n);
    expect(onePc(h, [put('z', '1'), assertAbsent('a')], 10n, 11n)).toEqual({ type: 'AlreadyExist', key: k('a') });
    expect(h.writes('z')).toEqual([]);
    expect(onePc(h, [put('z', '1'), assertAbsent('b')], 12n, 13n)).toEqual({ type: 'Committed', commitTs: 13n });
    expect(h.writes('b')).toEqual([[13n, { startTs: 12n, kind: 'lock' }]]);
  });

  it('after the txn was rolled back (a status check reached its key first): TxnAborted', () => {
    const h = new TxnHarness();
    h.apply({ type: 'CheckTxnStatus', primary: k('a'), lockTs: 10n, currentTs: 100n });
    expect(onePc(h, [put('a', '1')], 10n, 11n)).toEqual({ type: 'TxnAborted', key: k('a'), startTs: 10n });
  });

  it('reports its own 2PC lock rather than committing past it', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1')], 10n);
    expect(onePc(h, [put('a', '1')], 10n, 11n).type).toBe('KeyLocked');
  });

  it('requires commitTs > startTs and distinct keys', () => {
    const h = new TxnHarness();
    expect(onePc(h, [put('a', '1')], 10n, 10n).type).toBe('Invalid');
    expect(onePc(h, [put('a', '1'), del('a')], 10n, 11n).type).toBe('Invalid');
    expect(h.dump()).toBe(new TxnHarness().dump());
  });
});
