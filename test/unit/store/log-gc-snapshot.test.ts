// The pure pieces of log GC and snapshots: when to compact, what a CompactLog
// may do at apply, the snapshot encoding, generation round trip and chunk
// reassembly.

import { describe, expect, it } from 'vitest';
import { EntryType, type Message, MessageType } from '../../../src/raft';
import { bootstrapPeer } from '../../../src/store/bootstrap';
import { applyCompactLog, compactLogToPropose } from '../../../src/store/log-gc';
import { MemoryPeerStorage } from '../../../src/store/memory-peer-storage';
import { raftInitLogIndex, raftInitLogTerm } from '../../../src/store/peer-storage';
import type { RegionMeta } from '../../../src/store/region';
import {
  SnapshotReceiver,
  applySnapshot,
  chunkSnapshotMessage,
  decodeSnapshotData,
  encodeSnapshotData,
} from '../../../src/store/snapshot';
import { utf8 } from '../../../src/util/bytes';

const region: RegionMeta = {
  id: 3,
  startKey: utf8('b'),
  endKey: utf8('y'),
  epoch: { version: 2, confVer: 4 },
  peers: [
    { id: 1, storeId: 1 },
    { id: 2, storeId: 2 },
  ],
};

/** A bootstrapped storage with entries up to `last` (term 6), applied through `applied`. */
function storageWithLog(last: number, applied: number): MemoryPeerStorage {
  const s = new MemoryPeerStorage();
  bootstrapPeer(s, region.peers[0]!, region);
  s.write((w) => {
    const ents = [];
    for (let i = raftInitLogIndex + 1; i <= last; i++) ents.push({ index: i, term: 6, type: EntryType.Normal, data: new Uint8Array(0) });
    w.appendEntries(ents);
    w.setHardState({ term: 6, vote: 1, commit: last });
    w.setApplyState({ appliedIndex: applied, truncatedState: { index: raftInitLogIndex, term: raftInitLogTerm } });
  });
  return s;
}

describe('log GC', () => {
  it('proposes CompactLog at the applied index only past the limit, and not twice', () => {
    const s = storageWithLog(40, 30);
    expect(compactLogToPropose(s, region, 25, 0)).toBeUndefined(); // 30 - 5 = 25, not over
    const cmd = compactLogToPropose(s, region, 24, 0);
    expect(cmd).toEqual({
      kind: 'Admin',
      header: { regionId: 3, epoch: { version: 2, confVer: 4 } },
      admin: { type: 'CompactLog', compactIndex: 30, compactTerm: 6 },
    });
    // Already proposed at 30: nothing new until another window was applied.
    expect(compactLogToPropose(s, region, 24, 30)).toBeUndefined();
  });

  it('applies within (truncated, applied], deleting the entries and moving the first index', () => {
    const s = storageWithLog(40, 30);
    const c = (compactIndex: number) => ({ type: 'CompactLog' as const, compactIndex, compactTerm: 6 });
    // The CompactLog entry sits at 31: everything before it counts as applied.
    s.write((w) => expect(applyCompactLog(w, s, 31, c(raftInitLogIndex))).toBe('Stale'));
    s.write((w) => expect(applyCompactLog(w, s, 31, c(31))).toBe('Stale'));
    expect(s.firstIndex()).toBe(raftInitLogIndex + 1);
    s.write((w) => expect(applyCompactLog(w, s, 31, c(20))).toBe('Compacted'));
    expect(s.applyState()).toEqual({ appliedIndex: 30, truncatedState: { index: 20, term: 6 } });
    expect(s.firstIndex()).toBe(21);
    expect(s.entries(21, 41)).toHaveLength(20);
    // An older compaction arriving later changes nothing.
    s.write((w) => expect(applyCompactLog(w, s, 33, c(15))).toBe('Stale'));
    expect(s.firstIndex()).toBe(21);
  });

  it('asserts when the command names a term the log does not have', () => {
    const s = storageWithLog(40, 30);
    expect(() => s.write((w) => applyCompactLog(w, s, 31, { type: 'CompactLog', compactIndex: 20, compactTerm: 5 }))).toThrow(
      /term/,
    );
    expect(s.firstIndex()).toBe(raftInitLogIndex + 1);
  });
});

