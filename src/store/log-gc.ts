// Raft log GC (TiKV's raft_log_gc): the leader proposes a CompactLog admin
// command once the applied part of the log grows past a limit, and every
// replica, when it applies the command, folds the entries up to the compact
// index into its truncated state and deletes them. Raft sees the new first
// index through PeerStorage.firstIndex(), and sends a snapshot to a follower
// that still needs a deleted entry.
//
// Choice of compactIndex: the leader's applied index (TinyKV's choice), not
// the minimum of the followers' match indexes (TiKV's, within bounds). It
// keeps every log short whatever a lagging or partitioned follower does, at
// the price of a snapshot for a follower that falls more than one GC window
// behind. With RAFT_LOG_GC_COUNT_LIMIT = 1000 that is a follower missing
// about a thousand writes, which a snapshot serves better than entries anyway.

import { assert } from '../util/assert';
import type { AdminRequest } from './admin';
import type { CommandHeader, RaftCommand } from './command-codec';
import type { PeerStorage, WriteBatch } from './peer-storage';
import type { RegionMeta } from './region';

/** Default for PeerConfig.raftLogGcCountLimit (TiKV's raft_log_gc_count_limit is larger; our rows are bigger per byte). */
export const raftLogGcCountLimitDefault = 1000;

export type CompactLog = Extract<AdminRequest, { type: 'CompactLog' }>;

/**
 * The CompactLog command the leader should propose now, or undefined.
 * `lastProposed` is the compact index this leader already proposed (memory
 * only), so a proposal in flight is not repeated on every tick; a lost one
 * is retried once another `limit` entries were applied past it.
 */
export function compactLogToPropose(
  storage: PeerStorage,
  region: RegionMeta,
  limit: number,
  lastProposed: number,
): RaftCommand | undefined {
  assert(Number.isSafeInteger(limit) && limit >= 1, `raft log GC limit must be a positive integer, got ${limit}`);
  const { appliedIndex, truncatedState } = storage.applyState();
  const floor = Math.max(truncatedState.index, lastProposed);
  if (appliedIndex - floor <= limit) return undefined;
  // appliedIndex > truncated index, so its entry is still in the log.
  const compactTerm = storage.term(appliedIndex);
  const header: CommandHeader = { regionId: region.id, epoch: { ...region.epoch } };
  return { kind: 'Admin', header, admin: { type: 'CompactLog', compactIndex: appliedIndex, compactTerm } };
}

export type CompactLogOutcome = 'Compacted' | 'Stale';

/**
 * Applies a committed CompactLog entry at `entryIndex` inside the Ready's
 * batch. Deterministic on every replica: its log up to entryIndex is the
 * same committed log, so the refusals below happen everywhere or nowhere.
 *
 * Epoch: like TiKV (check_region_epoch: CompactLog checks neither version nor
 * confVer), only the region id is checked, by the caller: compacting the log
 * is valid whatever the key range or membership became since the proposal.
 */
export function applyCompactLog(
  batch: WriteBatch,
  storage: PeerStorage,
  entryIndex: number,
  compact: CompactLog,
): CompactLogOutcome {
  const { compactIndex, compactTerm } = compact;
  assert(Number.isSafeInteger(compactIndex) && Number.isSafeInteger(compactTerm), 'CompactLog: indexes must be integers');
  const current = storage.applyState();
  // Every entry before this one is applied by the time this one applies, in
  // this batch or an earlier one: that is the applied index this command sees.
  const applied = entryIndex - 1;
  assert(applied >= current.appliedIndex, `CompactLog at ${entryIndex} applied before entry ${current.appliedIndex}`);
  const truncated = current.truncatedState.index;
  // An older compaction, or one already overtaken by a snapshot: nothing to do.
  if (compactIndex <= truncated) return 'Stale';
  // A proposer compacts at most to its applied index, which is below this entry.
  if (compactIndex > applied) return 'Stale';
  // Committed logs agree (Log Matching), so the term must match ours.
  const term = storage.term(compactIndex);
  assert(term === compactTerm, `CompactLog: entry ${compactIndex} has term ${term}, the command says ${compactTerm}`);
  batch.setApplyState({ appliedIndex: applied, truncatedState: { index: compactIndex, term: compactTerm } });
  batch.deleteEntriesUpTo(compactIndex);
  return 'Compacted';
}
