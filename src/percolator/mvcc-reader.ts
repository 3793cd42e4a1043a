// Reads of one key's MVCC state: its lock, its write records (newest first)
// and the value a snapshot at some timestamp sees. These are TinyKV's
// MvccTxn getters (GetLock, GetValue, CurrentWrite, MostRecentWrite), over
// any MvccStore.

import { assert } from '../util/assert';
import { bytesEqual } from '../util/bytes';
import { decodeKey, encodeKey, nextKey, versionRange } from './key-codec';
import type { MvccLimits, MvccStore } from './mvcc-store';
import { type Lock, type Write, decodeLock, decodeWrite } from './records';
import { tsMax } from './timestamp';

/** A write record together with the ts it is stored at (commitTs, or startTs for a rollback). */
export interface WriteAt {
  commitTs: bigint;
  write: Write;
}

export function getLock(store: MvccStore, key: Uint8Array): Lock | undefined {
  const bytes = store.get('lock', key);
  return bytes === undefined ? undefined : decodeLock(bytes);
}

export function getWrite(store: MvccStore, key: Uint8Array, commitTs: bigint): Write | undefined {
  const bytes = store.get('write', encodeKey(key, commitTs));
  return bytes === undefined ? undefined : decodeWrite(bytes);
}

/**
 * Walks the write records of `key` with commitTs in [oldestTs, newestTs],
 * newest first, and returns the first one `accept` takes. Pages through the
 * storage so that a key with many versions costs memory of one page.
 */
export function seekWrite(
  store: MvccStore,
  key: Uint8Array,
  newestTs: bigint,
  oldestTs: bigint,
  accept: (w: WriteAt) => boolean,
  limits: MvccLimits,
): WriteAt | undefined {
  if (oldestTs > newestTs) return undefined;
  const range = versionRange(key, newestTs, oldestTs);
  let start = range.start;
  let walked = 0;
  const pages = Math.ceil(limits.versionWalkRowsMax / limits.versionPageRows) + 1;
  for (let page = 0; page < pages; page++) {
    const rows = store.scan('write', { start, end: range.end, limit: limits.versionPageRows });
    for (const row of rows) {
      const decoded = decodeKey(row.key);
      assert(bytesEqual(decoded.key, key), 'a version range scan left its key');
      assert(decoded.ts <= newestTs && decoded.ts >= oldestTs, 'a version range scan left its timestamps');
      const found: WriteAt = { commitTs: decoded.ts, write: decodeWrite(row.value) };
      if (accept(found)) return found;
    }
    walked += rows.length;
    assert(walked <= limits.versionWalkRowsMax, `more than ${limits.versionWalkRowsMax} write records walked for one key`);
    if (rows.length < limits.versionPageRows) return undefined;
    start = nextKey(rows[rows.length - 1]!.key);
  }
  assert(false, 'version walk exceeded its page bound');
}

/** TinyKV's MostRecentWrite: the newest write record of any kind. */
export function newestWrite(store: MvccStore, key: Uint8Array, limits: MvccLimits): WriteAt | undefined {
  return seekWrite(store, key, tsMax, 0n, () => true, limits);
}

/**
 * The data version a snapshot at `ts` sees: the newest put or delete with
 * commitTs <= ts. Rollback and lock records carry no data, so the walk
 * passes over them to the version below.
 */
export function visibleWrite(store: MvccStore, key: Uint8Array, ts: bigint, limits: MvccLimits): WriteAt | undefined {
  return seekWrite(store, key, ts, 0n, (w) => w.write.kind === 'put' || w.write.kind === 'delete', limits);
}

/** The committed value at `ts`, ignoring locks (the caller checks them first). */
export function readValue(store: MvccStore, key: Uint8Array, ts: bigint, limits: MvccLimits): Uint8Array | undefined {
  const found = visibleWrite(store, key, ts, limits);
  if (found === undefined || found.write.kind === 'delete') return undefined;
  const value = store.get('default', encodeKey(key, found.write.startTs));
  assert(value !== undefined, `committed put of txn ${found.write.startTs} has no value`);
  return value;
}

/** What one key records about one transaction once its lock is gone. */
export type TxnRecord =
  | { type: 'committed'; commitTs: bigint; write: Write }
  | { type: 'rolledBack' }
  | { type: 'none' };

/**
 * TinyKV's CurrentWrite: finds the commit or rollback record that
 * transaction `startTs` left on `key`. A commit record sits at commitTs >
 * startTs and a rollback at startTs itself, so only records at or above
 * startTs need looking at.
 */
export function txnRecord(store: MvccStore, key: Uint8Array, startTs: bigint, limits: MvccLimits): TxnRecord {
  const found = seekWrite(store, key, tsMax, startTs, (w) => w.write.startTs === startTs, limits);
  if (found === undefined) return { type: 'none' };
  if (found.write.kind === 'rollback') {
    assert(found.commitTs === startTs, `rollback record of txn ${startTs} stored at ${found.commitTs}`);
    return { type: 'rolledBack' };
  }
  assert(found.commitTs > startTs, `commit record of txn ${startTs} at commitTs ${found.commitTs}`);
  return { type: 'committed', commitTs: found.commitTs, write: found.write };
}
