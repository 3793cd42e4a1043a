// One conformance suite for every PeerStorage backend: the simulator's
// MemoryPeerStorage (node) and the Durable Object's SqlitePeerStorage
// (workerd). Both must answer the raft log exactly as MemoryStorage does,
// because Raft was tested against that, and must make a batch all-or-nothing.
//
// The suite does not construct storages itself: a Durable Object's storage can
// only be touched from inside that object (workerd refuses I/O "on behalf of
// a different Durable Object"), so each backend supplies `run`, which calls a
// synchronous test body with a fresh, empty storage wherever it must run.

import { describe, expect, it } from 'vitest';
import {
  CompactedError,
  type Entry,
  EntryType,
  type HardState,
  MemoryStorage,
  SnapshotTemporarilyUnavailableError,
  UnavailableError,
  entrySize,
} from '../../src/raft';
import {
  type ApplyState,
  type ColumnFamily,
  type KvPair,
  type PeerStorage,
  columnFamilies,
  raftInitLogIndex,
  raftInitLogTerm,
  type WriteBatch,
} from '../../src/store/peer-storage';
import type { RegionMeta } from '../../src/store/region';
import { applySnapshot, decodeSnapshotData, encodeSnapshotData } from '../../src/store/snapshot';
import { AssertionError } from '../../src/util/assert';
import { utf8 } from '../../src/util/bytes';

/**
 * Calls `body` with a fresh, empty storage and returns its result. `reopen`
 * builds a second storage object over the same underlying store, as after a
 * restart; it is only called when the suite was told the backend reopens.
 */
export type StorageRun = <T>(body: (storage: PeerStorage, reopen: () => PeerStorage) => T) => Promise<T>;

export interface SuiteOptions {
  /** The backend has an underlying store that outlives the object (SQLite); memory does not. */
  reopen: boolean;
}

function entry(index: number, term: number, data: Uint8Array = new Uint8Array(0)): Entry {
  return { index, term, type: EntryType.Normal, data };
}

/** Index/term pairs, for comparing logs without the payloads. */
function pairs(ents: Entry[]): [number, number][] {
  return ents.map((e) => [e.index, e.term]);
}

function keys(kvs: KvPair[]): number[][] {
  return kvs.map((kv) => [...kv.key]);
}

const b = (...xs: number[]): Uint8Array => new Uint8Array(xs);

/** Appends entries 1..terms.length with the given terms and commits through `commit`. */
function seedLog(s: PeerStorage, terms: number[], commit = 0): void {
  s.write((w) => {
    w.appendEntries(terms.map((t, i) => entry(i + 1, t)));
    w.setHardState({ term: Math.max(...terms), vote: 0, commit });
  });
}

/** Compacts through `index` the way log GC does: apply state first, then the entries. */
function compactTo(s: PeerStorage, index: number, applied = index): void {
  const term = s.term(index);
  s.write((w) => {
    w.setApplyState({ appliedIndex: applied, truncatedState: { index, term } });
    w.deleteEntriesUpTo(index);
  });
}

function region(over: Partial<RegionMeta> = {}): RegionMeta {
  return {
    id: 7,
    startKey: b(0x00, 0x61),
    endKey: new Uint8Array(0),
    epoch: { version: 1, confVer: 1 },
    peers: [
      { id: 1, storeId: 1 },
      { id: 2, storeId: 2 },
      { id: 3, storeId: 3 },
    ],
    ...over,
  };
}

/** Everything observable through the interface, for "nothing changed" comparisons. */
function observe(s: PeerStorage): unknown {
  const first = s.firstIndex();
  const last = s.lastIndex();
  return {
    initial: s.initialState(),
    apply: s.applyState(),
    region: s.region(),
    peerId: s.peerId(),
    first,
    last,
    boundaryTerm: s.term(first - 1),
    log: last >= first ? pairs(s.entries(first, last + 1)) : [],
    payloads: last >= first ? s.entries(first, last + 1).map((e) => [e.type, [...e.data]]) : [],
    data: columnFamilies.map((cf) =>
      s.scan(cf, { start: new Uint8Array(0), end: new Uint8Array(0), limit: 1000 }).map((kv) => [[...kv.key], [...kv.value]]),
    ),
  };
}

/** A throw or a value, so that two storages' answers compare with toEqual. */
function outcome<T>(f: () => T): { value: T } | { error: string } {
  try {
    return { value: f() };
  } catch (e) {
    return { error: e instanceof Error ? e.name : String(e) };
  }
}

/** A deterministic generator: the same seed gives the same history. */
function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

class Boom extends Error {
  override name = 'Boom';
}

