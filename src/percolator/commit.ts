// Commit (Percolator §2.2, phase two) and rollback of a list of keys.

import type { Commit, CommitOutcome, Rollback, RollbackOutcome } from './commands';
import { commitKey, distinctKeys, rollbackKey } from './key-actions';
import type { MvccLimits, MvccStore, MvccWriter } from './mvcc-store';
import { MvccTxn } from './mvcc-txn';

/**
 * Commits the txn on every key, all or none. Idempotent: keys it already
 * committed pass (a retried commit whose first try succeeded). The reported
 * commitTs is the one recorded on the first key.
 */
export function commit(store: MvccStore, writer: MvccWriter, cmd: Commit, limits: MvccLimits): CommitOutcome {
  const txn = new MvccTxn();
  let commitTs: bigint | undefined;
  for (const key of distinctKeys(cmd.keys)) {
    const outcome = commitKey(store, txn, key, cmd.startTs, cmd.commitTs, limits);
    if (outcome.type !== 'Committed') return outcome;
    commitTs ??= outcome.commitTs;
  }
  txn.flush(writer);
  return { type: 'Committed', commitTs: commitTs ?? cmd.commitTs };
}

/**
 * Rolls the txn back on every key, all or none: refused as a whole if any
 * key is already committed (the txn's fate is decided; only commit may
 * follow). Idempotent.
 */
export function rollback(store: MvccStore, writer: MvccWriter, cmd: Rollback, limits: MvccLimits): RollbackOutcome {
  const txn = new MvccTxn();
  for (const key of distinctKeys(cmd.keys)) {
    const outcome = rollbackKey(store, txn, key, cmd.startTs, limits);
    if (outcome.type !== 'RolledBack') return outcome;
  }
  txn.flush(writer);
  return { type: 'RolledBack' };
}
