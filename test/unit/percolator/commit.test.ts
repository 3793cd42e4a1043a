import { describe, expect, it } from 'vitest';
import { TxnHarness, del, k, lockOnly, put } from './harness';

describe('commit', () => {
  it('with no keys succeeds and writes nothing', () => {
    const h = new TxnHarness();
    expect(h.commit([], 10n, 11n)).toEqual({ type: 'Committed', commitTs: 11n });
    expect(h.dump()).toBe(new TxnHarness().dump());
  });

  it('replaces the lock with a commit record; the value stays at startTs', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', 'va')], 10n);
    expect(h.commit(['a'], 10n, 12n)).toEqual({ type: 'Committed', commitTs: 12n });
    expect(h.lock('a')).toBeUndefined();
    expect(h.writes('a')).toEqual([[12n, { startTs: 10n, kind: 'put' }]]);
    expect(h.value('a', 10n)).toBe('va');
    expect(h.get('a', 11n)).toBeUndefined();
    expect(h.get('a', 12n)).toBe('va');
  });

  it('commits many keys, each with its lock’s kind', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', '1')], 1n, 2n);
    h.prewrite([put('b', '2'), del('a'), lockOnly('c')], 10n, k('b'));
    expect(h.commit(['b', 'a', 'c'], 10n, 12n)).toEqual({ type: 'Committed', commitTs: 12n });
    expect(h.writes('a')[0]).toEqual([12n, { startTs: 10n, kind: 'delete' }]);
    expect(h.writes('b')[0]).toEqual([12n, { startTs: 10n, kind: 'put' }]);
    expect(h.writes('c')[0]).toEqual([12n, { startTs: 10n, kind: 'lock' }]);
    expect(h.get('a', 12n)).toBeUndefined();
    expect(h.get('a', 11n)).toBe('1');
    expect(h.get('b', 12n)).toBe('2');
    expect(h.get('c', 12n)).toBeUndefined();
  });

  it('repeated: succeeds again with the recorded commitTs and changes nothing', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1'), put('b', '2')], 10n);
    h.commit(['a', 'b'], 10n, 12n);
    const before = h.dump();
    expect(h.commit(['a', 'b'], 10n, 12n)).toEqual({ type: 'Committed', commitTs: 12n });
    expect(h.commit(['b'], 10n, 13n)).toEqual({ type: 'Committed', commitTs: 12n });
    expect(h.dump()).toBe(before);
  });

  it('of a key listed twice commits it once', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1')], 10n);
    expect(h.commit(['a', 'a'], 10n, 12n)).toEqual({ type: 'Committed', commitTs: 12n });
    expect(h.writes('a')).toHaveLength(1);
  });

  it('after a partial commit finishes the rest (the primary first, then secondaries)', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1'), put('b', '2')], 10n);
    h.commit(['a'], 10n, 12n);
    expect(h.commit(['a', 'b'], 10n, 12n)).toEqual({ type: 'Committed', commitTs: 12n });
    expect(h.lock('b')).toBeUndefined();
  });

  it('without a prewrite: TxnLockNotFound', () => {
    const h = new TxnHarness();
    expect(h.commit(['a'], 10n, 12n)).toEqual({ type: 'TxnLockNotFound', key: k('a'), startTs: 10n });
    expect(h.dump()).toBe(new TxnHarness().dump());
  });

  it('when another txn holds the lock: TxnLockNotFound, the lock untouched', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', 'other')], 11n);
    const before = h.dump();
    expect(h.commit(['a'], 10n, 12n).type).toBe('TxnLockNotFound');
    expect(h.dump()).toBe(before);
  });

  it('after a rollback: TxnAborted', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1')], 10n);
    h.rollback(['a'], 10n);
    const before = h.dump();
    expect(h.commit(['a'], 10n, 12n)).toEqual({ type: 'TxnAborted', key: k('a'), startTs: 10n });
    expect(h.dump()).toBe(before);
  });

  it('after a rollback and another txn’s lock on the key: still TxnAborted', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1')], 10n);
    h.rollback(['a'], 10n);
    h.prewrite([put('a', '2')], 11n);
    expect(h.commit(['a'], 10n, 12n).type).toBe('TxnAborted');
  });

  it('is all or nothing: one key without a lock leaves the others locked', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1')], 10n);
    const before = h.dump();
    expect(h.commit(['a', 'b'], 10n, 12n)).toEqual({ type: 'TxnLockNotFound', key: k('b'), startTs: 10n });
    expect(h.dump()).toBe(before);
  });

  it('refuses a commitTs below the lock’s minCommitTs, accepts one at it', () => {
    const h = new TxnHarness();
    h.apply({ type: 'Prewrite', mutations: [put('a', '1')], primary: k('a'), startTs: 10n, lockTtl: 5, minCommitTs: 15n });
    expect(h.commit(['a'], 10n, 14n)).toEqual({ type: 'CommitTsExpired', key: k('a'), commitTs: 14n, minCommitTs: 15n });
    expect(h.lock('a')).toBeDefined();
    expect(h.commit(['a'], 10n, 15n)).toEqual({ type: 'Committed', commitTs: 15n });
  });

  it('requires commitTs > startTs', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1')], 10n);
    expect(h.commit(['a'], 10n, 10n).type).toBe('Invalid');
    expect(h.commit(['a'], 10n, 9n).type).toBe('Invalid');
    expect(h.lock('a')).toBeDefined();
  });

  it('two txns racing on a key: the second prewrite meets the first’s lock, then its commit', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1')], 10n);
    expect(h.prewrite([put('a', '2')], 11n).type).toBe('KeyLocked');
    h.commit(['a'], 10n, 12n);
    expect(h.prewrite([put('a', '2')], 11n)).toMatchObject({ type: 'WriteConflict', conflictTs: 12n });
    expect(h.prewrite([put('a', '3')], 13n)).toEqual({ type: 'Prewritten' });
  });
});

