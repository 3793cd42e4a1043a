// What a region peer keeps durable: its raft log and hard state (read by Raft
// through the Storage interface), its apply state, its region meta, and the
// region's data in column families. Everything is synchronous: Durable Object
// SQLite and memory both answer at once, and a whole Ready is written in one
// atomic `write` (one `transactionSync` on SQLite).

import type { Entry, HardState, Storage } from '../raft';
import type { RegionMeta } from './region';
import type { SplitHandoff } from './split';

/**
 * `raw` holds the raw (non-transactional) key space; `default`, `lock` and
 * `write` are Percolator's column families.
 */
export type ColumnFamily = 'raw' | 'default' | 'lock' | 'write';
export const columnFamilies: readonly ColumnFamily[] = ['raw', 'default', 'lock', 'write'];

export interface KvPair {
  key: Uint8Array;
  value: Uint8Array;
}

/** The last entry folded into the snapshot: the log starts right after it. */
export interface TruncatedState {
  index: number;
  term: number;
}

export interface ApplyState {
  /** Invariant: truncatedState.index <= appliedIndex <= hardState.commit. */
  appliedIndex: number;
  truncatedState: TruncatedState;
}

/**
 * A new region's log starts after a synthetic snapshot at this index and
 * term (as in TiKV), so that a peer that learns of the region from a
 * snapshot and one bootstrapped with it agree on where the log begins.
 */
export const raftInitLogIndex = 5;
export const raftInitLogTerm = 5;

export interface ScanOptions {
  /** Inclusive. */
  start: Uint8Array;
  /** Exclusive; empty means no upper bound. */
  end: Uint8Array;
  limit: number;
  /** Newest-first from `end` (exclusive) down to `start` (inclusive). */
  reverse?: boolean;
}

export interface PeerStorage extends Storage {
  /** The id of the peer this storage belongs to, once known. */
  peerId(): number | undefined;
  /** Undefined until the peer is initialized (bootstrap, split or snapshot). */
  region(): RegionMeta | undefined;
  applyState(): ApplyState;
  get(cf: ColumnFamily, key: Uint8Array): Uint8Array | undefined;
  scan(cf: ColumnFamily, options: ScanOptions): KvPair[];
  /** Splits applied whose new peer is not confirmed yet (src/store/split.ts), by new region id. */
  pendingSplits(): SplitHandoff[];
  /** Runs every write in `fn` as one atomic transaction; reads inside see the writes. */
  write(fn: (batch: WriteBatch) => void): void;
}

export interface WriteBatch {
  setPeerId(id: number): void;
  /** Appends entries, deleting any existing entries from the first new index on. */
  appendEntries(entries: Entry[]): void;
  setHardState(hs: HardState): void;
  setApplyState(state: ApplyState): void;
  setRegion(region: RegionMeta): void;
  put(cf: ColumnFamily, key: Uint8Array, value: Uint8Array): void;
  delete(cf: ColumnFamily, key: Uint8Array): void;
  /** Deletes every row of `cf` in [start, end); an empty end means no upper bound (snapshot install). */
  deleteRange(cf: ColumnFamily, start: Uint8Array, end: Uint8Array): void;
  /** Records a split's handoff (keyed by its new region id) until the new peer confirms. */
  putPendingSplit(handoff: SplitHandoff): void;
  deletePendingSplit(newRegionId: number): void;
  /** Deletes log entries with index <= upTo (log GC). */
  deleteEntriesUpTo(upTo: number): void;
  /** Empties everything (pending splits included): the peer was removed from its region. */
  destroy(): void;
}
