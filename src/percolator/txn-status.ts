// The primary lock as the txn's single point of truth (Percolator §2.2):
// checkTxnStatus decides a txn's fate for whoever meets one of its locks,
// txnHeartbeat keeps a live txn from being decided against.

import { assert } from '../util/assert';
import { bytesEqual } from '../util/bytes';
import type { CheckTxnStatus, CheckTxnStatusOutcome, TxnHeartbeat, TxnHeartbeatOutcome } from './commands';
import { rollbackKey } from './key-actions';
import { getLock, txnRecord } from './mvcc-reader';
import type { MvccLimits, MvccStore, MvccWriter } from './mvcc-store';
import { MvccTxn } from './mvcc-txn';
import type { Lock } from './records';
import { physicalMs, tsMax } from './timestamp';

/** A lock's TTL counts from its startTs's physical time; `currentTs` is the asker's now, a TSO timestamp. */
export function lockExpired(lock: Lock, currentTs: bigint): boolean {
  return physicalMs(currentTs) - physicalMs(lock.startTs) >= lock.ttl;
}

/**
 * Committed -> its commitTs. Lock expired -> roll it back (the txn is dead:
 * its coordinator stopped heart-beating). Lock alive -> its ttl, after
 * pushing minCommitTs past the caller's startTs if asked. Nothing there ->
 * write a rollback record: the prewrite of the primary may still be in
 * flight, and the record makes it fail when it lands, so the answer
 * "rolled back" stays true.
 */
export function checkTxnStatus(
  store: MvccStore,
  writer: MvccWriter,
  cmd: CheckTxnStatus,
  limits: MvccLimits,
): CheckTxnStatusOutcome {
  const txn = new MvccTxn();
  const lock = getLock(store, cmd.primary);
  if (lock !== undefined && lock.startTs === cmd.lockTs) {
    if (!bytesEqual(lock.primary, cmd.primary)) return { type: 'PrimaryMismatch', key: cmd.primary, lock };
    if (lockExpired(lock, cmd.currentTs)) {
      const outcome = rollbackKey(store, txn, cmd.primary, cmd.lockTs, limits);
      assert(outcome.type === 'RolledBack', 'a txn holding its primary lock cannot be committed');
      txn.flush(writer);
      return { type: 'RolledBack', action: 'ttlExpireRollback' };
    }
    const pushed = pushMinCommitTs(lock, cmd.callerStartTs);
    if (pushed === undefined) return { type: 'Locked', lock, action: 'none' };
    txn.putLock(cmd.primary, pushed);
    txn.flush(writer);
    return { type: 'Locked', lock: pushed, action: 'minCommitTsPushed' };
  }
  const record = txnRecord(store, cmd.primary, cmd.lockTs, limits);
  switch (record.type) {
    case 'committed':
      return { type: 'Committed', commitTs: record.commitTs };
    case 'rolledBack':
      return { type: 'RolledBack', action: 'none' };
    case 'none': {
      const outcome = rollbackKey(store, txn, cmd.primary, cmd.lockTs, limits);
      assert(outcome.type === 'RolledBack', 'a txn without a commit record cannot be committed');
      txn.flush(writer);
      return { type: 'RolledBack', action: 'lockNotExistRollback' };
    }
  }
}

/**
 * TiKV's min_commit_ts push: a reader at callerStartTs that met this txn's
 * lock asks that the txn commit after callerStartTs. Commit then refuses any
 * commitTs below minCommitTs, so the txn's writes are invisible at
 * callerStartTs whatever happens, and the reader may ignore its locks
 * instead of waiting for it. tsMax means "do not push" (and keeps + 1 in range).
 */
function pushMinCommitTs(lock: Lock, callerStartTs: bigint | undefined): Lock | undefined {
  if (callerStartTs === undefined || callerStartTs === tsMax) return undefined;
  // A reader older than the txn never sees it anyway.
  if (callerStartTs < lock.startTs) return undefined;
  const wanted = callerStartTs + 1n;
  if (lock.minCommitTs !== undefined && lock.minCommitTs >= wanted) return undefined;
  return { ...lock, minCommitTs: wanted };
}

/** Extends the primary lock's ttl (never shortens it). */
export function txnHeartbeat(store: MvccStore, writer: MvccWriter, cmd: TxnHeartbeat): TxnHeartbeatOutcome {
  const lock = getLock(store, cmd.primary);
  if (lock === undefined || lock.startTs !== cmd.startTs) {
    return { type: 'TxnLockNotFound', key: cmd.primary, startTs: cmd.startTs };
  }
  if (cmd.adviseTtl <= lock.ttl) return { type: 'LockTtl', ttl: lock.ttl };
  const txn = new MvccTxn();
  txn.putLock(cmd.primary, { ...lock, ttl: cmd.adviseTtl });
  txn.flush(writer);
  return { type: 'LockTtl', ttl: cmd.adviseTtl };
}