export function peerStorageSuite(name: string, run: StorageRun, options: SuiteOptions): void {
  describe(`${name}: an empty storage`, () => {
    it('has no region or peer, zero states, firstIndex 1 and lastIndex 0', () =>
      run((s) => {
        expect(s.peerId()).toBeUndefined();
        expect(s.region()).toBeUndefined();
        expect(s.initialState()).toEqual({ hardState: { term: 0, vote: 0, commit: 0 }, confState: { voters: [] } });
        expect(s.applyState()).toEqual({ appliedIndex: 0, truncatedState: { index: 0, term: 0 } });
        expect(s.firstIndex()).toBe(1);
        expect(s.lastIndex()).toBe(0);
        expect(s.term(0)).toBe(0);
        expect(() => s.term(1)).toThrow(UnavailableError);
        expect(() => s.entries(1, 1)).toThrow(UnavailableError);
        for (const cf of columnFamilies) {
          expect(s.get(cf, b(1))).toBeUndefined();
          expect(s.scan(cf, { start: new Uint8Array(0), end: new Uint8Array(0), limit: 10 })).toEqual([]);
        }
      }));

    it('has no snapshot to offer yet: snapshot() says temporarily unavailable', () =>
      run((s) => {
        expect(() => s.snapshot()).toThrow(SnapshotTemporarilyUnavailableError);
      }));
  });

  describe(`${name}: the raft log`, () => {
    it('returns [lo, hi) with terms, types and payloads as appended', () =>
      run((s) => {
        const cc: Entry = { index: 2, term: 1, type: EntryType.ConfChange, data: b(9, 0, 255) };
        s.write((w) => w.appendEntries([entry(1, 1, b(1)), cc, entry(3, 2)]));
        expect(s.firstIndex()).toBe(1);
        expect(s.lastIndex()).toBe(3);
        expect(s.entries(1, 4)).toEqual([entry(1, 1, b(1)), cc, entry(3, 2, new Uint8Array(0))]);
        expect(pairs(s.entries(2, 3))).toEqual([[2, 1]]);
        expect(s.entries(2, 2)).toEqual([]);
        expect(s.term(0)).toBe(0);
        expect(s.term(2)).toBe(1);
        expect(s.term(3)).toBe(2);
        expect(() => s.term(4)).toThrow(UnavailableError);
      }));

    it('refuses to read past the end, as MemoryStorage does', () =>
      run((s) => {
        seedLog(s, [1, 1, 1]);
        expect(() => s.entries(1, 5)).toThrow(AssertionError);
      }));

    it('replaces a conflicting suffix: entries from the first new index on are deleted', () =>
      run((s) => {
        seedLog(s, [1, 1, 2, 2, 2]);
        s.write((w) => w.appendEntries([entry(3, 3), entry(4, 3)]));
        expect(s.lastIndex()).toBe(4);
        expect(pairs(s.entries(1, 5))).toEqual([
          [1, 1],
          [2, 1],
          [3, 3],
          [4, 3],
        ]);
        expect(() => s.term(5)).toThrow(UnavailableError);
        // A longer batch from the middle extends the log past the old end.
        s.write((w) => w.appendEntries([entry(4, 4), entry(5, 4), entry(6, 4), entry(7, 5)]));
        expect(pairs(s.entries(3, 8))).toEqual([
          [3, 3],
          [4, 4],
          [5, 4],
          [6, 4],
          [7, 5],
        ]);
        expect(s.term(7)).toBe(5);
      }));

    it('applies two appends in one batch in order', () =>
      run((s) => {
        s.write((w) => {
          w.appendEntries([entry(1, 1), entry(2, 1), entry(3, 1)]);
          w.appendEntries([entry(2, 2)]);
        });
        expect(pairs(s.entries(1, 3))).toEqual([
          [1, 1],
          [2, 2],
        ]);
        expect(s.lastIndex()).toBe(2);
      }));

    it('ignores an empty batch and refuses one that would leave a hole, changing nothing', () =>
      run((s) => {
        seedLog(s, [1, 1]);
        s.write((w) => w.appendEntries([]));
        expect(s.lastIndex()).toBe(2);
        const before = observe(s);
        expect(() => s.write((w) => w.appendEntries([entry(4, 1)]))).toThrow(AssertionError);
        expect(() => s.write((w) => w.appendEntries([entry(3, 1), entry(5, 1)]))).toThrow(AssertionError);
        expect(() => s.write((w) => w.appendEntries([entry(3, 1), entry(4, 0)]))).toThrow(AssertionError);
        expect(observe(s)).toEqual(before);
      }));

    it('limits entries to maxSize bytes but always returns at least one', () =>
      run((s) => {
        const data = new Uint8Array(10);
        s.write((w) => w.appendEntries([1, 2, 3, 4].map((i) => entry(i, 1, data))));
        const one = entrySize(entry(1, 1, data));
        expect(s.entries(1, 5, 0)).toHaveLength(1);
        expect(s.entries(1, 5, one)).toHaveLength(1);
        expect(s.entries(1, 5, one * 2 - 1)).toHaveLength(1);
        expect(s.entries(1, 5, one * 2)).toHaveLength(2);
        expect(s.entries(1, 5, one * 3 + 1)).toHaveLength(3);
        expect(s.entries(1, 5, one * 4)).toHaveLength(4);
        expect(s.entries(1, 5)).toHaveLength(4);
        expect(pairs(s.entries(2, 5, one * 2))).toEqual([
          [2, 1],
          [3, 1],
        ]);
      }));

    it('reads long ranges whole (more entries than one read page)', () =>
      run((s) => {
        const n = 1_000;
        s.write((w) => w.appendEntries(Array.from({ length: n }, (_, i) => entry(i + 1, 1 + Math.floor(i / 100), b(i & 255)))));
        const all = s.entries(1, n + 1);
        expect(all).toHaveLength(n);
        expect(all.every((e, i) => e.index === i + 1 && e.data[0] === (i & 255))).toBe(true);
        expect(s.term(n)).toBe(10);
        expect(s.term(500)).toBe(5);
      }));
  });

  describe(`${name}: log compaction`, () => {
    it('after deleteEntriesUpTo and a truncated state: CompactedError below firstIndex, the truncated term at the boundary', () =>
      run((s) => {
        seedLog(s, [1, 1, 2, 3, 3, 3, 4, 4, 4, 4], 10);
        compactTo(s, 6, 8);
        expect(s.firstIndex()).toBe(7);
        expect(s.lastIndex()).toBe(10);
        expect(s.applyState()).toEqual({ appliedIndex: 8, truncatedState: { index: 6, term: 3 } });
        expect(s.term(6)).toBe(3);
        expect(s.term(7)).toBe(4);
        expect(() => s.term(5)).toThrow(CompactedError);
        expect(() => s.term(0)).toThrow(CompactedError);
        expect(() => s.entries(6, 8)).toThrow(CompactedError);
        expect(() => s.entries(1, 8)).toThrow(CompactedError);
        expect(pairs(s.entries(7, 11))).toEqual([
          [7, 4],
          [8, 4],
          [9, 4],
          [10, 4],
        ]);
      }));

    it('compacts the whole log: firstIndex is lastIndex + 1 and the log continues after the boundary', () =>
      run((s) => {
        seedLog(s, [1, 2, 2], 3);
        compactTo(s, 3);
        expect(s.firstIndex()).toBe(4);
        expect(s.lastIndex()).toBe(3);
        expect(s.term(3)).toBe(2);
        expect(() => s.term(2)).toThrow(CompactedError);
        expect(() => s.term(4)).toThrow(UnavailableError);
        expect(() => s.entries(4, 4)).toThrow(UnavailableError);
        // A batch reaching back into the compacted prefix is appended from firstIndex on.
        s.write((w) => w.appendEntries([entry(2, 2), entry(3, 2), entry(4, 3), entry(5, 3)]));
        expect(s.firstIndex()).toBe(4);
        expect(s.lastIndex()).toBe(5);
        expect(s.term(3)).toBe(2);
        expect(pairs(s.entries(4, 6))).toEqual([
          [4, 3],
          [5, 3],
        ]);
        // One wholly inside the compacted prefix changes nothing.
        s.write((w) => w.appendEntries([entry(1, 9), entry(2, 9)]));
        expect(s.lastIndex()).toBe(5);
      }));

    it('hides entries the truncated state covers even before log GC deletes them', () =>
      run((s) => {
        seedLog(s, [1, 1, 1, 2], 4);
        s.write((w) => w.setApplyState({ appliedIndex: 3, truncatedState: { index: 2, term: 1 } }));
        expect(s.firstIndex()).toBe(3);
        expect(() => s.entries(2, 4)).toThrow(CompactedError);
        expect(() => s.term(1)).toThrow(CompactedError);
        expect(pairs(s.entries(3, 5))).toEqual([
          [3, 1],
          [4, 2],
        ]);
        s.write((w) => w.deleteEntriesUpTo(2));
        expect(pairs(s.entries(3, 5))).toEqual([
          [3, 1],
          [4, 2],
        ]);
      }));

    it('starts where a bootstrapped region does: after the synthetic snapshot at raftInitLogIndex', () =>
      run((s) => {
        s.write((w) => {
          w.setPeerId(1);
          w.setRegion(region());
          w.setHardState({ term: raftInitLogTerm, vote: 0, commit: raftInitLogIndex });
          w.setApplyState({
            appliedIndex: raftInitLogIndex,
            truncatedState: { index: raftInitLogIndex, term: raftInitLogTerm },
          });
        });
        expect(s.firstIndex()).toBe(raftInitLogIndex + 1);
        expect(s.lastIndex()).toBe(raftInitLogIndex);
        expect(s.term(raftInitLogIndex)).toBe(raftInitLogTerm);
        expect(() => s.entries(raftInitLogIndex + 1, raftInitLogIndex + 1)).toThrow(UnavailableError);
        s.write((w) => w.appendEntries([entry(raftInitLogIndex + 1, raftInitLogTerm + 1)]));
        expect(pairs(s.entries(raftInitLogIndex + 1, raftInitLogIndex + 2))).toEqual([
          [raftInitLogIndex + 1, raftInitLogTerm + 1],
        ]);
      }));

    it('answers every entries/term/firstIndex/lastIndex query as MemoryStorage does (random histories)', () =>
      run((s) => {
        for (const seed of [1, 2, 3]) {
          if (seed > 1) s.write((w) => w.destroy());
          const rand = seededRandom(seed);
          const pick = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
          const mem = new MemoryStorage();
          let commit = 0;
          let term = 1;
          let applied = 0;
          for (let step = 0; step < 60; step++) {
            const r = rand();
            const first = mem.firstIndex();
            const last = mem.lastIndex();
            if (r < 0.55) {
              // Append after the commit index, overwriting any uncommitted
              // suffix; sometimes led by entries that are compacted already,
              // as a lagging leader sends them.
              const start = pick(commit + 1, last + 1);
              if (rand() < 0.4) term++;
              const ents = Array.from({ length: pick(1, 4) }, (_, i) => entry(start + i, term, b(step, i)));
              if (start === first && first > 2 && rand() < 0.4) {
                const boundary = mem.term(first - 1);
                ents.unshift(entry(first - 2, boundary), entry(first - 1, boundary));
              }
              mem.append(ents);
              s.write((w) => w.appendEntries(ents));
            } else if (r < 0.8) {
              commit = pick(commit, last);
              s.write((w) => w.setHardState({ term, vote: 0, commit }));
            } else if (commit >= first) {
              const at = pick(first, commit);
              applied = Math.max(applied, at, pick(at, commit));
              mem.compact(at);
              const t = s.term(at);
              // Log GC sometimes lags the truncated state.
              const gc = rand() < 0.7;
              s.write((w) => {
                w.setApplyState({ appliedIndex: applied, truncatedState: { index: at, term: t } });
                if (gc) w.deleteEntriesUpTo(at);
              });
            }
            expect(s.firstIndex()).toBe(mem.firstIndex());
            expect(s.lastIndex()).toBe(mem.lastIndex());
            const lo = Math.max(0, mem.firstIndex() - 3);
            const hi = mem.lastIndex() + 2;
            for (let i = lo; i <= hi; i++) {
              expect(outcome(() => s.term(i))).toEqual(outcome(() => mem.term(i)));
              // A few ranges per start (all of them would be quadratic in SQL queries).
              for (const j of new Set([i, i + 1, i + 2, pick(i, hi), hi])) {
                if (j > hi) continue;
                const size = pick(0, 80);
                expect(outcome(() => pairs(s.entries(i, j, size)))).toEqual(outcome(() => pairs(mem.entries(i, j, size))));
              }
            }
          }
        }
      }));
  });

  describe(`${name}: raft state and region`, () => {
    it('round-trips hard state, apply state, peer id and a region with binary keys', () =>
      run((s) => {
        const r = region({ startKey: b(0x00, 0xff, 0x00), endKey: new Uint8Array(0) });
        seedLog(s, [1, 2, 3, 3], 4);
        s.write((w) => {
          w.setPeerId(2);
          w.setRegion(r);
          w.setHardState({ term: 3, vote: 2, commit: 4 });
          w.setApplyState({ appliedIndex: 3, truncatedState: { index: 0, term: 0 } });
        });
        expect(s.peerId()).toBe(2);
        expect(s.region()).toEqual(r);
        expect(s.initialState()).toEqual({ hardState: { term: 3, vote: 2, commit: 4 }, confState: { voters: [1, 2, 3] } });
        expect(s.applyState()).toEqual({ appliedIndex: 3, truncatedState: { index: 0, term: 0 } });
        const bounded = region({ startKey: new Uint8Array(0), endKey: b(0xff, 0xff, 0x00), epoch: { version: 2, confVer: 3 } });
        bounded.peers = [
          { id: 2, storeId: 2 },
          { id: 9, storeId: 4 },
        ];
        s.write((w) => w.setRegion(bounded));
        expect(s.region()).toEqual(bounded);
        expect(s.initialState().confState).toEqual({ voters: [2, 9] });
      }));

    it('hands out copies: mutating what was passed in or returned changes nothing stored', () =>
      run((s) => {
        const r = region();
        const hs: HardState = { term: 1, vote: 1, commit: 0 };
        const as: ApplyState = { appliedIndex: 0, truncatedState: { index: 0, term: 0 } };
        s.write((w) => {
          w.setRegion(r);
          w.setHardState(hs);
          w.setApplyState(as);
        });
        r.startKey[0] = 0x7f;
        r.peers.pop();
        hs.term = 99;
        as.truncatedState.index = 99;
        const got = s.region()!;
        got.peers.push({ id: 5, storeId: 5 });
        got.endKey = b(1);
        s.initialState().hardState.vote = 42;
        s.applyState().truncatedState.term = 42;
        expect(s.region()).toEqual(region());
        expect(s.initialState().hardState).toEqual({ term: 1, vote: 1, commit: 0 });
        expect(s.applyState()).toEqual({ appliedIndex: 0, truncatedState: { index: 0, term: 0 } });
      }));

    it('refuses records that break an invariant, changing nothing', () =>
      run((s) => {
        seedLog(s, [1, 2, 2], 2);
        s.write((w) => {
          w.setPeerId(1);
          w.setRegion(region({ epoch: { version: 2, confVer: 2 } }));
          w.setHardState({ term: 2, vote: 1, commit: 2 });
        });
        const before = observe(s);
        const refused: ((w: WriteBatch) => void)[] = [
          (w) => w.setHardState({ term: 1, vote: 1, commit: 2 }), // term back
          (w) => w.setHardState({ term: 2, vote: 3, commit: 2 }), // a second vote in term 2
          (w) => w.setHardState({ term: 2, vote: 1, commit: 1 }), // commit back
          (w) => w.setHardState({ term: 2, vote: 1, commit: 9 }), // commit past the last index
          (w) => w.setApplyState({ appliedIndex: 3, truncatedState: { index: 0, term: 0 } }), // applied past commit
          (w) => w.setApplyState({ appliedIndex: 1, truncatedState: { index: 2, term: 2 } }), // truncated past applied
          (w) => w.setPeerId(2),
          (w) => w.setRegion(region({ id: 8, epoch: { version: 2, confVer: 2 } })),
          (w) => w.setRegion(region({ epoch: { version: 1, confVer: 2 } })), // epoch back
          (w) => w.setRegion(region({ startKey: b(2), endKey: b(1), epoch: { version: 3, confVer: 3 } })),
          (w) => w.deleteEntriesUpTo(2), // a hole between the truncated index and the log
        ];
        for (const f of refused) {
          expect(() => s.write(f)).toThrow(AssertionError);
          expect(observe(s)).toEqual(before);
        }
        // A newer term may carry a new vote.
        s.write((w) => w.setHardState({ term: 3, vote: 3, commit: 2 }));
        expect(s.initialState().hardState).toEqual({ term: 3, vote: 3, commit: 2 });
      }));
  });

  describe(`${name}: column families`, () => {
    it('puts, gets, overwrites and deletes, each family on its own', () =>
      run((s) => {
        s.write((w) => {
          columnFamilies.forEach((cf, i) => w.put(cf, utf8('k'), b(i)));
          w.put('raw', utf8('only-raw'), b(42));
        });
        columnFamilies.forEach((cf, i) => expect(s.get(cf, utf8('k'))).toEqual(b(i)));
        expect(s.get('raw', utf8('only-raw'))).toEqual(b(42));
        for (const cf of ['default', 'lock', 'write'] as ColumnFamily[]) expect(s.get(cf, utf8('only-raw'))).toBeUndefined();
        s.write((w) => {
          w.put('lock', utf8('k'), b(9, 9));
          w.delete('write', utf8('k'));
          w.delete('write', utf8('never-there'));
        });
        expect(s.get('lock', utf8('k'))).toEqual(b(9, 9));
        expect(s.get('write', utf8('k'))).toBeUndefined();
        expect(s.get('raw', utf8('k'))).toEqual(b(0));
        expect(s.get('default', utf8('k'))).toEqual(b(1));
      }));

    it('stores empty keys and empty values, and the bytes of a subarray view only', () =>
      run((s) => {
        const backing = b(0xaa, 1, 2, 3, 0xbb);
        s.write((w) => {
          w.put('raw', new Uint8Array(0), new Uint8Array(0));
          w.put('raw', backing.subarray(1, 3), backing.subarray(2, 4));
        });
        expect(s.get('raw', new Uint8Array(0))).toEqual(new Uint8Array(0));
        expect(s.get('raw', b(1, 2))).toEqual(b(2, 3));
        expect(keys(s.scan('raw', { start: new Uint8Array(0), end: new Uint8Array(0), limit: 10 }))).toEqual([[], [1, 2]]);
      }));

    it('copies keys and values: the caller may reuse its buffers', () =>
      run((s) => {
        const key = b(1);
        const value = b(2);
        s.write((w) => w.put('default', key, value));
        key[0] = 7;
        value[0] = 7;
        const got = s.get('default', b(1))!;
        expect(got).toEqual(b(2));
        got[0] = 8;
        s.scan('default', { start: new Uint8Array(0), end: new Uint8Array(0), limit: 1 })[0]!.value[0] = 8;
        expect(s.get('default', b(1))).toEqual(b(2));
        expect(s.get('default', b(7))).toBeUndefined();
      }));

    it('orders keys by memcmp: [] < [00] < [00 00] < [00 01] < [01] < [7f] < [80] < [ff] < [ff 00]', () =>
      run((s) => {
        const ordered = [[], [0x00], [0x00, 0x00], [0x00, 0x01], [0x01], [0x7f], [0x80], [0xff], [0xff, 0x00]];
        s.write((w) => {
          // Insert out of order so that only the storage can sort them.
          for (const k of [...ordered].reverse()) w.put('write', b(...k), b(k.length));
          for (const k of ordered.filter((_, i) => i % 2 === 0)) w.put('write', b(...k), b(k.length));
        });
        const all = { start: new Uint8Array(0), end: new Uint8Array(0), limit: 100 };
        expect(keys(s.scan('write', all))).toEqual(ordered);
        expect(keys(s.scan('write', { ...all, reverse: true }))).toEqual([...ordered].reverse());
      }));

    it('scans [start, end) forward and backward with a limit; an empty end is unbounded', () =>
      run((s) => {
        s.write((w) => {
          for (let i = 0; i < 10; i++) w.put('default', b(i * 2), b(i));
          w.put('lock', b(5), b(0)); // another family: never in a default scan
        });
        const scan = (start: number[], end: number[], limit: number, reverse = false): number[][] =>
          keys(s.scan('default', { start: b(...start), end: b(...end), limit, reverse }));
        expect(scan([4], [10], 100)).toEqual([[4], [6], [8]]);
        expect(scan([3], [9], 100)).toEqual([[4], [6], [8]]);
        expect(scan([4], [10], 2)).toEqual([[4], [6]]);
        expect(scan([4], [10], 0)).toEqual([]);
        expect(scan([15], [], 100)).toEqual([[16], [18]]);
        expect(scan([], [], 3)).toEqual([[0], [2], [4]]);
        expect(scan([4], [10], 100, true)).toEqual([[8], [6], [4]]);
        expect(scan([3], [9], 2, true)).toEqual([[8], [6]]);
        expect(scan([15], [], 100, true)).toEqual([[18], [16]]);
        expect(scan([], [], 2, true)).toEqual([[18], [16]]);
        expect(scan([], [1], 100, true)).toEqual([[0]]);
        expect(scan([9], [4], 100)).toEqual([]);
        expect(scan([9], [4], 100, true)).toEqual([]);
        expect(scan([4, 0], [4, 1], 100)).toEqual([]);
        // Prefix bounds: [4] itself is below [4, 0].
        expect(scan([4, 0], [], 1)).toEqual([[6]]);
        const pairsOut = s.scan('default', { start: b(6), end: b(7), limit: 10 });
        expect(pairsOut).toEqual([{ key: b(6), value: b(3) }]);
      }));
  });

  describe(`${name}: write batches`, () => {
    it('see their own earlier writes: data, log, hard state, apply state, region, peer id', () =>
      run((s) => {
        seedLog(s, [1, 1], 0);
        s.write((w) => {
          w.put('raw', b(1), b(10));
          expect(s.get('raw', b(1))).toEqual(b(10));
          expect(keys(s.scan('raw', { start: new Uint8Array(0), end: new Uint8Array(0), limit: 10 }))).toEqual([[1]]);
          w.put('raw', b(1), b(11));
          expect(s.get('raw', b(1))).toEqual(b(11));
          w.delete('raw', b(1));
          expect(s.get('raw', b(1))).toBeUndefined();
          w.appendEntries([entry(3, 2), entry(4, 2)]);
          expect(s.lastIndex()).toBe(4);
          expect(s.term(4)).toBe(2);
          expect(pairs(s.entries(2, 5))).toEqual([
            [2, 1],
            [3, 2],
            [4, 2],
          ]);
          w.setHardState({ term: 2, vote: 1, commit: 4 });
          expect(s.initialState().hardState).toEqual({ term: 2, vote: 1, commit: 4 });
          w.setApplyState({ appliedIndex: 3, truncatedState: { index: 2, term: 1 } });
          expect(s.applyState().appliedIndex).toBe(3);
          expect(s.firstIndex()).toBe(3);
          expect(s.term(2)).toBe(1);
          w.deleteEntriesUpTo(2);
          expect(pairs(s.entries(3, 5))).toEqual([
            [3, 2],
            [4, 2],
          ]);
          w.setPeerId(4);
          expect(s.peerId()).toBe(4);
          w.setRegion(region());
          expect(s.region()).toEqual(region());
          expect(s.initialState().confState.voters).toEqual([1, 2, 3]);
        });
        expect(s.firstIndex()).toBe(3);
        expect(s.lastIndex()).toBe(4);
        expect(s.get('raw', b(1))).toBeUndefined();
      }));

    it('are all or nothing: a throw leaves log, states, region, peer id and data as they were', () =>
      run((s, reopen) => {
        seedLog(s, [1, 1, 2, 2], 3);
        s.write((w) => {
          w.setPeerId(1);
          w.setRegion(region());
          w.setApplyState({ appliedIndex: 2, truncatedState: { index: 1, term: 1 } });
          w.deleteEntriesUpTo(1);
          w.put('raw', b(1), b(1));
          w.put('lock', b(2), b(2));
        });
        const before = observe(s);
        const boom = new Boom('fail in the middle of a batch');
        const thrown = (() => {
          try {
            s.write((w) => {
              w.appendEntries([entry(4, 3), entry(5, 3), entry(6, 3)]);
              w.setHardState({ term: 3, vote: 2, commit: 6 });
              w.setApplyState({ appliedIndex: 5, truncatedState: { index: 4, term: 3 } });
              w.deleteEntriesUpTo(4);
              w.setRegion(region({ epoch: { version: 2, confVer: 1 } }));
              w.put('raw', b(1), b(99));
              w.put('default', b(3), b(3));
              w.delete('lock', b(2));
              expect(s.lastIndex()).toBe(6);
              throw boom;
            });
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        // The very error the batch threw comes out, so callers can branch on it.
        expect(thrown).toBe(boom);
        expect(observe(s)).toEqual(before);
        expect(s.term(4)).toBe(2);
        expect(() => s.term(5)).toThrow(UnavailableError);
        if (options.reopen) expect(observe(reopen())).toEqual(before);
        // A destroy is undone just the same.
        expect(() =>
          s.write((w) => {
            w.destroy();
            expect(s.region()).toBeUndefined();
            throw new Boom('after destroy');
          }),
        ).toThrow(Boom);
        expect(observe(s)).toEqual(before);
        if (options.reopen) expect(observe(reopen())).toEqual(before);
        // And the storage still works afterwards.
        s.write((w) => w.appendEntries([entry(5, 3)]));
        expect(s.lastIndex()).toBe(5);
      }));

    it('do not nest, and a batch cannot be used once its write returned', () =>
      run((s) => {
        const before = observe(s);
        expect(() =>
          s.write((w) => {
            w.put('raw', b(1), b(1));
            s.write((inner) => inner.put('raw', b(2), b(2)));
          }),
        ).toThrow(AssertionError);
        expect(observe(s)).toEqual(before);
        let leaked: WriteBatch | undefined;
        s.write((w) => {
          leaked = w;
        });
        expect(() => leaked!.put('raw', b(3), b(3))).toThrow(AssertionError);
        expect(s.get('raw', b(3))).toBeUndefined();
      }));

    it('destroy() empties everything, and the storage can hold a new peer afterwards', () =>
      run((s, reopen) => {
        seedLog(s, [1, 1, 2], 3);
        s.write((w) => {
          w.setPeerId(3);
          w.setRegion(region());
          w.setApplyState({ appliedIndex: 3, truncatedState: { index: 2, term: 1 } });
          for (const cf of columnFamilies) for (let i = 0; i < 5; i++) w.put(cf, b(i), b(i));
        });
        s.write((w) => w.destroy());
        const empty = {
          initial: { hardState: { term: 0, vote: 0, commit: 0 }, confState: { voters: [] } },
          apply: { appliedIndex: 0, truncatedState: { index: 0, term: 0 } },
          region: undefined,
          peerId: undefined,
          first: 1,
          last: 0,
          boundaryTerm: 0,
          log: [],
          payloads: [],
          data: columnFamilies.map(() => []),
        };
        expect(observe(s)).toEqual(empty);
        if (options.reopen) expect(observe(reopen())).toEqual(empty);
        s.write((w) => {
          w.setPeerId(8);
          w.setRegion(region({ id: 12 }));
        });
        expect(s.peerId()).toBe(8);
        expect(s.region()?.id).toBe(12);
      }));
  });

  describe(`${name}: snapshots`, () => {
    it('deleteRange deletes [start, end) of one family; an empty end is unbounded; a throw undoes it', () =>
      run((s) => {
        s.write((w) => {
          for (const cf of columnFamilies) for (const k of [1, 2, 3, 4]) w.put(cf, b(k), b(k));
        });
        s.write((w) => w.deleteRange('lock', b(2), b(4)));
        expect(keys(s.scan('lock', { start: new Uint8Array(0), end: new Uint8Array(0), limit: 10 }))).toEqual([[1], [4]]);
        expect(keys(s.scan('raw', { start: new Uint8Array(0), end: new Uint8Array(0), limit: 10 }))).toHaveLength(4);
        s.write((w) => w.deleteRange('raw', b(3), new Uint8Array(0)));
        expect(keys(s.scan('raw', { start: new Uint8Array(0), end: new Uint8Array(0), limit: 10 }))).toEqual([[1], [2]]);
        const before = observe(s);
        expect(() =>
          s.write((w) => {
            w.deleteRange('default', new Uint8Array(0), new Uint8Array(0));
            throw new Boom('rolled back');
          }),
        ).toThrow(Boom);
        expect(observe(s)).toEqual(before);
      }));

    it('snapshot() holds the region and its rows at the applied index, and only rows in its range', () =>
      run((s) => {
        const r = region({ startKey: b(0x10), endKey: b(0x20) });
        s.write((w) => {
          w.setPeerId(1);
          w.setRegion(r);
          w.appendEntries([entry(1, 1), entry(2, 2), entry(3, 2)]);
          w.setHardState({ term: 2, vote: 1, commit: 3 });
          w.setApplyState({ appliedIndex: 2, truncatedState: { index: 0, term: 0 } });
          w.put('raw', b(0x10), b(1));
          w.put('write', b(0x1f, 0xff), b(2));
          w.put('raw', b(0x20), b(3)); // outside the range: another region's
          w.put('lock', b(0x0f), b(4)); // outside too
        });
        const snap = s.snapshot();
        expect(snap.metadata).toEqual({ index: 2, term: 2, confState: { voters: [1, 2, 3] } });
        const data = decodeSnapshotData(snap.data);
        expect(data.region).toEqual(r);
        expect(keys(data.rows.raw)).toEqual([[0x10]]);
        expect(keys(data.rows.write)).toEqual([[0x1f, 0xff]]);
        expect(data.rows.lock).toEqual([]);
        expect(data.rows.default).toEqual([]);
      }));

    it('applySnapshot replaces the data, the region and the log, in one batch, on a used or an empty storage', () =>
      run((s) => {
        const r = region({ startKey: b(0x10), endKey: new Uint8Array(0) });
        const newer = { ...r, epoch: { version: 2, confVer: 3 } };
        const data = encodeSnapshotData({
          region: newer,
          rows: { raw: [{ key: b(0x11), value: b(7) }], default: [], lock: [{ key: b(0x12), value: b(8) }], write: [] },
        });
        const snapshot = { data, metadata: { index: 20, term: 4, confState: { voters: [3, 2, 1] } } };
        s.write((w) => {
          w.setPeerId(2);
          w.setRegion(r);
          w.appendEntries([entry(1, 1), entry(2, 2), entry(3, 2), entry(4, 3)]);
          w.setHardState({ term: 3, vote: 1, commit: 3 });
          w.setApplyState({ appliedIndex: 3, truncatedState: { index: 0, term: 0 } });
          w.put('raw', b(0x10), b(1)); // deleted on the leader since: gone after the snapshot
          w.put('raw', b(0x11), b(1)); // overwritten
          w.put('default', b(0x30), b(1));
        });
        s.write((w) => {
          applySnapshot(w, s, snapshot);
          w.setHardState({ term: 4, vote: 0, commit: 20 });
        });
        expect(s.region()).toEqual(newer);
        expect(s.applyState()).toEqual({ appliedIndex: 20, truncatedState: { index: 20, term: 4 } });
        expect(s.firstIndex()).toBe(21);
        expect(s.lastIndex()).toBe(20);
        expect(s.term(20)).toBe(4);
        expect(() => s.term(19)).toThrow(CompactedError);
        const all = (cf: ColumnFamily) => s.scan(cf, { start: new Uint8Array(0), end: new Uint8Array(0), limit: 10 });
        expect(all('raw')).toEqual([{ key: b(0x11), value: b(7) }]);
        expect(all('lock')).toEqual([{ key: b(0x12), value: b(8) }]);
        expect(all('default')).toEqual([]);
        // The log continues right after the snapshot.
        s.write((w) => w.appendEntries([entry(21, 4)]));
        expect(s.lastIndex()).toBe(21);
        // The same snapshot on an empty storage (a new peer) gives the same state.
        const t = s;
        t.write((w) => w.destroy());
        t.write((w) => {
          w.setPeerId(2);
          applySnapshot(w, t, snapshot);
          w.setHardState({ term: 4, vote: 0, commit: 20 });
        });
        expect(t.region()).toEqual(newer);
        expect(all('raw')).toEqual([{ key: b(0x11), value: b(7) }]);
        expect(t.firstIndex()).toBe(21);
      }));

    it('applySnapshot refuses a snapshot of an older epoch or of another region, changing nothing', () =>
      run((s) => {
        const r = region({ epoch: { version: 3, confVer: 3 } });
        s.write((w) => {
          w.setPeerId(1);
          w.setRegion(r);
          w.setHardState({ term: raftInitLogTerm, vote: 0, commit: raftInitLogIndex });
          w.setApplyState({ appliedIndex: raftInitLogIndex, truncatedState: { index: raftInitLogIndex, term: raftInitLogTerm } });
        });
        const before = observe(s);
        const rows = { raw: [], default: [], lock: [], write: [] };
        for (const other of [{ ...r, epoch: { version: 2, confVer: 3 } }, { ...r, epoch: { version: 3, confVer: 2 } }, { ...r, id: 8 }]) {
          const snapshot = {
            data: encodeSnapshotData({ region: other, rows }),
            metadata: { index: 30, term: 6, confState: { voters: [1, 2, 3] } },
          };
          expect(() =>
            s.write((w) => {
              applySnapshot(w, s, snapshot);
              w.setHardState({ term: 6, vote: 0, commit: 30 });
            }),
          ).toThrow(AssertionError);
          expect(observe(s)).toEqual(before);
        }
      }));
  });

  if (options.reopen) {
    describe(`${name}: durability`, () => {
      it('a new storage object over the same store reads back everything written', () =>
        run((s, reopen) => {
          const r = region({ startKey: b(0x00), endKey: b(0xff, 0x00), epoch: { version: 3, confVer: 2 } });
          const cc: Entry = { index: 5, term: 3, type: EntryType.ConfChange, data: b(1, 2, 3) };
          seedLog(s, [1, 1, 2, 3], 4);
          s.write((w) => {
            w.appendEntries([cc, entry(6, 3, new Uint8Array(0))]);
            w.setPeerId(2);
            w.setRegion(r);
            w.setHardState({ term: 3, vote: 2, commit: 5 });
            w.setApplyState({ appliedIndex: 4, truncatedState: { index: 2, term: 1 } });
            w.deleteEntriesUpTo(2);
            for (const cf of columnFamilies) {
              w.put(cf, b(0xff), utf8(cf));
              w.put(cf, new Uint8Array(0), new Uint8Array(0));
            }
          });
          const before = observe(s);
          const again = reopen();
          expect(observe(again)).toEqual(before);
          expect(again.region()).toEqual(r);
          expect(again.entries(5, 7)).toEqual([cc, entry(6, 3)]);
          expect(again.term(6)).toBe(3);
          expect(again.get('write', b(0xff))).toEqual(utf8('write'));
          // The reopened object carries on from where the first left off.
          again.write((w) => w.appendEntries([entry(7, 4)]));
          expect(reopen().lastIndex()).toBe(7);
          expect(reopen().term(7)).toBe(4);
        }));
    });
  }
}
