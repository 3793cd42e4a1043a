// Storage is the stable part of the raft log as the application persisted it.
// Reads are synchronous: Durable Object SQLite and memory both answer at once.

import { assert } from '../util/assert';
import { type ConfState, type Entry, EntryType, type HardState, type Snapshot, limitSize } from './types';

/**
 * The log below `firstIndex()` was compacted into a snapshot. Raft catches it
 * to decide to send a snapshot instead of entries; it never leaves the
 * library (like etcd's ErrCompacted).
 */
export class CompactedError extends Error {
  override name = 'CompactedError';
}

/** The requested entries are beyond `lastIndex()`. */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
}

/** The snapshot is being produced; Raft retries the send later. */
export class SnapshotTemporarilyUnavailableError extends Error {
  override name = 'SnapshotTemporarilyUnavailableError';
}

/** A snapshot or compaction older than what storage already has. */
export class SnapshotOutOfDateError extends Error {
  override name = 'SnapshotOutOfDateError';
}

export interface InitialState {
  hardState: HardState;
  confState: ConfState;
}

export interface Storage {
  initialState(): InitialState;
  /** Entries in [lo, hi), limited to maxSize bytes but at least one. Throws CompactedError below firstIndex. */
  entries(lo: number, hi: number, maxSize?: number): Entry[];
  /** Term of entry i, for i in [firstIndex - 1, lastIndex]. Throws CompactedError/UnavailableError outside. */
  term(i: number): number;
  /** Index of the first entry that is still available (the snapshot index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

export const emptyHardState = (): HardState => ({ term: 0, vote: 0, commit: 0 });

export class MemoryStorage implements Storage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot = { data: new Uint8Array(0), metadata: { index: 0, term: 0, confState: { voters: [] } } };
  /**
   * ents[0] is a dummy standing for the last compacted entry (its index and
   * term are the snapshot's). Invariant: ents[i].index === ents[0].index + i.
   */
  private ents: Entry[] = [{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }];

  initialState(): InitialState {
    return { hardState: { ...this.hardState }, confState: { voters: [...this.snap.metadata.confState.voters] } };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  entries(lo: number, hi: number, maxSize = Number.MAX_SAFE_INTEGER): Entry[] {
    const offset = this.ents[0]!.index;
    if (lo <= offset) throw new CompactedError(`entries from ${lo}: compacted through ${offset}`);
    assert(hi <= this.lastIndex() + 1, `entries hi ${hi} beyond last index ${this.lastIndex()}`);
    if (this.ents.length === 1) throw new UnavailableError('only the dummy entry is present');
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSize);
  }

  term(i: number): number {
    const offset = this.ents[0]!.index;
    if (i < offset) throw new CompactedError(`term(${i}): compacted through ${offset}`);
    if (i - offset >= this.ents.length) throw new UnavailableError(`term(${i}): beyond last index`);
    return this.ents[i - offset]!.term;
  }

  firstIndex(): number {
    return this.ents[0]!.index + 1;
  }

  lastIndex(): number {
    return this.ents[0]!.index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the contents with the snapshot (a follower catching up). */
  applySnapshot(snap: Snapshot): void {
    const index = snap.metadata.index;
    if (index <= this.snap.metadata.index) {
      throw new SnapshotOutOfDateError(`snapshot at ${index} is not newer than ${this.snap.metadata.index}`);
    }
    this.snap = snap;
    this.ents = [{ term: snap.metadata.term, index, type: EntryType.Normal, data: new Uint8Array(0) }];
  }

  /** Records a snapshot of application state at index i (which must be applied). */
  createSnapshot(i: number, confState: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) {
      throw new SnapshotOutOfDateError(`snapshot at ${i} is not newer than ${this.snap.metadata.index}`);
    }
    assert(i <= this.lastIndex(), `snapshot index ${i} beyond last index ${this.lastIndex()}`);
    const offset = this.ents[0]!.index;
    if (i < offset) throw new CompactedError(`snapshot at ${i}: its entry was compacted (through ${offset})`);
    const metadata = {
      index: i,
      term: this.ents[i - offset]!.term,
      confState: confState ?? this.snap.metadata.confState,
    };
    this.snap = { data, metadata };
    return this.snap;
  }

  /** Discards entries up to and including compactIndex. */
  compact(compactIndex: number): void {
    const offset = this.ents[0]!.index;
    if (compactIndex <= offset) throw new CompactedError(`compact(${compactIndex}): already compacted through ${offset}`);
    assert(compactIndex <= this.lastIndex(), `compact(${compactIndex}) beyond last index ${this.lastIndex()}`);
    const i = compactIndex - offset;
    const dummy: Entry = { term: this.ents[i]!.term, index: compactIndex, type: EntryType.Normal, data: new Uint8Array(0) };
    this.ents = [dummy, ...this.ents.slice(i + 1)];
  }

  /** Appends entries, replacing any existing suffix they conflict with. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return; // all of them are compacted already
    // Skip what was compacted since the caller read the log.
    const fresh = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const offset = fresh[0]!.index - this.ents[0]!.index;
    assert(offset <= this.ents.length, `missing log entry: last ${this.lastIndex()}, appending at ${fresh[0]!.index}`);
    this.ents.length = offset;
    for (const e of fresh) this.ents.push(e);
  }
}
