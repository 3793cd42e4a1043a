// What prewrite, commit and rollback do to one key. The commands combine
// these over their keys (and checkTxnStatus and resolveLock reuse commit and
// rollback), always planning into an MvccTxn that is written only if the
// whole command succeeds.

import { assert } from '../util/assert';
import { bytesKey } from '../util/bytes';
import type {
  AlreadyCommitted,
  AlreadyExist,
  CommitTsExpired,
  Committed,
  KeyLocked,
  Mutation,
  TxnAborted,
  TxnLockNotFound,
  WriteConflict,
} from './commands';
import { getLock, getWrite, seekWrite, txnRecord, visibleWrite } from './mvcc-reader';
import type { MvccLimits, MvccStore } from './mvcc-store';
import type { MvccTxn } from './mvcc-txn';
import type { Lock, LockKind } from './records';
import { tsMax } from './timestamp';

export type PrewriteCheck =
  | { type: 'Free' }
  /** This txn already holds the lock: a repeated prewrite, nothing to do. */
  | { type: 'OwnLock'; lock: Lock }
  | KeyLocked
  | WriteConflict
  | TxnAborted
  | AlreadyExist
  | AlreadyCommitted;

export function lockKindOf(m: Mutation): LockKind {
  switch (m.op) {
    case 'put':
      return 'put';
    case 'delete':
      return 'delete';
    case 'lock':
    case 'assert_not_exists':
      return 'lock';
  }
}

function requiresAbsent(m: Mutation): boolean {
  return m.op === 'assert_not_exists' || (m.op === 'put' && m.assertNotExists === true);
}

/** Whether txn `startTs` may take `m.key` (prewrite's checks, Percolator §2.2), without writing anything. */
export function checkPrewrite(store: MvccStore, m: Mutation, startTs: bigint, limits: MvccLimits): PrewriteCheck {
  const key = m.key;
  // A rollback record of this very txn means someone (a reader through
  // checkTxnStatus, or the coordinator) already aborted it: a prewrite that
  // arrives late must not resurrect it. Checked first because it is final.
  const atStart = getWrite(store, key, startTs);
  if (atStart !== undefined && atStart.startTs === startTs && atStart.kind === 'rollback') {
    return { type: 'TxnAborted', key, startTs };
  }
  const lock = getLock(store, key);
  if (lock !== undefined) {
    if (lock.startTs === startTs) return { type: 'OwnLock', lock };
    return { type: 'KeyLocked', key, lock };
  }
  // Percolator aborts on any write newer than startTs: someone committed
  // after our snapshot, so writing would lose their update. Lock records
  // count (that is what they are for); rollbacks of other txns carry no
  // data and are passed over, which spares a txn a spurious conflict with
  // one that never committed.
  const newer = seekWrite(
    store,
    key,
    tsMax,
    startTs,
    (w) => w.write.kind !== 'rollback' || w.write.startTs === startTs,
    limits,
  );
  if (newer !== undefined) {
    if (newer.write.startTs === startTs) {
      // Our own commit record: this prewrite is a stale duplicate of one that already went all the way.
      assert(newer.write.kind !== 'rollback', 'own rollback was checked above');
      return { type: 'AlreadyCommitted', key, commitTs: newer.commitTs };
    }
    return { type: 'WriteConflict', key, startTs, conflictTs: newer.commitTs, conflictStartTs: newer.write.startTs };
  }
  // With no write at or after startTs, the newest version is the one our snapshot sees.
  if (requiresAbsent(m) && visibleWrite(store, key, tsMax, limits)?.write.kind === 'put') {
    return { type: 'AlreadyExist', key };
  }
  return { type: 'Free' };
}

/** Commits txn `startTs` on `key` at commitTs, or recognizes that it already did. */
export function commitKey(
  store: MvccStore,
  txn: MvccTxn,
  key: Uint8Array,
  startTs: bigint,
  commitTs: bigint,
  limits: MvccLimits,
): Committed | TxnAborted | TxnLockNotFound | CommitTsExpired {
  assert(commitTs > startTs, `commitTs ${commitTs} must be after startTs ${startTs}`);
  const lock = getLock(store, key);
  if (lock !== undefined && lock.startTs === startTs) {
    if (lock.minCommitTs !== undefined && commitTs < lock.minCommitTs) {
      return { type: 'CommitTsExpired', key, commitTs, minCommitTs: lock.minCommitTs };
    }
    // Timestamps from the TSO are unique, so no other txn committed this key
    // at commitTs. Another txn's rollback there (its startTs == our commitTs)
    // may be replaced: our commit record still fails its late prewrite.
    const occupant = getWrite(store, key, commitTs);
    assert(
      occupant === undefined || occupant.kind === 'rollback',
      `key already has a ${occupant?.kind} record of txn ${occupant?.startTs} at commitTs ${commitTs}`,
    );
    // The value stays in `default` at (key, startTs); the commit record points to it.
    txn.putWrite(key, commitTs, { startTs, kind: lock.kind });
    txn.deleteLock(key);
    return { type: 'Committed', commitTs };
  }
  const record = txnRecord(store, key, startTs, limits);
  switch (record.type) {
    case 'committed':
      return { type: 'Committed', commitTs: record.commitTs };
    case 'rolledBack':
      return { type: 'TxnAborted', key, startTs };
    case 'none':
      return { type: 'TxnLockNotFound', key, startTs };
  }
}

/** Rolls back txn `startTs` on `key`; refuses if it committed there. */
export function rollbackKey(
  store: MvccStore,
  txn: MvccTxn,
  key: Uint8Array,
  startTs: bigint,
  limits: MvccLimits,
): { type: 'RolledBack' } | AlreadyCommitted {
  const lock = getLock(store, key);
  if (lock !== undefined && lock.startTs === startTs) {
    txn.deleteLock(key);
    if (lock.kind === 'put') txn.deleteValue(key, startTs);
    putRollbackRecord(store, txn, key, startTs);
    return { type: 'RolledBack' };
  }
  const record = txnRecord(store, key, startTs, limits);
  switch (record.type) {
    case 'committed':
      return { type: 'AlreadyCommitted', key, commitTs: record.commitTs };
    case 'rolledBack':
      return { type: 'RolledBack' };
    case 'none':
      // No lock yet (prewrite lost or still in flight) or another txn's lock:
      // the record alone is what stops our prewrite if it arrives later.
      putRollbackRecord(store, txn, key, startTs);
      return { type: 'RolledBack' };
  }
}

function putRollbackRecord(store: MvccStore, txn: MvccTxn, key: Uint8Array, startTs: bigint): void {
  // A commit record of another txn whose commitTs equals our startTs would
  // own this slot. TSO timestamps are unique so it should not happen; if it
  // does, keeping the commit is right, and it still fails a late prewrite of
  // ours, which conflicts with any write at or after its startTs.
  const occupant = getWrite(store, key, startTs);
  if (occupant !== undefined) {
    assert(occupant.startTs !== startTs, `txn ${startTs} already has a ${occupant.kind} record at its own startTs`);
    return;
  }
  txn.putWrite(key, startTs, { startTs, kind: 'rollback' });
}

/** The keys without repeats, first occurrence kept: commands plan each key once. */
export function distinctKeys(keys: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  const out: Uint8Array[] = [];
  for (const key of keys) {
    const id = bytesKey(key);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(key);
  }
  return out;
}
