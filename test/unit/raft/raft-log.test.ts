import { describe, expect, it } from 'vitest';
import { CompactedError, type Entry, MemoryStorage, RaftLog, type Snapshot, entrySize } from '../../../src/raft';
import { AssertionError } from '../../../src/util/assert';
import { entry, storageWithTerms } from './network';

function pairs(ents: Entry[]): [number, number][] {
  return ents.map((e) => [e.index, e.term]);
}

/** Entries of the given terms starting at index `from`. */
function ents(from: number, terms: number[], data?: Uint8Array): Entry[] {
  return terms.map((t, i) => entry(from + i, t, data));
}

/** A log whose entries 1..n have the given terms, all still unstable. */
function unstableLog(terms: number[]): RaftLog {
  const log = new RaftLog(new MemoryStorage());
  log.append(ents(1, terms));
  return log;
}

function snapshotAt(index: number, term: number): Snapshot {
  return { data: new Uint8Array(0), metadata: { index, term, confState: { voters: [1, 2, 3] } } };
}

describe('RaftLog construction', () => {
  it('starts with everything in storage stable, and committed/applied at the snapshot', () => {
    const s = new MemoryStorage();
    s.applySnapshot(snapshotAt(5, 2));
    s.append(ents(6, [2, 3]));
    const log = new RaftLog(s);
    expect(log.firstIndex()).toBe(6);
    expect(log.lastIndex()).toBe(7);
    expect(log.stabled).toBe(7);
    expect(log.committed).toBe(5);
    expect(log.applied).toBe(5);
    expect(log.unstableEntries()).toEqual([]);
    expect(log.term(5)).toBe(2);
    expect(log.term(4)).toBeUndefined();
    expect(log.term(8)).toBeUndefined();
  });
});

describe('RaftLog.findConflict', () => {
  const log = () => unstableLog([1, 2, 3]);

  it('is 0 when every entry is already in the log', () => {
    expect(log().findConflict([])).toBe(0);
    expect(log().findConflict(ents(1, [1, 2, 3]))).toBe(0);
    expect(log().findConflict(ents(2, [2, 3]))).toBe(0);
    expect(log().findConflict(ents(3, [3]))).toBe(0);
  });

  it('is the first new index when the entries extend the log', () => {
    expect(log().findConflict(ents(1, [1, 2, 3, 4, 4]))).toBe(4);
    expect(log().findConflict(ents(3, [3, 4]))).toBe(4);
    expect(log().findConflict(ents(4, [4, 4]))).toBe(4);
  });

  it('is the first index whose term differs', () => {
    expect(log().findConflict(ents(1, [4, 4]))).toBe(1);
    expect(log().findConflict(ents(2, [1, 4, 4]))).toBe(2);
    expect(log().findConflict(ents(3, [4, 4, 4, 4]))).toBe(3);
  });
});

describe('RaftLog.findConflictByTerm', () => {
  it('finds the last index at or below `index` whose term is <= `term`', () => {
    // index: 1 2 3 4 5 6 7 8
    // term:  1 1 2 2 2 5 5 6
    const log = unstableLog([1, 1, 2, 2, 2, 5, 5, 6]);
    expect(log.findConflictByTerm(8, 6)).toEqual({ index: 8, term: 6 });
    expect(log.findConflictByTerm(8, 5)).toEqual({ index: 7, term: 5 });
    expect(log.findConflictByTerm(8, 4)).toEqual({ index: 5, term: 2 });
    expect(log.findConflictByTerm(7, 3)).toEqual({ index: 5, term: 2 });
    expect(log.findConflictByTerm(4, 2)).toEqual({ index: 4, term: 2 });
    expect(log.findConflictByTerm(5, 1)).toEqual({ index: 2, term: 1 });
    expect(log.findConflictByTerm(8, 0)).toEqual({ index: 0, term: 0 });
  });

  it('stops at the first index whose term is unknown instead of walking into the compacted prefix', () => {
    const s = new MemoryStorage();
    s.applySnapshot(snapshotAt(10, 3));
    s.append(ents(11, [4, 4, 6]));
    const log = new RaftLog(s);
    expect(log.findConflictByTerm(13, 5)).toEqual({ index: 12, term: 4 });
    // The snapshot's own entry still has a known term.
    expect(log.findConflictByTerm(13, 3)).toEqual({ index: 10, term: 3 });
    // Below it nothing is known: the answer is the first unknown index, term 0.
    expect(log.findConflictByTerm(13, 2)).toEqual({ index: 9, term: 0 });
    // So is an index past the end.
    expect(log.findConflictByTerm(20, 9)).toEqual({ index: 20, term: 0 });
  });
});

