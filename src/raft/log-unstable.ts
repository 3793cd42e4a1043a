// The tail of the log that the application has not persisted yet: entries the
// leader appended or a follower received, and possibly an incoming snapshot.

import { assert } from '../util/assert';
import type { Entry, Snapshot } from './types';

export class Unstable {
  /** An incoming snapshot, not yet persisted. */
  snapshot: Snapshot | undefined = undefined;
  /** Entries not yet persisted. Invariant: entries[i].index === offset + i. */
  entries: Entry[] = [];
  /** Index of entries[0]; every index below it is stable (or in the snapshot). */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** The first index, if the only thing known is an unstable snapshot. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.metadata.index : undefined;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /**
   * Entries through index i with term t are now durable. A mismatching term
   * means they were overwritten by a newer leader since the Ready was taken;
   * they stay unstable.
   */
  stableTo(i: number, t: number): void {
    const term = this.maybeTerm(i);
    if (term === undefined || term !== t || i < this.offset) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  /** Appends, truncating whatever the new entries overwrite. */
  truncateAndAppend(ents: Entry[]): void {
    const after = ents[0]!.index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // Replaces all unstable entries, and some stable ones: lowering offset is
      // what lowers `stabled`, so the application rewrites them.
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.slice(this.offset, after);
      for (const e of ents) this.entries.push(e);
    }
  }

  slice(lo: number, hi: number): Entry[] {
    assert(lo <= hi, `unstable slice lo ${lo} > hi ${hi}`);
    const upper = this.offset + this.entries.length;
    assert(lo >= this.offset && hi <= upper, `unstable slice [${lo},${hi}) out of [${this.offset},${upper})`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
