// TinyKV 4A (MvccTxn getters) over raw records: locks, values at a ts,
// a txn's own record (CurrentWrite) and the newest record (MostRecentWrite).

import { describe, expect, it } from 'vitest';
import { getLock, newestWrite, readValue, txnRecord } from '../../../src/percolator/mvcc-reader';
import { MvccTxn } from '../../../src/percolator/mvcc-txn';
import { defaultMvccLimits } from '../../../src/percolator/mvcc-store';
import { fromUtf8, utf8 } from '../../../src/util/bytes';
import { TxnHarness } from './harness';

const limits = defaultMvccLimits;
const key = utf8('k');

function seed(h: TxnHarness, plan: (txn: MvccTxn) => void): void {
  const txn = new MvccTxn();
  plan(txn);
  h.storage.write((batch) => txn.flush(batch));
}

function valueAt(h: TxnHarness, ts: bigint): string | undefined {
  const v = readValue(h.storage, key, ts, limits);
  return v === undefined ? undefined : fromUtf8(v);
}

describe('MVCC reads (TinyKV 4A)', () => {
  it('puts, gets and deletes a lock', () => {
    const h = new TxnHarness();
    const lock = { primary: utf8('p'), startTs: 5n, ttl: 10, kind: 'put' as const };
    seed(h, (t) => t.putLock(key, lock));
    expect(getLock(h.storage, key)).toEqual(lock);
    seed(h, (t) => t.deleteLock(key));
    expect(getLock(h.storage, key)).toBeUndefined();
  });

  it('reads nothing from an empty store and for a missing key', () => {
    const h = new TxnHarness();
    expect(valueAt(h, 100n)).toBeUndefined();
    seed(h, (t) => {
      t.putValue(utf8('other'), 1n, utf8('x'));
      t.putWrite(utf8('other'), 2n, { startTs: 1n, kind: 'put' });
    });
    expect(valueAt(h, 100n)).toBeUndefined();
  });

  it('reads a value from its commitTs on, not before', () => {
    const h = new TxnHarness();
    seed(h, (t) => {
      t.putValue(key, 10n, utf8('v'));
      t.putWrite(key, 20n, { startTs: 10n, kind: 'put' });
    });
    expect(valueAt(h, 19n)).toBeUndefined(); // too early
    expect(valueAt(h, 20n)).toBe('v');
    expect(valueAt(h, 1000n)).toBe('v');
  });

  it('sees the version of its snapshot: overwritten later, or deleted later or earlier', () => {
    const h = new TxnHarness();
    seed(h, (t) => {
      t.putValue(key, 10n, utf8('a'));
      t.putWrite(key, 20n, { startTs: 10n, kind: 'put' });
      t.putValue(key, 30n, utf8('b'));
      t.putWrite(key, 40n, { startTs: 30n, kind: 'put' });
      t.putWrite(key, 60n, { startTs: 50n, kind: 'delete' });
      t.putValue(key, 70n, utf8('c'));
      t.putWrite(key, 80n, { startTs: 70n, kind: 'put' });
    });
    expect(valueAt(h, 25n)).toBe('a'); // not overwritten yet
    expect(valueAt(h, 45n)).toBe('b'); // overwritten
    expect(valueAt(h, 65n)).toBeUndefined(); // deleted
    expect(valueAt(h, 85n)).toBe('c'); // not deleted any more
  });

  it('skips rollback and lock records to the data version below', () => {
    const h = new TxnHarness();
    seed(h, (t) => {
      t.putValue(key, 10n, utf8('a'));
      t.putWrite(key, 20n, { startTs: 10n, kind: 'put' });
      t.putWrite(key, 30n, { startTs: 25n, kind: 'lock' });
      t.putWrite(key, 35n, { startTs: 35n, kind: 'rollback' });
      // More records than a page, so the walk must page.
      for (let i = 0n; i < 40n; i++) t.putWrite(key, 100n + 2n * i + 1n, { startTs: 100n + 2n * i, kind: 'lock' });
    });
    expect(valueAt(h, 36n)).toBe('a');
    expect(valueAt(h, 10_000n)).toBe('a');
  });

  it('finds a txn’s own commit or rollback record (CurrentWrite)', () => {
    const h = new TxnHarness();
    seed(h, (t) => {
      t.putWrite(key, 20n, { startTs: 10n, kind: 'put' });
      t.putWrite(key, 25n, { startTs: 25n, kind: 'rollback' });
      t.putWrite(key, 40n, { startTs: 30n, kind: 'delete' });
    });
    expect(txnRecord(h.storage, key, 10n, limits)).toEqual({ type: 'committed', commitTs: 20n, write: { startTs: 10n, kind: 'put' } });
    expect(txnRecord(h.storage, key, 30n, limits)).toEqual({ type: 'committed', commitTs: 40n, write: { startTs: 30n, kind: 'delete' } });
    expect(txnRecord(h.storage, key, 25n, limits)).toEqual({ type: 'rolledBack' });
    expect(txnRecord(h.storage, key, 15n, limits)).toEqual({ type: 'none' });
    expect(txnRecord(h.storage, key, 50n, limits)).toEqual({ type: 'none' });
  });

  it('finds the newest record of any kind (MostRecentWrite)', () => {
    const h = new TxnHarness();
    expect(newestWrite(h.storage, key, limits)).toBeUndefined();
    seed(h, (t) => {
      t.putWrite(key, 20n, { startTs: 10n, kind: 'put' });
      t.putWrite(key, 45n, { startTs: 45n, kind: 'rollback' });
      t.putWrite(key, 40n, { startTs: 30n, kind: 'delete' });
      t.putWrite(utf8('k2'), 90n, { startTs: 80n, kind: 'put' });
    });
    expect(newestWrite(h.storage, key, limits)).toEqual({ commitTs: 45n, write: { startTs: 45n, kind: 'rollback' } });
  });
});
