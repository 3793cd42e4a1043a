// Prewrite (Percolator §2.2, phase one) and its one-phase variant.

import type { Prewrite, PrewriteAndCommit, PrewriteAndCommitOutcome, PrewriteOutcome } from './commands';
import { checkPrewrite, lockKindOf } from './key-actions';
import type { MvccLimits, MvccStore, MvccWriter } from './mvcc-store';
import { MvccTxn } from './mvcc-txn';
import type { Lock } from './records';

/**
 * Locks every key of the mutation list and stores the values at startTs,
 * or, if any key fails its checks, writes nothing and reports that key.
 * Repeating a prewrite is harmless: keys already locked by this txn pass.
 */
export function prewrite(store: MvccStore, writer: MvccWriter, cmd: Prewrite, limits: MvccLimits): PrewriteOutcome {
  const txn = new MvccTxn();
  for (const m of cmd.mutations) {
    const check = checkPrewrite(store, m, cmd.startTs, limits);
    switch (check.type) {
      case 'Free': {
        const lock: Lock = { primary: cmd.primary, startTs: cmd.startTs, ttl: cmd.lockTtl, kind: lockKindOf(m) };
        if (cmd.minCommitTs !== undefined) lock.minCommitTs = cmd.minCommitTs;
        txn.putLock(m.key, lock);
        if (m.op === 'put') txn.putValue(m.key, cmd.startTs, m.value);
        break;
      }
      case 'OwnLock':
        break;
      default:
        return check;
    }
  }
  txn.flush(writer);
  return { type: 'Prewritten' };
}

/**
 * One-phase commit (TiKV's 1PC): when every key of a txn lives in one
 * region, prewrite and commit can be one log entry. Nothing is ever locked,
 * so the same checks as prewrite are followed directly by commit records at
 * commitTs, all in one atomic batch.
 *
 * The records become visible only when this command applies, so the caller
 * must pick commitTs above the ts of every read of these keys already served
 * (TiKV tracks the region's max read ts for this): otherwise a reader at a ts
 * above commitTs could see the key change under its snapshot.
 */
export function prewriteAndCommit(
  store: MvccStore,
  writer: MvccWriter,
  cmd: PrewriteAndCommit,
  limits: MvccLimits,
): PrewriteAndCommitOutcome {
  const txn = new MvccTxn();
  for (const m of cmd.mutations) {
    const check = checkPrewrite(store, m, cmd.startTs, limits);
    switch (check.type) {
      case 'Free':
        if (m.op === 'put') txn.putValue(m.key, cmd.startTs, m.value);
        txn.putWrite(m.key, cmd.commitTs, { startTs: cmd.startTs, kind: lockKindOf(m) });
        break;
      case 'OwnLock':
        // A 1PC txn never locks. A lock with its startTs means the same txn
        // was also sent down the two-phase path; report the lock so that it is
        // resolved through its primary rather than committed twice.
        return { type: 'KeyLocked', key: m.key, lock: check.lock };
      case 'AlreadyCommitted':
        // A duplicate of this very command that already applied: all of its
        // keys were committed together, so the txn is committed.
        return { type: 'Committed', commitTs: check.commitTs };
      default:
        return check;
    }
  }
  txn.flush(writer);
  return { type: 'Committed', commitTs: cmd.commitTs };
}
