// PeerStorage in memory, for the deterministic simulator and unit tests. The
// object itself plays the part of the disk: a simulated crash drops the Peer
// built over it and keeps this storage, as a Durable Object eviction drops
// memory and keeps SQLite. Writes go straight to the structures (so reads
// inside a batch see the batch's earlier writes, as they do inside a SQLite
// transaction) and each one records how to undo itself; a batch whose
// function throws is rolled back, which is what "atomic" means here, since
// nothing can interrupt synchronous code halfway.

import { type Entry, type HardState, type InitialState, type Snapshot, SnapshotTemporarilyUnavailableError } from '../raft';
import { emptyHardState } from '../raft/storage';
import { limitSize } from '../raft/types';
import { assert } from '../util/assert';
import { compareBytes } from '../util/bytes';
import {
  type ApplyState,
  type ColumnFamily,
  type KvPair,
  type PeerStorage,
  type ScanOptions,
  type WriteBatch,
} from './peer-storage';
import {
  type LogBounds,
  assertApplyStateAdvance,
  assertHardStateAdvance,
  assertIndex,
  assertKeyValue,
  assertPeerIdChange,
  assertRegionChange,
  assertScanOptions,
  assertStorageInvariants,
  checkEntriesRange,
  checkTermIndex,
  cloneApplyState,
  emptyApplyState,
  entriesToAppend,
  firstIndexOf,
  lastIndexOf,
} from './peer-storage-checks';
import { type RegionMeta, cloneRegion } from './region';
import { SnapshotCache } from './snapshot';
import { type SplitHandoff, cloneHandoff } from './split';

/**
 * One column family: rows sorted by key in memcmp order, found by binary
 * search. Inserting shifts the array (a memmove), which is cheap at the sizes
 * a simulated region holds and keeps scans O(log n + k).
 */
class SortedRows {
  /** Invariant: strictly increasing by compareBytes(key). */
  private rows: KvPair[] = [];

  /** Index of the first row whose key is >= key (rows.length when none is). */
  private lowerBound(key: Uint8Array): number {
    let lo = 0;
    let hi = this.rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.rows[mid]!.key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The stored value itself; callers copy before handing it out. */
  get(key: Uint8Array): Uint8Array | undefined {
    const i = this.lowerBound(key);
    const row = this.rows[i];
    return row !== undefined && compareBytes(row.key, key) === 0 ? row.value : undefined;
  }

  /** Stores key -> value (owned by the caller's copy) and returns the value it replaced. */
  put(key: Uint8Array, value: Uint8Array): Uint8Array | undefined {
    const i = this.lowerBound(key);
    const row = this.rows[i];
    if (row !== undefined && compareBytes(row.key, key) === 0) {
      const old = row.value;
      this.rows[i] = { key: row.key, value };
      return old;
    }
    this.rows.splice(i, 0, { key, value });
    return undefined;
  }

  /** Removes key and returns the value it had. */
  delete(key: Uint8Array): Uint8Array | undefined {
    const i = this.lowerBound(key);
    const row = this.rows[i];
    if (row === undefined || compareBytes(row.key, key) !== 0) return undefined;
    this.rows.splice(i, 1);
    return row.value;
  }

  scan(o: ScanOptions): KvPair[] {
    const out: KvPair[] = [];
    if (o.limit === 0) return out;
    const unbounded = o.end.length === 0;
    if (o.reverse === true) {
      let i = (unbounded ? this.rows.length : this.lowerBound(o.end)) - 1;
      for (; i >= 0 && out.length < o.limit; i--) {
        const row = this.rows[i]!;
        if (compareBytes(row.key, o.start) < 0) break;
        out.push({ key: row.key.slice(), value: row.value.slice() });
      }
      return out;
    }
    for (let i = this.lowerBound(o.start); i < this.rows.length && out.length < o.limit; i++) {
      const row = this.rows[i]!;
      if (!unbounded && compareBytes(row.key, o.end) >= 0) break;
      out.push({ key: row.key.slice(), value: row.value.slice() });
    }
    return out;
  }
}

function emptyColumnFamilies(): Record<ColumnFamily, SortedRows> {
  return { raw: new SortedRows(), default: new SortedRows(), lock: new SortedRows(), write: new SortedRows() };
}

export class MemoryPeerStorage implements PeerStorage {
  private id: number | undefined;
  private regionMeta: RegionMeta | undefined;
  /** Replaced, never mutated in place, so a saved reference is a snapshot. */
  private hard: HardState = emptyHardState();
  /** Replaced, never mutated in place. Invariant: truncated <= applied <= hard.commit. */
  private apply: ApplyState = emptyApplyState();
  /**
   * The stored log. Invariant: log[i].index === log[0].index + i, and when
   * it reaches past the truncated index it starts at or before firstIndex.
   */
  private log: Entry[] = [];
  private cfs = emptyColumnFamilies();
  /** Split handoffs not finished yet, by new region id (src/store/split.ts). Replaced, never mutated. */
  private splits = new Map<number, SplitHandoff>();
  /** The last snapshot generated: memory of the leader, not part of the "disk". */
  private snapshots = new SnapshotCache();
  /** Set while a write runs: how to undo each change made so far, in order. */
  private undo: (() => void)[] | undefined;

