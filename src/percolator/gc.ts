// MVCC garbage collection below a safe point (TiKV's GC): no reader will ever
// use a ts below safePoint again, so of each key's versions at or below it
// only the one a read at safePoint sees matters. Everything older goes, as
// do rollback and lock records at or below it, which carry no data; a delete
// that is that newest version goes too, since "absent" needs no record.

import { assert } from '../util/assert';
import { bytesEqual } from '../util/bytes';
import type { Gc, GcOutcome } from './commands';
import { decodeKey, encodeKey, nextKey, userKeyRange } from './key-codec';
import type { MvccLimits, MvccStore, MvccWriter } from './mvcc-store';
import { MvccTxn } from './mvcc-txn';
import { decodeWrite } from './records';

/** Where the pass is within one key's versions at or below the safe point. */
interface KeyState {
  key: Uint8Array;
  /** The newest put or delete at or below the safe point has been passed: all older versions go. */
  seenData: boolean;
  /**
   * commitTs of that newest version when it is a delete. Removed only once
   * the key is finished: a pass cut short keeps it, so the next pass still
   * learns from it that everything below is dead.
   */
  pendingDelete?: bigint;
}

/**
 * One bounded pass over [start, end): examines at most `limit` write rows
 * and says where to continue. A key cut short is resumed from its start,
 * seeking straight to the safe point (its newer versions are never touched).
 * The resumed pass first meets the version the last pass kept, so each pass
 * makes progress as long as limit >= 2.
 */
export function gc(store: MvccStore, writer: MvccWriter, cmd: Gc, limits: MvccLimits): GcOutcome {
  const txn = new MvccTxn();
  const range = userKeyRange(cmd.start, cmd.end);
  let cursor = encodeKey(cmd.start, cmd.safePoint);
  let current: KeyState | undefined;
  let examined = 0;
  let deleted = 0;

  const finishKey = (): void => {
    if (current?.pendingDelete === undefined) return;
    txn.deleteWrite(current.key, current.pendingDelete);
    deleted++;
  };

  // Each turn examines at least one row or returns, so `limit` turns suffice.
  for (let turn = 0; turn < cmd.limit && examined < cmd.limit; turn++) {
    const wanted = Math.min(cmd.limit - examined, limits.versionPageRows);
    const rows = store.scan('write', { start: cursor, end: range.end, limit: wanted });
    for (const row of rows) {
      examined++;
      const { key, ts } = decodeKey(row.key);
      if (current === undefined || !bytesEqual(current.key, key)) {
        finishKey();
        current = { key, seenData: false };
      }
      if (ts > cmd.safePoint) continue;
      const write = decodeWrite(row.value);
      if (current.seenData) {
        txn.deleteWrite(key, ts);
        if (write.kind === 'put') txn.deleteValue(key, write.startTs);
        deleted++;
      } else if (write.kind === 'put') {
        current.seenData = true;
      } else if (write.kind === 'delete') {
        current.seenData = true;
        current.pendingDelete = ts;
      } else {
        txn.deleteWrite(key, ts);
        deleted++;
      }
    }
    if (rows.length < wanted) {
      finishKey();
      txn.flush(writer);
      return { type: 'Collected', deleted, more: false };
    }
    cursor = nextKey(rows[rows.length - 1]!.key);
  }
  assert(current !== undefined, 'a gc pass that hit its limit examined rows');
  txn.flush(writer);
  return { type: 'Collected', deleted, more: true, resumeKey: current.key };
}
