// ResolveLock: once a txn's primary has decided (committed at commitTs, or
// rolled back), its secondary locks are rolled forward or back to match
// (Percolator §2.2: a reader that finds a stale secondary lock consults the
// primary and cleans up).

import { assert } from '../util/assert';
import type { CommitTsExpired, ResolveLock, ResolveLockOutcome } from './commands';
import { commitKey, distinctKeys, rollbackKey } from './key-actions';
import { getLock } from './mvcc-reader';
import type { MvccLimits, MvccStore, MvccWriter } from './mvcc-store';
import { MvccTxn } from './mvcc-txn';
import { decodeLock } from './records';
import { nextKey } from './key-codec';

/**
 * Commits (commitTs > 0) or rolls back (commitTs = 0) every lock of txn
 * startTs in scope; locks of other txns are left alone. A key list resolves
 * just those keys; a range scans the lock column family, at most `limit`
 * rows a call, and says where to continue.
 */
export function resolveLock(store: MvccStore, writer: MvccWriter, cmd: ResolveLock, limits: MvccLimits): ResolveLockOutcome {
  const txn = new MvccTxn();
  let resolved = 0;
  const resolve = (key: Uint8Array): CommitTsExpired | undefined => {
    if (cmd.commitTs === 0n) {
      const outcome = rollbackKey(store, txn, key, cmd.startTs, limits);
      assert(outcome.type === 'RolledBack', 'a key still locked by its txn cannot be committed');
    } else {
      const outcome = commitKey(store, txn, key, cmd.startTs, cmd.commitTs, limits);
      // The commitTs comes from the primary's commit record, which already
      // satisfied the primary's minCommitTs; a secondary refuses only if the
      // caller passes a commitTs below a minCommitTs given at prewrite.
      if (outcome.type === 'CommitTsExpired') return outcome;
      assert(outcome.type === 'Committed', `resolving a held lock gave ${outcome.type}`);
    }
    resolved++;
    return undefined;
  };

  if ('keys' in cmd.scope) {
    for (const key of distinctKeys(cmd.scope.keys)) {
      if (getLock(store, key)?.startTs !== cmd.startTs) continue;
      const refused = resolve(key);
      if (refused !== undefined) return refused;
    }
    txn.flush(writer);
    return { type: 'Resolved', resolved, more: false };
  }

  const rows = store.scan('lock', { start: cmd.scope.start, end: cmd.scope.end, limit: cmd.limit });
  for (const row of rows) {
    if (decodeLock(row.value).startTs !== cmd.startTs) continue;
    const refused = resolve(row.key);
    if (refused !== undefined) return refused;
  }
  txn.flush(writer);
  if (rows.length < cmd.limit) return { type: 'Resolved', resolved, more: false };
  return { type: 'Resolved', resolved, more: true, resumeKey: nextKey(rows[rows.length - 1]!.key) };
}