describe('RaftLog.isUpToDate', () => {
  // Last entry: index 3, term 3.
  const log = unstableLog([1, 2, 3]);

  it('prefers a higher last term whatever the length', () => {
    expect(log.isUpToDate(1, 4)).toBe(true);
    expect(log.isUpToDate(9, 2)).toBe(false);
  });

  it('compares lengths when the last terms are equal', () => {
    expect(log.isUpToDate(2, 3)).toBe(false);
    expect(log.isUpToDate(3, 3)).toBe(true);
    expect(log.isUpToDate(4, 3)).toBe(true);
  });
});

describe('RaftLog.maybeAppend', () => {
  // Log 1:1 2:2 3:3, committed 1.
  function log(): RaftLog {
    const l = unstableLog([1, 2, 3]);
    l.commitTo(1);
    return l;
  }

  it('rejects entries whose predecessor does not match, changing nothing', () => {
    const l = log();
    expect(l.maybeAppend(3, 2, 3, ents(4, [4]))).toBeUndefined();
    expect(l.maybeAppend(4, 3, 3, ents(5, [4]))).toBeUndefined();
    expect(l.lastIndex()).toBe(3);
    expect(l.committed).toBe(1);
  });

  it('accepts a matching heartbeat-like append and commits up to the leader commit', () => {
    const l = log();
    expect(l.maybeAppend(3, 3, 3, [])).toBe(3);
    expect(l.committed).toBe(3);
  });

  it('commits no further than the last entry the message proved we share', () => {
    const l = log();
    // The leader committed 3, but this message only covers up to 2: entry 3
    // here might be a leftover of another term.
    expect(l.maybeAppend(1, 1, 3, ents(2, [2]))).toBe(2);
    expect(l.committed).toBe(2);
    expect(l.lastIndex()).toBe(3);
  });

  it('appends new entries and never lowers commit', () => {
    const l = log();
    l.commitTo(2);
    expect(l.maybeAppend(3, 3, 1, ents(4, [4, 4]))).toBe(5);
    expect(l.lastIndex()).toBe(5);
    expect(l.committed).toBe(2);
  });

  it('truncates the conflicting suffix', () => {
    const l = log();
    expect(l.maybeAppend(1, 1, 2, ents(2, [4, 4]))).toBe(3);
    expect(pairs(l.allEntries())).toEqual([
      [1, 1],
      [2, 4],
      [3, 4],
    ]);
    expect(l.committed).toBe(2);
  });

  it('keeps entries after a matching shorter append', () => {
    const l = log();
    expect(l.maybeAppend(0, 0, 1, ents(1, [1, 2]))).toBe(2);
    expect(l.lastIndex()).toBe(3);
  });

  it('refuses to overwrite a committed entry', () => {
    const l = log();
    expect(() => l.maybeAppend(0, 0, 0, ents(1, [5]))).toThrow(AssertionError);
  });
});

describe('RaftLog.commitTo', () => {
  it('moves forward but never back', () => {
    const l = unstableLog([1, 1, 1]);
    l.commitTo(2);
    expect(l.committed).toBe(2);
    l.commitTo(1);
    expect(l.committed).toBe(2);
    l.commitTo(3);
    expect(l.committed).toBe(3);
  });

  it('refuses to commit beyond the last index', () => {
    const l = unstableLog([1, 1, 1]);
    expect(() => l.commitTo(4)).toThrow(AssertionError);
    expect(l.committed).toBe(0);
  });
});

describe('RaftLog.maybeCommit', () => {
  it('commits only an entry of the given term (Raft §5.4.2)', () => {
    const l = unstableLog([1, 1, 2]);
    expect(l.maybeCommit(2, 2)).toBe(false);
    expect(l.committed).toBe(0);
    expect(l.maybeCommit(3, 2)).toBe(true);
    expect(l.committed).toBe(3);
    expect(l.maybeCommit(3, 2)).toBe(false);
  });
});

describe('RaftLog.appliedTo', () => {
  it('moves applied within [applied, committed]', () => {
    const l = unstableLog([1, 1, 1, 1]);
    l.commitTo(3);
    l.appliedTo(2);
    expect(l.applied).toBe(2);
    l.appliedTo(3);
    expect(l.applied).toBe(3);
    // 0 means "nothing to report".
    l.appliedTo(0);
    expect(l.applied).toBe(3);
  });

  it('refuses to apply past commit or to go back', () => {
    const l = unstableLog([1, 1, 1, 1]);
    l.commitTo(2);
    expect(() => l.appliedTo(3)).toThrow(AssertionError);
    l.appliedTo(2);
    expect(() => l.appliedTo(1)).toThrow(AssertionError);
    expect(l.applied).toBe(2);
  });
});

