// Snapshot reads at a timestamp (Percolator §2.2, Get): the newest committed
// version at or below ts, unless a lock of a txn that might commit below ts
// is in the way, in which case the reader must resolve it first.

import { assert } from '../util/assert';
import { compareBytes } from '../util/bytes';
import type { KeyLocked, TxnGet, TxnGetOutcome, TxnScan, TxnScanOutcome } from './commands';
import { decodeKey, nextKey, userKeyRange } from './key-codec';
import { getLock, readValue } from './mvcc-reader';
import type { MvccLimits, MvccStore } from './mvcc-store';
import type { Lock } from './records';

/**
 * Whether a lock hides what a read at `ts` should see. A lock from a txn
 * that started after ts cannot commit at or below ts; neither can one whose
 * minCommitTs is above ts, nor one the reader knows about (bypassLocks). A
 * 'lock'-kind lock writes no value, so whatever it commits changes nothing
 * a reader sees (TiKV's check_ts_conflict).
 */
export function lockBlocksRead(lock: Lock, ts: bigint, bypassLocks: readonly bigint[] | undefined): boolean {
  if (lock.startTs > ts) return false;
  if (lock.kind === 'lock') return false;
  if (lock.minCommitTs !== undefined && lock.minCommitTs > ts) return false;
  if (bypassLocks !== undefined && bypassLocks.includes(lock.startTs)) return false;
  return true;
}

function blockingLock(store: MvccStore, key: Uint8Array, ts: bigint, bypass: readonly bigint[] | undefined): KeyLocked | undefined {
  const lock = getLock(store, key);
  if (lock === undefined || !lockBlocksRead(lock, ts, bypass)) return undefined;
  return { type: 'KeyLocked', key, lock };
}

export function txnGet(store: MvccStore, req: TxnGet, limits: MvccLimits): TxnGetOutcome {
  const locked = blockingLock(store, req.key, req.ts, req.bypassLocks);
  if (locked !== undefined) return locked;
  return { type: 'Value', value: readValue(store, req.key, req.ts, limits) };
}

/**
 * A snapshot scan over user keys in [start, end). Walks candidate keys (any
 * key with a write record or a lock) one at a time in the wanted direction,
 * checks its lock and reads its visible value; keys deleted, rolled back or
 * invisible at ts yield nothing. Stops at `limit` pairs, or after examining
 * `scanKeysExaminedMax` keys, reporting where to continue.
 */
export function txnScan(store: MvccStore, req: TxnScan, limits: MvccLimits): TxnScanOutcome {
  const reverse = req.reverse === true;
  const pairs: { key: Uint8Array; value: Uint8Array }[] = [];
  // The keys still to visit are [lower, upper); upper empty: unbounded.
  let lower = req.start;
  let upper = req.end;
  for (let examined = 0; examined < limits.scanKeysExaminedMax; examined++) {
    const key = reverse ? lastCandidate(store, lower, upper) : firstCandidate(store, lower, upper);
    if (key === undefined) return { type: 'Pairs', pairs, more: false };
    if (pairs.length >= req.limit) {
      return { type: 'Pairs', pairs, more: true, resumeKey: reverse ? nextKey(key) : key };
    }
    const locked = blockingLock(store, key, req.ts, req.bypassLocks);
    if (locked !== undefined) return locked;
    const value = readValue(store, key, req.ts, limits);
    if (value !== undefined) pairs.push({ key, value });
    if (reverse) {
      // The empty key is the smallest; as an end bound it would mean "unbounded".
      if (key.length === 0) return { type: 'Pairs', pairs, more: false };
      upper = key;
    } else {
      lower = nextKey(key);
    }
  }
  return { type: 'Pairs', pairs, more: true, resumeKey: reverse ? upper : lower };
}

function inRange(key: Uint8Array, lower: Uint8Array, upper: Uint8Array): boolean {
  return compareBytes(key, lower) >= 0 && (upper.length === 0 || compareBytes(key, upper) < 0);
}

function rangeEmpty(lower: Uint8Array, upper: Uint8Array): boolean {
  return upper.length > 0 && compareBytes(lower, upper) >= 0;
}

/** The smallest user key in [lower, upper) that has a write record or a lock. */
function firstCandidate(store: MvccStore, lower: Uint8Array, upper: Uint8Array): Uint8Array | undefined {
  if (rangeEmpty(lower, upper)) return undefined;
  const range = userKeyRange(lower, upper);
  const write = store.scan('write', { start: range.start, end: range.end, limit: 1 })[0];
  const lock = store.scan('lock', { start: lower, end: upper, limit: 1 })[0];
  const fromWrite = write === undefined ? undefined : decodeKey(write.key).key;
  const fromLock = lock?.key;
  return pick(fromWrite, fromLock, lower, upper, (a, b) => compareBytes(a, b) <= 0);
}

/** The largest user key in [lower, upper) that has a write record or a lock. */
function lastCandidate(store: MvccStore, lower: Uint8Array, upper: Uint8Array): Uint8Array | undefined {
  if (rangeEmpty(lower, upper)) return undefined;
  const range = userKeyRange(lower, upper);
  const write = store.scan('write', { start: range.start, end: range.end, limit: 1, reverse: true })[0];
  const lock = store.scan('lock', { start: lower, end: upper, limit: 1, reverse: true })[0];
  const fromWrite = write === undefined ? undefined : decodeKey(write.key).key;
  const fromLock = lock?.key;
  return pick(fromWrite, fromLock, lower, upper, (a, b) => compareBytes(a, b) >= 0);
}

function pick(
  a: Uint8Array | undefined,
  b: Uint8Array | undefined,
  lower: Uint8Array,
  upper: Uint8Array,
  prefer: (a: Uint8Array, b: Uint8Array) => boolean,
): Uint8Array | undefined {
  const chosen = a === undefined ? b : b === undefined ? a : prefer(a, b) ? a : b;
  assert(chosen === undefined || inRange(chosen, lower, upper), 'scan candidate outside its range');
  return chosen;
}
