import { describe, expect, it } from 'vitest';
import {
  CompactedError,
  type Entry,
  EntryType,
  MemoryStorage,
  SnapshotOutOfDateError,
  type Snapshot,
  UnavailableError,
  entrySize,
} from '../../../src/raft';
import { AssertionError } from '../../../src/util/assert';
import { entry } from './network';

/** Index/term pairs, for comparing logs without the payloads. */
function pairs(ents: Entry[]): [number, number][] {
  return ents.map((e) => [e.index, e.term]);
}

/** A storage whose first entry is 4 (compacted through 3, at term 3) and last is 6, terms 3, 4, 5 at 3..5 and 5 at 6. */
function compactedStorage(): MemoryStorage {
  const s = new MemoryStorage();
  s.append([entry(1, 1), entry(2, 2), entry(3, 3), entry(4, 4), entry(5, 5), entry(6, 5)]);
  s.compact(3);
  return s;
}

function snapshotAt(index: number, term: number, voters: number[] = [1, 2, 3]): Snapshot {
  return { data: new Uint8Array([7]), metadata: { index, term, confState: { voters } } };
}

describe('MemoryStorage: an empty storage', () => {
  it('has a dummy entry at 0: firstIndex 1, lastIndex 0, term(0) = 0', () => {
    const s = new MemoryStorage();
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(0);
    expect(s.term(0)).toBe(0);
    expect(s.initialState()).toEqual({ hardState: { term: 0, vote: 0, commit: 0 }, confState: { voters: [] } });
  });

  it('reports entries past the end as unavailable', () => {
    const s = new MemoryStorage();
    expect(() => s.term(1)).toThrow(UnavailableError);
    expect(() => s.entries(1, 1)).toThrow(UnavailableError);
  });
});

describe('MemoryStorage.term', () => {
  it('answers for [firstIndex - 1, lastIndex], including the compacted boundary entry', () => {
    const s = compactedStorage();
    expect(s.term(3)).toBe(3);
    expect(s.term(4)).toBe(4);
    expect(s.term(6)).toBe(5);
  });

  it('throws CompactedError below the boundary and UnavailableError past the end', () => {
    const s = compactedStorage();
    expect(() => s.term(2)).toThrow(CompactedError);
    expect(() => s.term(7)).toThrow(UnavailableError);
  });
});

describe('MemoryStorage.entries', () => {
  it('returns [lo, hi)', () => {
    const s = compactedStorage();
    expect(pairs(s.entries(4, 6))).toEqual([
      [4, 4],
      [5, 5],
    ]);
    expect(pairs(s.entries(4, 7))).toEqual([
      [4, 4],
      [5, 5],
      [6, 5],
    ]);
    expect(s.entries(5, 5)).toEqual([]);
  });

  it('throws CompactedError at or below the compacted index', () => {
    const s = compactedStorage();
    expect(() => s.entries(3, 5)).toThrow(CompactedError);
    expect(() => s.entries(2, 5)).toThrow(CompactedError);
  });

  it('refuses to read past the end', () => {
    const s = compactedStorage();
    expect(() => s.entries(4, 8)).toThrow(AssertionError);
  });

  it('limits the answer to maxSize bytes but always returns at least one entry', () => {
    const s = new MemoryStorage();
    const data = new Uint8Array(10);
    s.append([entry(1, 1, data), entry(2, 1, data), entry(3, 1, data), entry(4, 1, data)]);
    const one = entrySize(entry(1, 1, data));
    expect(s.entries(1, 5, 0)).toHaveLength(1);
    expect(s.entries(1, 5, one)).toHaveLength(1);
    expect(s.entries(1, 5, one * 2 - 1)).toHaveLength(1);
    expect(s.entries(1, 5, one * 2)).toHaveLength(2);
    expect(s.entries(1, 5, one * 3 + 1)).toHaveLength(3);
    expect(s.entries(1, 5, one * 4)).toHaveLength(4);
    expect(s.entries(1, 5)).toHaveLength(4);
  });
});

describe('MemoryStorage.compact', () => {
  it('drops entries through the index and keeps its term as the boundary', () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1), entry(2, 2), entry(3, 2), entry(4, 3)]);
    s.compact(2);
    expect(s.firstIndex()).toBe(3);
    expect(s.lastIndex()).toBe(4);
    expect(s.term(2)).toBe(2);
    expect(pairs(s.entries(3, 5))).toEqual([
      [3, 2],
      [4, 3],
    ]);
    s.compact(4);
    expect(s.firstIndex()).toBe(5);
    expect(s.lastIndex()).toBe(4);
    expect(s.term(4)).toBe(3);
  });

  it('throws CompactedError when the index is already compacted', () => {
    const s = compactedStorage();
    expect(() => s.compact(3)).toThrow(CompactedError);
    expect(() => s.compact(2)).toThrow(CompactedError);
    expect(s.firstIndex()).toBe(4);
  });

  it('refuses to compact past the last index', () => {
    const s = compactedStorage();
    expect(() => s.compact(7)).toThrow(AssertionError);
  });
});