describe('RaftLog.stableTo and the unstable tail', () => {
  it('advances stabled through the persisted entry', () => {
    const l = unstableLog([1, 1, 2]);
    expect(l.stabled).toBe(0);
    l.stableTo(2, 1);
    expect(l.stabled).toBe(2);
    expect(pairs(l.unstableEntries())).toEqual([[3, 2]]);
    l.stableTo(3, 2);
    expect(l.stabled).toBe(3);
    expect(l.unstableEntries()).toEqual([]);
  });

  it('ignores an acknowledgement whose term no longer matches (the entry was overwritten meanwhile)', () => {
    const l = unstableLog([1, 1]);
    // The application took entries 1..2 (term 1) to persist; before it
    // reports back, a new leader's entry replaces index 2.
    l.append([entry(2, 3)]);
    l.stableTo(2, 1);
    expect(l.stabled).toBe(0);
    expect(pairs(l.unstableEntries())).toEqual([
      [1, 1],
      [2, 3],
    ]);
  });

  it('ignores indexes it does not hold', () => {
    const l = unstableLog([1, 1]);
    l.stableTo(5, 1);
    expect(l.stabled).toBe(0);
  });

  it('lowers stabled when an append overwrites persisted entries', () => {
    const s = storageWithTerms([1, 1, 1]);
    const l = new RaftLog(s);
    l.append(ents(4, [1]));
    expect(l.stabled).toBe(3);
    l.append(ents(2, [2, 2]));
    expect(l.stabled).toBe(1);
    expect(pairs(l.unstableEntries())).toEqual([
      [2, 2],
      [3, 2],
    ]);
    expect(pairs(l.allEntries())).toEqual([
      [1, 1],
      [2, 2],
      [3, 2],
    ]);
  });

  it('truncates inside the unstable tail', () => {
    const l = unstableLog([1, 1, 1, 1]);
    l.stableTo(1, 1);
    l.append(ents(3, [2]));
    expect(l.stabled).toBe(1);
    expect(pairs(l.unstableEntries())).toEqual([
      [2, 1],
      [3, 2],
    ]);
    expect(l.lastIndex()).toBe(3);
  });

  it('refuses an append that would overwrite committed entries', () => {
    const l = unstableLog([1, 1, 1]);
    l.commitTo(2);
    expect(() => l.append(ents(2, [2]))).toThrow(AssertionError);
  });
});

describe('RaftLog.nextEnts and hasNextEnts', () => {
  it('hands out committed entries after applying, once each', () => {
    const l = new RaftLog(storageWithTerms([1, 1, 1, 1, 1]));
    expect(l.hasNextEnts()).toBe(false);
    l.commitTo(3);
    expect(l.hasNextEnts()).toBe(true);
    expect(pairs(l.nextEnts())).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    l.acceptApplying(3);
    expect(l.hasNextEnts()).toBe(false);
    expect(l.nextEnts()).toEqual([]);
    l.commitTo(5);
    expect(pairs(l.nextEnts())).toEqual([
      [4, 1],
      [5, 1],
    ]);
  });

  it('starts after applied', () => {
    const l = new RaftLog(storageWithTerms([1, 1, 1, 1]));
    l.commitTo(4);
    l.appliedTo(2);
    expect(pairs(l.nextEnts())).toEqual([
      [3, 1],
      [4, 1],
    ]);
  });

  it('includes unstable committed entries', () => {
    const l = new RaftLog(storageWithTerms([1, 1]));
    l.append(ents(3, [2, 2]));
    l.commitTo(4);
    expect(pairs(l.nextEnts())).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
      [4, 2],
    ]);
  });

  it('stays within maxApplyingSize but gives at least one entry', () => {
    const data = new Uint8Array(10);
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1, 1, 1], data));
    const size = entrySize(entry(1, 1, data));
    const l = new RaftLog(s, size * 2);
    l.commitTo(4);
    expect(pairs(l.nextEnts())).toEqual([
      [1, 1],
      [2, 1],
    ]);
    const tiny = new RaftLog(s, 1);
    tiny.commitTo(4);
    expect(pairs(tiny.nextEnts())).toEqual([[1, 1]]);
  });

  it('holds back entries while a snapshot is pending', () => {
    const l = new RaftLog(storageWithTerms([1, 1]));
    l.commitTo(2);
    l.restore(snapshotAt(10, 3));
    l.append(ents(11, [3]));
    l.commitTo(11);
    expect(l.hasNextEnts()).toBe(false);
    expect(l.nextEnts()).toEqual([]);
  });
});

