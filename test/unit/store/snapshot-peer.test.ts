// Log GC and snapshots on three Peers over MemoryPeerStorage, wired by an
// in-memory network that delivers, drops or partitions envelopes on demand.
// Deterministic: one seed, no timers; the test moves time by ticking.

import { describe, expect, it } from 'vitest';
import { type Message, MessageType } from '../../../src/raft';
import { bootstrapPeer } from '../../../src/store/bootstrap';
import { MemoryPeerStorage } from '../../../src/store/memory-peer-storage';
import { Peer, type PeerConfig, type RaftEnvelope } from '../../../src/store/peer';
import { columnFamilies } from '../../../src/store/peer-storage';
import type { RegionMeta } from '../../../src/store/region';
import type { RequestHeader, Result, WriteRequest, WriteResponse } from '../../../src/store/requests';
import { chunkSnapshotMessage, encodeSnapshotData } from '../../../src/store/snapshot';
import { fromUtf8, utf8 } from '../../../src/util/bytes';
import { seededRandom } from '../raft/network';

const gcLimit = 20;

const region: RegionMeta = {
  id: 1,
  startKey: new Uint8Array(0),
  endKey: new Uint8Array(0),
  epoch: { version: 1, confVer: 1 },
  peers: [
    { id: 1, storeId: 1 },
    { id: 2, storeId: 2 },
    { id: 3, storeId: 3 },
  ],
};

/** Bounds every loop of the harness: a stuck cluster fails instead of spinning. */
const stepsMax = 100_000;

class Cluster {
  readonly storages = new Map<number, MemoryPeerStorage>();
  readonly peers = new Map<number, Peer>();
  private queue: RaftEnvelope[] = [];
  /** Peers cut off from everyone: their messages, both ways, are lost. */
  readonly isolated = new Set<number>();
  /** Returns true to drop an envelope (beyond the partition). */
  dropIf: (e: RaftEnvelope) => boolean = () => false;
  readonly delivered: RaftEnvelope[] = [];
  private readonly config: PeerConfig;

  constructor(seed: number) {
    this.config = {
      electionTick: 10,
      heartbeatTick: 2,
      rand: seededRandom(seed),
      raftLogGcCountLimit: gcLimit,
      // Tiny chunks: every snapshot travels in many envelopes.
      snapshotChunkBytes: 64,
    };
    for (const p of region.peers) {
      const storage = new MemoryPeerStorage();
      bootstrapPeer(storage, p, region);
      this.storages.set(p.id, storage);
      this.start(p.id);
    }
  }

  /** A fresh Peer over the peer's storage: what a restarted object does. */
  start(id: number): void {
    const storage = this.storages.get(id)!;
    this.peers.set(id, new Peer(storage, { send: (es) => this.queue.push(...structuredClone(es)) }, this.config));
  }

  peer(id: number): Peer {
    return this.peers.get(id)!;
  }

  settle(): void {
    for (let steps = 0; steps < stepsMax; steps++) {
      let busy = false;
      for (const p of this.peers.values()) busy = p.handleReady() || busy;
      if (!busy && this.queue.length === 0) return;
      const batch = this.queue.splice(0);
      for (const e of batch) {
        if (this.isolated.has(e.from.id) || this.isolated.has(e.to.id) || this.dropIf(e)) continue;
        this.delivered.push(e);
        this.peer(e.to.id).step(e);
      }
    }
    throw new Error('the cluster did not settle');
  }

  tick(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const p of this.peers.values()) p.tick();
      this.settle();
    }
  }

  leader(): Peer {
    for (let i = 0; i < 200; i++) {
      const leaders = [...this.peers.values()].filter((p) => p.isLeader() && !this.isolated.has(p.meta.id));
      if (leaders.length === 1) return leaders[0]!;
      this.tick();
    }
    throw new Error('no leader');
  }

  async write(requests: WriteRequest[]): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const leader = this.leader();
      const header: RequestHeader = { regionId: region.id, peerId: leader.meta.id, epoch: region.epoch };
      let result: Result<WriteResponse> | undefined;
      void leader.propose(header, requests).then((r) => (result = r));
      for (let i = 0; i < 50 && result === undefined; i++) {
        this.settle();
        await Promise.resolve();
        if (result === undefined) this.tick();
      }
      if (result?.ok === true) return;
    }
    throw new Error('write did not succeed');
  }

  /** The log each peer holds: entries after the truncated index. */
  logLength(id: number): number {
    const s = this.storages.get(id)!;
    return s.lastIndex() - s.firstIndex() + 1;
  }

  rows(id: number): Map<string, string> {
    const s = this.storages.get(id)!;
    const all = s.scan('raw', { start: new Uint8Array(0), end: new Uint8Array(0), limit: 10_000 });
    return new Map(all.map((p) => [fromUtf8(p.key), fromUtf8(p.value)]));
  }
}

const put = (k: string, v: string): WriteRequest => ({ type: 'RawPut', key: utf8(k), value: utf8(v) });
const del = (k: string): WriteRequest => ({ type: 'RawDelete', key: utf8(k) });