describe('rollback', () => {
  it('with no keys succeeds and writes nothing', () => {
    const h = new TxnHarness();
    expect(h.rollback([], 10n)).toEqual({ type: 'RolledBack' });
    expect(h.dump()).toBe(new TxnHarness().dump());
  });

  it('removes the lock and the value and leaves a rollback record at startTs', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'old')], 1n, 2n);
    h.prewrite([put('a', 'new')], 10n);
    expect(h.rollback(['a'], 10n)).toEqual({ type: 'RolledBack' });
    expect(h.lock('a')).toBeUndefined();
    expect(h.value('a', 10n)).toBeUndefined();
    expect(h.writes('a')[0]).toEqual([10n, { startTs: 10n, kind: 'rollback' }]);
    expect(h.get('a', 100n)).toBe('old');
  });

  it('rolls back many keys, and a key listed twice', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1'), del('b'), lockOnly('c')], 10n);
    expect(h.rollback(['a', 'b', 'c', 'a'], 10n)).toEqual({ type: 'RolledBack' });
    expect(h.rows('lock')).toHaveLength(0);
    expect(h.rows('default')).toHaveLength(0);
    for (const key of ['a', 'b', 'c']) expect(h.writes(key)).toEqual([[10n, { startTs: 10n, kind: 'rollback' }]]);
  });

  it('without a prewrite still leaves the record, so a late prewrite fails', () => {
    const h = new TxnHarness();
    expect(h.rollback(['a'], 10n)).toEqual({ type: 'RolledBack' });
    expect(h.writes('a')).toEqual([[10n, { startTs: 10n, kind: 'rollback' }]]);
    expect(h.prewrite([put('a', 'late')], 10n).type).toBe('TxnAborted');
    expect(h.lock('a')).toBeUndefined();
  });

  it('twice: the second changes nothing', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1')], 10n);
    h.rollback(['a'], 10n);
    const before = h.dump();
    expect(h.rollback(['a'], 10n)).toEqual({ type: 'RolledBack' });
    expect(h.dump()).toBe(before);
  });

  it('of a committed key is refused and changes nothing', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', '1')], 10n, 12n);
    const before = h.dump();
    expect(h.rollback(['a'], 10n)).toEqual({ type: 'AlreadyCommitted', key: k('a'), commitTs: 12n });
    expect(h.dump()).toBe(before);
  });

  it('is all or nothing: a committed key among them keeps the other locks', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1'), put('b', '2')], 10n);
    h.commit(['a'], 10n, 12n);
    const before = h.dump();
    expect(h.rollback(['b', 'a'], 10n).type).toBe('AlreadyCommitted');
    expect(h.dump()).toBe(before);
  });

  it('leaves another txn’s lock alone but still records the rollback', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', 'other')], 11n);
    expect(h.rollback(['a'], 10n)).toEqual({ type: 'RolledBack' });
    expect(h.lock('a')?.startTs).toBe(11n);
    expect(h.value('a', 11n)).toBe('other');
    expect(h.writes('a')).toEqual([[10n, { startTs: 10n, kind: 'rollback' }]]);
  });

  it('keeps another txn’s commit record that sits at its startTs, which still stops a late prewrite', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'x')], 5n, 10n);
    expect(h.rollback(['a'], 10n)).toEqual({ type: 'RolledBack' });
    expect(h.writes('a')).toEqual([[10n, { startTs: 5n, kind: 'put' }]]);
    expect(h.prewrite([put('a', 'late')], 10n).type).toBe('WriteConflict');
    expect(h.commit(['a'], 10n, 11n).type).toBe('TxnLockNotFound');
  });

  it('a commit may replace another txn’s rollback at its commitTs', () => {
    const h = new TxnHarness();
    h.rollback(['a'], 12n);
    h.prewrite([put('a', 'x')], 10n);
    expect(h.commit(['a'], 10n, 12n)).toEqual({ type: 'Committed', commitTs: 12n });
    expect(h.prewrite([put('a', 'late')], 12n).type).toBe('WriteConflict');
  });
});
