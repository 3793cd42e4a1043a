// RoutedTxnRegions over real Peers (two single-peer regions split at "m")
// behind RegionRouter: the parts the worker test cannot steer, namely a
// command whose keys span regions, 1PC's max_ts handshake and its fallback,
// and a reverse scan that starts in the last region.

import { describe, expect, it } from 'vitest';
import { RegionRouter } from '../../../src/api/region-router';
import { RoutedTxnRegions } from '../../../src/api/routed-txn-regions';
import type { PeerRpc } from '../../../src/objects/peer-api';
import { bootstrapPeer } from '../../../src/store/bootstrap';
import { MemoryPeerStorage } from '../../../src/store/memory-peer-storage';
import { Peer } from '../../../src/store/peer';
import { type RegionMeta, keyInRegion } from '../../../src/store/region';
import { utf8 } from '../../../src/util/bytes';
import { seededRandom } from '../raft/network';

const k = utf8;

function leaderOf(region: RegionMeta): Peer {
  const storage = new MemoryPeerStorage();
  bootstrapPeer(storage, region.peers[0]!, region);
  const peer = new Peer(storage, { send: () => undefined }, { electionTick: 10, heartbeatTick: 2, rand: seededRandom(region.id) });
  for (let i = 0; i < 40 && !peer.isLeader(); i++) {
    peer.tick();
    while (peer.handleReady()) {
      // every turn there is
    }
  }
  expect(peer.isLeader()).toBe(true);
  return peer;
}

function cluster() {
  const regions: RegionMeta[] = [
    { id: 1, startKey: new Uint8Array(0), endKey: k('m'), epoch: { version: 2, confVer: 1 }, peers: [{ id: 1, storeId: 1 }] },
    { id: 2, startKey: k('m'), endKey: new Uint8Array(0), epoch: { version: 2, confVer: 1 }, peers: [{ id: 2, storeId: 1 }] },
  ];
  const peers = new Map(regions.map((r) => [r.peers[0]!.id, leaderOf(r)]));
  const settle = (peer: Peer) => {
    while (peer.handleReady()) {
      // every turn there is
    }
  };
  const rpc = (peerId: number): PeerRpc => {
    const peer = peers.get(peerId)!;
    return {
      bootstrap: () => Promise.resolve(),
      raftMessages: () => Promise.resolve(),
      write: (header, requests) => {
        const p = peer.propose(header, requests);
        settle(peer);
        return p;
      },
      read: (header, request) => {
        const p = peer.read(header, request);
        settle(peer);
        return p;
      },
    };
  };
  const router = new RegionRouter({
    route: (key) => {
      const region = regions.find((r) => keyInRegion(key, r))!;
      return Promise.resolve({ region, leader: region.peers[0] });
    },
    peer: rpc,
    now: () => 0,
    delay: () => ({ promise: new Promise<void>(() => undefined), cancel: () => undefined }),
  });
  let ts = 1000n;
  let tsCalls = 0;
  const client = new RoutedTxnRegions(router, () => {
    tsCalls++;
    return Promise.resolve(++ts);
  });
  return { client, tsCalls: () => tsCalls };
}

describe('RoutedTxnRegions', () => {
  it('runs a command whose keys span regions once per region', async () => {
    const { client } = cluster();
    expect(await client.groupByRegion([k('z'), k('a'), k('n'), k('b')])).toEqual([[k('a'), k('b')], [k('z'), k('n')]]);
    const prewrite = await client.command({
      type: 'Prewrite',
      mutations: [
        { op: 'put', key: k('a'), value: k('1') },
        { op: 'put', key: k('z'), value: k('2') },
      ],
      primary: k('a'),
      startTs: 10n,
      lockTtl: 3000,
    });
    expect(prewrite).toEqual({ type: 'Prewritten' });
    expect(await client.command({ type: 'Commit', keys: [k('a'), k('z')], startTs: 10n, commitTs: 11n })).toEqual({ type: 'Committed', commitTs: 11n });
    expect(await client.get({ type: 'TxnGet', key: k('z'), ts: 12n })).toEqual({ type: 'Value', value: k('2') });
    // The first failure wins: z is committed, so rolling it back is refused.
    const rollback = await client.command({ type: 'Rollback', keys: [k('b'), k('z')], startTs: 10n });
    expect(rollback).toMatchObject({ type: 'AlreadyCommitted', key: k('z') });
  });

  it('one-phase commits after the max_ts handshake, and falls back when the keys span regions', async () => {
    const { client, tsCalls } = cluster();
    const out = await client.commitOnePhase({ type: 'PrewriteAndCommit', mutations: [{ op: 'put', key: k('c'), value: k('v') }], startTs: 20n, commitTs: 21n });
    // The fresh leader knew no max_ts: the commit went in at a TSO ts fetched after its refusal.
    expect(tsCalls()).toBe(1);
    expect(out).toEqual({ type: 'Committed', commitTs: 1001n });
    // A read served at a TSO ts (1001) above the commitTs asked for forces one more fresh timestamp.
    await client.get({ type: 'TxnGet', key: k('d'), ts: 1001n });
    const again = await client.commitOnePhase({ type: 'PrewriteAndCommit', mutations: [{ op: 'put', key: k('d'), value: k('w') }], startTs: 30n, commitTs: 31n });
    expect(again).toEqual({ type: 'Committed', commitTs: 1002n });
    expect(tsCalls()).toBe(2);
    // A read ahead of the oracle: no fresh ts clears it, so two-phase commit takes over.
    await client.get({ type: 'TxnGet', key: k('d'), ts: 1n << 62n });
    expect(
      await client.commitOnePhase({ type: 'PrewriteAndCommit', mutations: [{ op: 'put', key: k('d'), value: k('x') }], startTs: 1003n, commitTs: 1004n }),
    ).toEqual({ type: 'NotOneRegion' });
    const spans = await client.commitOnePhase({
      type: 'PrewriteAndCommit',
      mutations: [
        { op: 'put', key: k('e'), value: k('1') },
        { op: 'put', key: k('y'), value: k('2') },
      ],
      startTs: 40n,
      commitTs: 41n,
    });
    expect(spans).toEqual({ type: 'NotOneRegion' });
  });

  it('scans each region forward and reverse, reporting the region it ran in', async () => {
    const { client } = cluster();
    await client.command({ type: 'Prewrite', mutations: [{ op: 'put', key: k('a'), value: k('1') }, { op: 'put', key: k('x'), value: k('2') }], primary: k('a'), startTs: 10n, lockTtl: 3000 });
    await client.command({ type: 'Commit', keys: [k('a'), k('x')], startTs: 10n, commitTs: 11n });
    const forward = await client.scanRegion({ type: 'TxnScan', start: new Uint8Array(0), end: new Uint8Array(0), limit: 10, ts: 12n });
    expect(forward).toMatchObject({ outcome: { type: 'Pairs', pairs: [{ key: k('a') }], more: false }, region: { startKey: new Uint8Array(0), endKey: k('m') } });
    const reverse = await client.scanRegion({ type: 'TxnScan', start: new Uint8Array(0), end: new Uint8Array(0), limit: 10, ts: 12n, reverse: true });
    expect(reverse).toMatchObject({ outcome: { type: 'Pairs', pairs: [{ key: k('x') }] }, region: { startKey: k('m'), endKey: new Uint8Array(0) } });
  });
});
