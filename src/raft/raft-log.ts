// RaftLog joins the persisted log (Storage) and the unstable tail into one
// log, and tracks how far it is committed and applied.

import { assert } from '../util/assert';
import { Unstable } from './log-unstable';
import { CompactedError, type Storage, UnavailableError } from './storage';
import { type Entry, type Snapshot, limitSize } from './types';

const noLimit = Number.MAX_SAFE_INTEGER;

export class RaftLog {
  readonly storage: Storage;
  unstable: Unstable;
  /** Highest index known to be stored on a quorum. Invariant: applied <= committed <= lastIndex(). */
  committed: number;
  /** Highest index the application has applied. Invariant: applied <= applying <= committed. */
  applied: number;
  /** Highest index handed to the application to apply, not yet acknowledged by advance. */
  applying: number;
  /** Bytes of committed entries handed out in one Ready. */
  readonly maxApplyingSize: number;

  constructor(storage: Storage, maxApplyingSize = noLimit) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    // Everything up to the snapshot is committed and applied by definition.
    this.committed = first - 1;
    this.applied = first - 1;
    this.applying = first - 1;
    this.maxApplyingSize = maxApplyingSize;
  }

  /** Highest index that is persisted. Invariant: stabled <= lastIndex(). */
  get stabled(): number {
    return this.unstable.offset - 1;
  }

  get pendingSnapshot(): Snapshot | undefined {
    return this.unstable.snapshot;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, 'term of the last index must be known');
    return t;
  }

  /** Term of entry i, or undefined if it is compacted or beyond the log. */
  term(i: number): number | undefined {
    // The valid range is [firstIndex - 1, lastIndex]: the entry before the
    // first is the snapshot's, whose term is still known.
    const dummy = this.firstIndex() - 1;
    if (i < dummy || i > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    try {
      return this.storage.term(i);
    } catch (e) {
      if (e instanceof CompactedError || e instanceof UnavailableError) return undefined;
      throw e;
    }
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /**
   * Raft §5.4.1: a log is at least as up to date as ours if its last term is
   * higher, or equal with a last index at least ours.
   */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Follower side of AppendEntries. Returns the index of the last new entry,
   * or undefined if the log does not contain (index, logTerm).
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      assert(conflict > this.committed, `entry ${conflict} conflicts with committed entry (committed ${this.committed})`);
      this.append(ents.slice(conflict - (index + 1)));
    }
    // Commit no further than what this message proved we share with the leader:
    // entries after lastNew may be stale leftovers from an older term.
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0]!.index - 1;
    assert(after >= this.committed, `append after ${after} would overwrite committed ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The index of the first entry whose term differs from ours, or of the
   * first new entry; 0 when every entry is already in the log.
   */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with its term: the
   * leader and the follower may share the log up to there, so probing resumes
   * one term back per round trip instead of one entry. Stops at the first
   * index whose term is unknown (compacted) rather than walking below it.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (; index > 0; index--) {
      const ours = this.term(index);
      if (ours === undefined) return { index, term: 0 };
      if (ours <= term) return { index, term: ours };
    }
    return { index: 0, term: 0 };
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries;
  }

  /** Committed entries not yet handed to the application, within maxApplyingSize. */
  nextEnts(): Entry[] {
    if (!this.hasNextEnts()) return [];
    const lo = Math.max(this.applying + 1, this.firstIndex());
    return this.slice(lo, this.committed + 1, this.maxApplyingSize);
  }

  hasNextEnts(): boolean {
    // Entries after a pending snapshot wait until it is installed.
    if (this.unstable.snapshot !== undefined) return false;
    return this.committed > Math.max(this.applying, this.firstIndex() - 1);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Entries from i to the end, at most maxSize bytes (at least one). Throws CompactedError below firstIndex. */
  entries(i: number, maxSize = noLimit): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  allEntries(): Entry[] {
    return this.entries(this.firstIndex());
  }

  commitTo(i: number): void {
    if (i <= this.committed) return; // never decrease commit
    assert(i <= this.lastIndex(), `commit ${i} beyond last index ${this.lastIndex()}`);
    this.committed = i;
  }

  /** Commits maxIndex if it is in the given term (Raft §5.4.2: count replicas only for current-term entries). */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    assert(i <= this.committed && i >= this.applied, `applied ${i} outside [${this.applied}, ${this.committed}]`);
    this.applied = i;
    if (this.applying < i) this.applying = i;
  }

  /** The application took committed entries through i to apply. */
  acceptApplying(i: number): void {
    assert(i <= this.committed, `applying ${i} beyond committed ${this.committed}`);
    this.applying = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  restore(s: Snapshot): void {
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Entries in [lo, hi), from storage and/or the unstable tail, limited to maxSize bytes. */
  slice(lo: number, hi: number, maxSize = noLimit): Entry[] {
    this.checkBounds(lo, hi);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    const offset = this.unstable.offset;
    if (lo < offset) {
      const stored = this.storage.entries(lo, Math.min(hi, offset), maxSize);
      // Storage stopped early because of the size limit: that is the answer.
      if (stored.length < Math.min(hi, offset) - lo) return stored;
      ents = stored;
    }
    if (hi > offset) {
      const fresh = this.unstable.slice(Math.max(lo, offset), hi);
      ents = ents.length > 0 ? ents.concat(fresh) : fresh;
    }
    return maxSize === noLimit ? ents : limitSize(ents, maxSize);
  }

  private checkBounds(lo: number, hi: number): void {
    assert(lo <= hi, `invalid slice ${lo} > ${hi}`);
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(`slice from ${lo}: first index is ${first}`);
    const upper = this.lastIndex() + 1;
    assert(hi <= upper, `slice [${lo},${hi}) out of bound [${first},${upper})`);
  }
}