describe('RaftLog.slice across storage and the unstable tail', () => {
  const data = new Uint8Array(8);
  const size = entrySize(entry(1, 1, data));
  // Stable: 4..6 (after a snapshot at 3). Unstable: 7..9.
  function log(): RaftLog {
    const s = new MemoryStorage();
    s.applySnapshot(snapshotAt(3, 1));
    s.append(ents(4, [1, 2, 2], data));
    const l = new RaftLog(s);
    l.append(ents(7, [3, 3, 3], data));
    return l;
  }

  it('joins both parts', () => {
    const l = log();
    expect(l.stabled).toBe(6);
    expect(pairs(l.slice(4, 10))).toEqual([
      [4, 1],
      [5, 2],
      [6, 2],
      [7, 3],
      [8, 3],
      [9, 3],
    ]);
    expect(pairs(l.slice(5, 8))).toEqual([
      [5, 2],
      [6, 2],
      [7, 3],
    ]);
    expect(pairs(l.slice(7, 9))).toEqual([
      [7, 3],
      [8, 3],
    ]);
    expect(pairs(l.slice(4, 6))).toEqual([
      [4, 1],
      [5, 2],
    ]);
    expect(l.slice(6, 6)).toEqual([]);
  });

  it('limits the size when the cut falls in the stable part', () => {
    expect(pairs(log().slice(4, 10, size * 2))).toEqual([
      [4, 1],
      [5, 2],
    ]);
  });

  it('limits the size when the cut falls in the unstable part', () => {
    expect(pairs(log().slice(5, 10, size * 4))).toEqual([
      [5, 2],
      [6, 2],
      [7, 3],
      [8, 3],
    ]);
    expect(pairs(log().slice(4, 10, size * 3 + 1))).toEqual([
      [4, 1],
      [5, 2],
      [6, 2],
    ]);
  });

  it('returns at least one entry however small the limit', () => {
    expect(pairs(log().slice(4, 10, 0))).toEqual([[4, 1]]);
    expect(pairs(log().slice(8, 10, 0))).toEqual([[8, 3]]);
  });

  it('throws CompactedError below the first index and refuses to read past the end', () => {
    expect(() => log().slice(3, 6)).toThrow(CompactedError);
    expect(() => log().slice(2, 6)).toThrow(CompactedError);
    expect(() => log().slice(8, 11)).toThrow(AssertionError);
  });

  it('entries(i) is the log from i to the end', () => {
    expect(pairs(log().entries(8))).toEqual([
      [8, 3],
      [9, 3],
    ]);
    expect(log().entries(10)).toEqual([]);
    expect(() => log().entries(2)).toThrow(CompactedError);
  });
});

describe('RaftLog.restore', () => {
  it('replaces the log with a pending snapshot, committed at its index', () => {
    const l = new RaftLog(storageWithTerms([1, 1, 1]));
    l.append(ents(4, [2]));
    l.commitTo(2);
    const snap = snapshotAt(20, 5);
    l.restore(snap);
    expect(l.pendingSnapshot).toBe(snap);
    expect(l.snapshot()).toBe(snap);
    expect(l.committed).toBe(20);
    expect(l.firstIndex()).toBe(21);
    expect(l.lastIndex()).toBe(20);
    expect(l.lastTerm()).toBe(5);
    expect(l.term(20)).toBe(5);
    expect(l.term(3)).toBeUndefined();
    expect(l.unstableEntries()).toEqual([]);
    // Entries only persist after the snapshot.
    expect(l.stabled).toBe(20);
    // The next append continues after the snapshot.
    l.append(ents(21, [5]));
    expect(l.lastIndex()).toBe(21);
    expect(pairs(l.unstableEntries())).toEqual([[21, 5]]);
  });

  it('forgets the pending snapshot once persisted, but only for its index', () => {
    const s = new MemoryStorage();
    const l = new RaftLog(s);
    const snap = snapshotAt(20, 5);
    l.restore(snap);
    l.stableSnapTo(19);
    expect(l.pendingSnapshot).toBe(snap);
    s.applySnapshot(snap);
    l.stableSnapTo(20);
    expect(l.pendingSnapshot).toBeUndefined();
    expect(l.firstIndex()).toBe(21);
    expect(l.term(20)).toBe(5);
  });
});