describe('snapshot data', () => {
  it('round-trips region and rows through the binary encoding, binary keys included', () => {
    const rows = {
      raw: [
        { key: new Uint8Array(0), value: new Uint8Array(0) },
        { key: new Uint8Array([0, 255]), value: utf8('v') },
      ],
      default: [{ key: utf8('d'), value: new Uint8Array(300).fill(7) }],
      lock: [],
      write: [{ key: utf8('w'), value: utf8('x') }],
    };
    const back = decodeSnapshotData(encodeSnapshotData({ region, rows }));
    expect(back).toEqual({ region, rows });
    expect(() => decodeSnapshotData(encodeSnapshotData({ region, rows }).subarray(0, 40))).toThrow();
  });

  it('is generated at the applied index and installs on an empty storage, replacing deleted rows', () => {
    const leader = storageWithLog(12, 10);
    leader.write((w) => {
      for (let i = 0; i < 3000; i++) w.put('raw', utf8(`k${String(i).padStart(5, '0')}`), utf8(`${i}`));
      w.put('lock', utf8('k'), utf8('lock'));
      w.put('raw', utf8('z'), utf8('outside'));
    });
    const snap = leader.snapshot();
    expect(snap.metadata).toEqual({ index: 10, term: 6, confState: { voters: [1, 2] } });
    // The same snapshot is reused while it is still good.
    expect(leader.snapshot()).toBe(snap);

    const follower = new MemoryPeerStorage();
    follower.write((w) => {
      w.setPeerId(2);
      applySnapshot(w, follower, snap);
      w.setHardState({ term: 6, vote: 0, commit: 10 });
    });
    expect(follower.region()).toEqual(region);
    expect(follower.scan('raw', { start: new Uint8Array(0), end: new Uint8Array(0), limit: 5000 })).toHaveLength(3000);
    expect(follower.get('lock', utf8('k'))).toEqual(utf8('lock'));
    expect(follower.get('raw', utf8('z'))).toBeUndefined();
    expect(follower.firstIndex()).toBe(11);
  });
});

describe('snapshot chunks', () => {
  const message = (data: Uint8Array, index = 9, term = 2): Message => ({
    type: MessageType.Snapshot,
    to: 2,
    from: 1,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: { data, metadata: { index, term, confState: { voters: [1, 2] } } },
  });

  it('reassemble in any order, ignore duplicates, and restart on a newer snapshot', () => {
    const data = new Uint8Array(1000).map((_, i) => i % 251);
    const parts = chunkSnapshotMessage(message(data), 300);
    expect(parts).toHaveLength(4);
    expect(parts.every((p) => p.message.snapshot!.data.length === 0)).toBe(true);
    const r = new SnapshotReceiver();
    expect(r.receive(parts[3]!.message, parts[3]!.chunk)).toBeUndefined();
    expect(r.receive(parts[3]!.message, parts[3]!.chunk)).toBeUndefined();
    expect(r.receive(parts[0]!.message, parts[0]!.chunk)).toBeUndefined();
    // A chunk of a newer snapshot from the same sender drops the old assembly.
    const newer = chunkSnapshotMessage(message(data, 12), 300);
    expect(r.receive(newer[1]!.message, newer[1]!.chunk)).toBeUndefined();
    expect(r.receive(parts[1]!.message, parts[1]!.chunk)).toBeUndefined();
    let whole: Message | undefined;
    for (const p of newer) whole = r.receive(p.message, p.chunk) ?? whole;
    expect(whole?.snapshot?.metadata.index).toBe(12);
    expect(whole?.snapshot?.data).toEqual(data);
    // One assembly per sender: the index-9 chunks were dropped when index 12's came.
    expect(r.pendingSenders()).toBe(0);
  });

  it('drop malformed chunks', () => {
    const r = new SnapshotReceiver();
    const m = message(new Uint8Array(10));
    expect(r.receive(m, { snapshotIndex: 9, seq: 2, total: 2, data: new Uint8Array(1) })).toBeUndefined();
    expect(r.receive(m, { snapshotIndex: 8, seq: 0, total: 1, data: new Uint8Array(1) })).toBeUndefined();
    expect(r.receive(m, { snapshotIndex: 9, seq: 0, total: 100_000, data: new Uint8Array(1) })).toBeUndefined();
    expect(r.pendingSenders()).toBe(0);
  });
});