describe('MemoryStorage.createSnapshot', () => {
  it('records index, term of that entry, conf state and data; it does not compact', () => {
    const s = compactedStorage();
    const data = new Uint8Array([1, 2, 3]);
    const snap = s.createSnapshot(5, { voters: [1, 2] }, data);
    expect(snap.metadata).toEqual({ index: 5, term: 5, confState: { voters: [1, 2] } });
    expect(snap.data).toEqual(data);
    expect(s.snapshot()).toBe(snap);
    expect(s.firstIndex()).toBe(4);
    expect(s.initialState().confState).toEqual({ voters: [1, 2] });
  });

  it('keeps the previous conf state when none is given', () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    s.createSnapshot(1, { voters: [4, 5] }, new Uint8Array(0));
    expect(s.createSnapshot(2, undefined, new Uint8Array(0)).metadata.confState).toEqual({ voters: [4, 5] });
  });

  it('throws SnapshotOutOfDateError for an index not newer than the current snapshot', () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1), entry(2, 1), entry(3, 2)]);
    s.createSnapshot(2, { voters: [1] }, new Uint8Array(0));
    expect(() => s.createSnapshot(2, { voters: [1] }, new Uint8Array(0))).toThrow(SnapshotOutOfDateError);
    expect(() => s.createSnapshot(1, { voters: [1] }, new Uint8Array(0))).toThrow(SnapshotOutOfDateError);
    expect(s.createSnapshot(3, { voters: [1] }, new Uint8Array(0)).metadata.term).toBe(2);
  });

  it('refuses an index past the last entry', () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1)]);
    expect(() => s.createSnapshot(2, { voters: [1] }, new Uint8Array(0))).toThrow(AssertionError);
  });
});

describe('MemoryStorage.applySnapshot', () => {
  it('replaces the whole log with the snapshot', () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    const snap = snapshotAt(10, 4);
    s.applySnapshot(snap);
    expect(s.firstIndex()).toBe(11);
    expect(s.lastIndex()).toBe(10);
    expect(s.term(10)).toBe(4);
    expect(() => s.term(3)).toThrow(CompactedError);
    expect(s.snapshot()).toBe(snap);
    expect(s.initialState().confState).toEqual({ voters: [1, 2, 3] });
    // The log continues right after the snapshot.
    s.append([entry(11, 4)]);
    expect(s.lastIndex()).toBe(11);
  });

  it('throws SnapshotOutOfDateError for a snapshot not newer than the current one', () => {
    const s = new MemoryStorage();
    s.applySnapshot(snapshotAt(5, 2));
    expect(() => s.applySnapshot(snapshotAt(5, 2))).toThrow(SnapshotOutOfDateError);
    expect(() => s.applySnapshot(snapshotAt(4, 2))).toThrow(SnapshotOutOfDateError);
    expect(s.firstIndex()).toBe(6);
  });
});

describe('MemoryStorage.append', () => {
  it('appends after the last entry', () => {
    const s = new MemoryStorage();
    s.append([entry(1, 1), entry(2, 1)]);
    s.append([entry(3, 2)]);
    expect(pairs(s.entries(1, 4))).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
  });

  it('ignores an empty batch', () => {
    const s = compactedStorage();
    s.append([]);
    expect(s.lastIndex()).toBe(6);
  });

  it('truncates the conflicting suffix and writes the new entries', () => {
    const s = compactedStorage(); // 4:4 5:5 6:5
    s.append([entry(5, 6), entry(6, 6), entry(7, 6)]);
    expect(pairs(s.entries(4, 8))).toEqual([
      [4, 4],
      [5, 6],
      [6, 6],
      [7, 6],
    ]);
  });

  it('drops entries beyond a shorter overwriting batch', () => {
    const s = compactedStorage(); // 4:4 5:5 6:5
    s.append([entry(5, 7)]);
    expect(s.lastIndex()).toBe(5);
    expect(s.term(5)).toBe(7);
    expect(() => s.term(6)).toThrow(UnavailableError);
  });

  it('skips the part of a batch that is already compacted', () => {
    const s = compactedStorage(); // boundary 3, entries 4..6
    s.append([entry(2, 2), entry(3, 3), entry(4, 4), entry(5, 8)]);
    expect(s.firstIndex()).toBe(4);
    expect(s.term(3)).toBe(3);
    expect(pairs(s.entries(4, 6))).toEqual([
      [4, 4],
      [5, 8],
    ]);
    expect(s.lastIndex()).toBe(5);
  });

  it('ignores a batch that lies wholly in the compacted prefix', () => {
    const s = compactedStorage();
    s.append([entry(1, 9), entry(2, 9), entry(3, 9)]);
    expect(s.term(3)).toBe(3);
    expect(s.lastIndex()).toBe(6);
  });

  it('refuses a batch that would leave a gap', () => {
    const s = compactedStorage();
    expect(() => s.append([entry(8, 5)])).toThrow(AssertionError);
    expect(s.lastIndex()).toBe(6);
  });

  it('keeps the entry type and payload', () => {
    const s = new MemoryStorage();
    const e: Entry = { index: 1, term: 1, type: EntryType.ConfChange, data: new Uint8Array([9, 9]) };
    s.append([e]);
    expect(s.entries(1, 2)).toEqual([e]);
  });
});

describe('MemoryStorage hard state', () => {
  it('returns a copy of what was set', () => {
    const s = new MemoryStorage();
    const hs = { term: 3, vote: 2, commit: 1 };
    s.setHardState(hs);
    hs.term = 99;
    expect(s.initialState().hardState).toEqual({ term: 3, vote: 2, commit: 1 });
  });
});