  // ---------------------------------------------------------------------------
  // Raft's Storage

  initialState(): InitialState {
    return {
      hardState: { ...this.hard },
      confState: { voters: this.regionMeta?.peers.map((p) => p.id) ?? [] },
    };
  }

  entries(lo: number, hi: number, maxSize = Number.MAX_SAFE_INTEGER): Entry[] {
    checkEntriesRange(lo, hi, this.bounds());
    const offset = this.log[0]?.index ?? 0;
    const ents = this.log.slice(lo - offset, hi - offset);
    assert(ents.length === hi - lo, `log is missing entries in [${lo}, ${hi})`);
    return limitSize(ents, maxSize);
  }

  term(i: number): number {
    const b = this.bounds();
    if (checkTermIndex(i, b)) return this.apply.truncatedState.term;
    const e = this.log[i - b.logFirst];
    assert(e !== undefined && e.index === i, `log is missing entry ${i}`);
    return e.term;
  }

  firstIndex(): number {
    return firstIndexOf(this.bounds());
  }

  lastIndex(): number {
    return lastIndexOf(this.bounds());
  }

  /** The region's data at the applied index (src/store/snapshot.ts), copied synchronously. */
  snapshot(): Snapshot {
    if (this.regionMeta === undefined) throw new SnapshotTemporarilyUnavailableError('no region to snapshot yet');
    return this.snapshots.snapshot(this);
  }

  // ---------------------------------------------------------------------------
  // PeerStorage reads

  peerId(): number | undefined {
    return this.id;
  }

  region(): RegionMeta | undefined {
    return this.regionMeta === undefined ? undefined : cloneRegion(this.regionMeta);
  }

  applyState(): ApplyState {
    return cloneApplyState(this.apply);
  }

  get(cf: ColumnFamily, key: Uint8Array): Uint8Array | undefined {
    assertKeyValue(key);
    return this.cfs[cf].get(key)?.slice();
  }

  scan(cf: ColumnFamily, options: ScanOptions): KvPair[] {
    assertScanOptions(options);
    return this.cfs[cf].scan(options);
  }

  pendingSplits(): SplitHandoff[] {
    return [...this.splits.values()].map(cloneHandoff);
  }

  // ---------------------------------------------------------------------------
  // Writes

  write(fn: (batch: WriteBatch) => void): void {
    assert(this.undo === undefined, 'write() does not nest');
    const undo: (() => void)[] = [];
    this.undo = undo;
    let open = true;
    // The batch is only a view of this storage; using it after write()
    // returned would write outside any transaction.
    const live = <A extends unknown[]>(f: (...args: A) => void) => (...args: A): void => {
      assert(open, 'a write batch is used after its write() returned');
      f(...args);
    };
    const batch: WriteBatch = {
      setPeerId: live((id: number) => this.setPeerId(id)),
      appendEntries: live((entries: Entry[]) => this.appendEntries(entries)),
      setHardState: live((hs: HardState) => this.setHardState(hs)),
      setApplyState: live((state: ApplyState) => this.setApplyState(state)),
      setRegion: live((region: RegionMeta) => this.setRegion(region)),
      put: live((cf: ColumnFamily, key: Uint8Array, value: Uint8Array) => this.put(cf, key, value)),
      delete: live((cf: ColumnFamily, key: Uint8Array) => this.delete(cf, key)),
      deleteRange: live((cf: ColumnFamily, start: Uint8Array, end: Uint8Array) => this.deleteRange(cf, start, end)),
      deleteEntriesUpTo: live((upTo: number) => this.deleteEntriesUpTo(upTo)),
      putPendingSplit: live((h: SplitHandoff) => this.setSplits(new Map(this.splits).set(h.right.id, cloneHandoff(h)))),
      deletePendingSplit: live((id: number) => {
        const next = new Map(this.splits);
        next.delete(id);
        this.setSplits(next);
      }),
      destroy: live(() => this.destroy()),
    };
    try {
      fn(batch);
      assertStorageInvariants(this.hard, this.apply, this.bounds());
    } catch (e) {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
      throw e;
    } finally {
      open = false;
      this.undo = undefined;
    }
  }