describe('log GC', () => {
  it('compacts every replica, keeping each log within twice the limit', async () => {
    const c = new Cluster(1);
    let longest = 0;
    for (let i = 0; i < 5 * gcLimit; i++) {
      await c.write([put(`k${i}`, `v${i}`)]);
      c.tick();
      for (const id of c.peers.keys()) longest = Math.max(longest, c.logLength(id));
    }
    c.tick(5);
    expect(longest).toBeLessThanOrEqual(2 * gcLimit);
    for (const [id, s] of c.storages) {
      // Every replica applied a CompactLog: its truncated index moved past the bootstrap's.
      expect(s.applyState().truncatedState.index, `peer ${id}`).toBeGreaterThan(3 * gcLimit);
      expect(c.rows(id).size).toBe(5 * gcLimit);
    }
    // Nobody needed a snapshot: every follower kept up.
    for (const p of c.peers.values()) expect(p.snapshotsApplied).toBe(0);
  });
});

describe('snapshots', () => {
  it('catch up an isolated follower, deletions included, and survive its restart', async () => {
    const c = new Cluster(7);
    await c.write([put('before', '1'), put('doomed', 'x')]);
    c.tick(3);
    const leader = c.leader();
    const follower = [...c.peers.values()].find((p) => p !== leader)!;
    const fid = follower.meta.id;
    expect(c.rows(fid).get('doomed')).toBe('x');

    c.isolated.add(fid);
    const expected = new Map([['before', '1']]);
    let longest = 0;
    for (let i = 0; i < 3 * gcLimit; i++) {
      await c.write([put(`k${i}`, `v${i}`)]);
      expected.set(`k${i}`, `v${i}`);
      if (i % 7 === 0) {
        await c.write([del(`k${i}`)]);
        expected.delete(`k${i}`);
      }
      c.tick();
      for (const id of c.peers.keys()) longest = Math.max(longest, c.logLength(id));
    }
    await c.write([del('doomed')]);
    c.tick(3);
    // The majority compacted past everything the follower has: only a snapshot can help it.
    const leaderNow = c.leader();
    expect(leaderNow.storage.firstIndex()).toBeGreaterThan(follower.storage.lastIndex() + 1);

    // Lose one chunk of the first snapshot: the leader must send it all again.
    let lostOne = false;
    c.dropIf = (e) => {
      if (lostOne || e.snapshotChunk === undefined || e.snapshotChunk.seq !== 1) return false;
      lostOne = true;
      return true;
    };
    c.isolated.delete(fid);
    c.tick(60);
    expect(lostOne).toBe(true);
    expect(follower.snapshotsApplied).toBe(1);
    const chunks = c.delivered.filter((e) => e.to.id === fid && e.message.type === MessageType.Snapshot);
    expect(chunks.length).toBeGreaterThan(2);
    expect(new Set(chunks.map((e) => e.snapshotChunk?.total)).size).toBeGreaterThanOrEqual(1);

    expect(c.rows(fid)).toEqual(expected);
    expect(follower.storage.applyState().appliedIndex).toBe(leaderNow.storage.applyState().appliedIndex);
    for (const cf of columnFamilies) expect(c.storages.get(fid)!.get(cf, utf8('doomed'))).toBeUndefined();

    // Restart: a new Peer over the same storage has the same data and keeps up.
    c.start(fid);
    c.tick(20);
    await c.write([put('after', '2')]);
    expected.set('after', '2');
    c.tick(3);
    expect(c.rows(fid)).toEqual(expected);
    for (const id of c.peers.keys()) longest = Math.max(longest, c.logLength(id));
    expect(longest).toBeLessThanOrEqual(2 * gcLimit);
  });

  it('are refused from a stale epoch, and installed from a current one, whole or in chunks', () => {
    const c = new Cluster(3);
    const leader = c.leader();
    const target = [...c.peers.values()].find((p) => p !== leader)!;
    const tid = target.meta.id;
    // Move the target's region forward, as an applied conf change would.
    const ours: RegionMeta = { ...region, epoch: { version: 1, confVer: 2 } };
    c.storages.get(tid)!.write((w) => w.setRegion(ours));
    const before = target.storage.applyState();
    const index = before.appliedIndex + 100;
    const term = target.term() + 1;
    const rows = { raw: [{ key: utf8('s'), value: utf8('1') }], default: [], lock: [], write: [] };
    const send = (r: RegionMeta, chunkBytes: number) => {
      const message: Message = {
        type: MessageType.Snapshot,
        to: tid,
        from: leader.meta.id,
        term,
        logTerm: 0,
        index: 0,
        entries: [],
        commit: 0,
        reject: false,
        rejectHint: 0,
        snapshot: { data: encodeSnapshotData({ region: r, rows }), metadata: { index, term, confState: { voters: [1, 2, 3] } } },
      };
      const from = region.peers.find((p) => p.id === leader.meta.id)!;
      const to = region.peers.find((p) => p.id === tid)!;
      // Chunks arrive in reverse order: the receiver must not care.
      for (const part of chunkSnapshotMessage(message, chunkBytes).reverse()) {
        target.step({ regionId: region.id, from, to, epoch: r.epoch, message: part.message, snapshotChunk: part.chunk });
      }
      // Only the target runs: the rest of the cluster would answer for a leader that does not exist.
      for (let i = 0; i < 10 && target.handleReady(); i++);
    };
    send(region, 16); // confVer 1 < 2: stale
    expect(target.snapshotsApplied).toBe(0);
    expect(target.storage.applyState()).toEqual(before);
    send(ours, 16);
    expect(target.snapshotsApplied).toBe(1);
    expect(target.storage.applyState()).toEqual({ appliedIndex: index, truncatedState: { index, term } });
    expect(c.rows(tid)).toEqual(new Map([['s', '1']]));
  });
});
