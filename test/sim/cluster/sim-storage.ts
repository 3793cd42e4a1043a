// MemoryPeerStorage that reports every entry its peer applied, so the
// simulator can check that all replicas apply the same entry at each index
// (Raft's State Machine Safety) and can decode the applied history. Log GC
// and snapshot installs delete entries inside the very write that applies
// them, so reading the logs from time to time would miss some: the entries
// about to be folded into the truncated state are read just before that
// happens, and the rest right after each write.

import type { Entry } from '../../../src/raft';
import { MemoryPeerStorage } from '../../../src/store/memory-peer-storage';
import type { ApplyState, WriteBatch } from '../../../src/store/peer-storage';

export class SimPeerStorage extends MemoryPeerStorage {
  /** Applied (or committed and compacted) entries up to this index were reported. */
  private reportedUpTo = 0;
  /** Writes that moved the truncated index by log GC, and snapshot installs: for the run's statistics. */
  compactions = 0;
  snapshotsInstalled = 0;

  constructor(private readonly onApplied: (entries: Entry[]) => void) {
    super();
  }

  override write(fn: (batch: WriteBatch) => void): void {
    // Entries at or below the commit index are committed for good; above it
    // a follower may hold entries of a deposed leader that a snapshot is
    // about to replace, which were never applied anywhere.
    const commitBefore = this.initialState().hardState.commit;
    const folded: Entry[] = [];
    const truncatedBefore = this.applyState().truncatedState.index;
    // Installing a snapshot replaces the region's data; log GC never deletes data.
    let replacedData = false;
    super.write((batch) =>
      fn({
        ...batch,
        deleteRange: (cf, start, end) => {
          replacedData = true;
          batch.deleteRange(cf, start, end);
        },
        setApplyState: (state: ApplyState) => {
          const upTo = Math.min(state.truncatedState.index, commitBefore, this.lastIndex());
          const from = Math.max(this.reportedUpTo + 1, this.firstIndex(), (folded[folded.length - 1]?.index ?? 0) + 1);
          if (from <= upTo) folded.push(...this.entries(from, upTo + 1));
          batch.setApplyState(state);
        },
      }),
    );
    // Only a write that committed counts: a failed one was rolled back.
    // (From 0 it is the bootstrap, which starts the log at raftInitLogIndex.)
    if (truncatedBefore > 0 && this.applyState().truncatedState.index > truncatedBefore) {
      if (replacedData) this.snapshotsInstalled++;
      else this.compactions++;
    }
    const applied = this.applyState().appliedIndex;
    const reported = folded.filter((e) => e.index > this.reportedUpTo);
    const from = Math.max(this.reportedUpTo + 1, this.firstIndex(), (reported[reported.length - 1]?.index ?? 0) + 1);
    if (from <= applied) reported.push(...this.entries(from, applied + 1));
    this.reportedUpTo = Math.max(this.reportedUpTo, applied);
    if (reported.length > 0) this.onApplied(reported);
  }
}