  private record(step: () => void): void {
    assert(this.undo !== undefined, 'storage is written outside write()');
    this.undo.push(step);
  }

  private bounds(): LogBounds {
    const n = this.log.length;
    return {
      truncatedIndex: this.apply.truncatedState.index,
      logFirst: n === 0 ? 0 : this.log[0]!.index,
      logLast: n === 0 ? 0 : this.log[n - 1]!.index,
    };
  }

  private setPeerId(id: number): void {
    assertPeerIdChange(this.id, id);
    const prev = this.id;
    this.record(() => (this.id = prev));
    this.id = id;
  }

  private setHardState(hs: HardState): void {
    assertHardStateAdvance(this.hard, hs);
    const prev = this.hard;
    this.record(() => (this.hard = prev));
    this.hard = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  private setApplyState(state: ApplyState): void {
    assertApplyStateAdvance(this.apply, state);
    const prev = this.apply;
    this.record(() => (this.apply = prev));
    this.apply = cloneApplyState(state);
  }

  private setRegion(region: RegionMeta): void {
    assertRegionChange(this.regionMeta, region);
    const prev = this.regionMeta;
    this.record(() => (this.regionMeta = prev));
    this.regionMeta = cloneRegion(region);
  }

  private appendEntries(entries: Entry[]): void {
    const b = this.bounds();
    const fresh = entriesToAppend(entries, b, (i) => this.term(i));
    if (fresh.length === 0) return;
    const start = fresh[0]!.index;
    // Copies, so that a caller reusing its Entry objects cannot rewrite history.
    const copies = fresh.map((e) => ({ index: e.index, term: e.term, type: e.type, data: e.data }));
    if (b.logLast === 0 || start > b.logLast + 1) {
      // Only compacted leftovers (if anything) precede the new entries: the
      // log restarts at `start`, keeping the array contiguous.
      const prev = this.log;
      this.record(() => (this.log = prev));
      this.log = copies;
      return;
    }
    // start >= firstIndex >= logFirst here (no hole after the truncated index).
    const keep = start - b.logFirst;
    assert(keep >= 0, `append at ${start} before the log start ${b.logFirst}`);
    const removed = this.log.splice(keep);
    this.record(() => {
      this.log.length = keep;
      for (const e of removed) this.log.push(e);
    });
    for (const e of copies) this.log.push(e);
  }

  private deleteEntriesUpTo(upTo: number): void {
    assertIndex(upTo, 'deleteEntriesUpTo');
    const b = this.bounds();
    if (b.logLast === 0 || upTo < b.logFirst) return;
    const n = Math.min(upTo, b.logLast) - b.logFirst + 1;
    const removed = this.log.splice(0, n);
    this.record(() => (this.log = removed.concat(this.log)));
  }

  private put(cf: ColumnFamily, key: Uint8Array, value: Uint8Array): void {
    assertKeyValue(key, value);
    const k = key.slice();
    const old = this.cfs[cf].put(k, value.slice());
    this.record(() => {
      if (old === undefined) this.cfs[cf].delete(k);
      else this.cfs[cf].put(k, old);
    });
  }

  private delete(cf: ColumnFamily, key: Uint8Array): void {
    assertKeyValue(key);
    const old = this.cfs[cf].delete(key);
    if (old === undefined) return;
    const k = key.slice();
    this.record(() => this.cfs[cf].put(k, old));
  }

  private deleteRange(cf: ColumnFamily, start: Uint8Array, end: Uint8Array): void {
    assertKeyValue(start);
    assertKeyValue(end);
    // Whole rows at once: a region holds at most what its snapshot could carry.
    const doomed = this.cfs[cf].scan({ start, end, limit: Number.MAX_SAFE_INTEGER });
    for (const row of doomed) this.delete(cf, row.key);
  }

  private setSplits(next: Map<number, SplitHandoff>): void {
    const prev = this.splits;
    this.record(() => {
      this.splits = prev;
    });
    this.splits = next;
  }

  private destroy(): void {
    const prev = { id: this.id, region: this.regionMeta, hard: this.hard, apply: this.apply, log: this.log, cfs: this.cfs };
    this.setSplits(new Map());
    this.record(() => {
      this.id = prev.id;
      this.regionMeta = prev.region;
      this.hard = prev.hard;
      this.apply = prev.apply;
      this.log = prev.log;
      this.cfs = prev.cfs;
    });
    this.id = undefined;
    this.regionMeta = undefined;
    this.hard = emptyHardState();
    this.apply = emptyApplyState();
    this.log = [];
    this.cfs = emptyColumnFamilies();
  }
}
