// Percolator commands and reads on a region peer: through the log at apply
// time, refused before proposing when invalid or outside the region, and the
// one-phase commit's max_ts rules (Peer.maxReadTs).

import { describe, expect, it } from 'vitest';
import type { PrewriteAndCommit, TxnCommand, TxnRead } from '../../../src/percolator';
import { bootstrapPeer } from '../../../src/store/bootstrap';
import { decodeCommand, encodeCommand } from '../../../src/store/command-codec';
import { MemoryPeerStorage } from '../../../src/store/memory-peer-storage';
import { Peer } from '../../../src/store/peer';
import type { RegionMeta } from '../../../src/store/region';
import type { MaxTsFloor, RequestHeader } from '../../../src/store/requests';
import { utf8 } from '../../../src/util/bytes';
import { seededRandom } from '../raft/network';

const region: RegionMeta = {
  id: 1,
  startKey: new Uint8Array(0),
  endKey: utf8('m'),
  epoch: { version: 1, confVer: 1 },
  peers: [{ id: 1, storeId: 1 }],
};
const header: RequestHeader = { regionId: 1, peerId: 1, epoch: { version: 1, confVer: 1 } };

function singlePeer() {
  const storage = new MemoryPeerStorage();
  bootstrapPeer(storage, region.peers[0]!, region);
  const peer = new Peer(storage, { send: () => undefined }, { electionTick: 10, heartbeatTick: 2, rand: seededRandom(1) });
  const settle = () => {
    while (peer.handleReady()) {
      // every turn there is
    }
  };
  for (let i = 0; i < 40 && !peer.isLeader(); i++) {
    peer.tick();
    settle();
  }
  expect(peer.isLeader()).toBe(true);
  const txn = async (command: TxnCommand, maxTsFloor?: MaxTsFloor) => {
    const p = peer.propose(header, [maxTsFloor === undefined ? { type: 'Txn', command } : { type: 'Txn', command, maxTsFloor }]);
    settle();
    return p;
  };
  const read = async (r: TxnRead) => {
    const p = peer.read(header, { type: 'Txn', read: r });
    settle();
    return p;
  };
  return { peer, storage, settle, txn, read };
}

const k = utf8;
const onePhase = (key: string, value: string, startTs: bigint, commitTs: bigint): PrewriteAndCommit => ({
  type: 'PrewriteAndCommit',
  mutations: [{ op: 'put', key: k(key), value: k(value) }],
  startTs,
  commitTs,
});

describe('Peer txn commands', () => {
  it('round trips a txn command with bigint timestamps through the log codec', () => {
    const cmd = { kind: 'Write' as const, header: { regionId: 1, epoch: region.epoch }, requests: [{ type: 'Txn' as const, command: onePhase('a', 'v', 1n << 60n, (1n << 60n) + 1n) }] };
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
  });

  it('prewrites and commits through the log; snapshot reads see the commit only at or after commitTs', async () => {
    const { txn, read } = singlePeer();
    const prewrite = await txn({
      type: 'Prewrite',
      mutations: [
        { op: 'put', key: k('a'), value: k('1') },
        { op: 'put', key: k('b'), value: k('2') },
      ],
      primary: k('a'),
      startTs: 10n,
      lockTtl: 3000,
    });
    expect(prewrite).toEqual({ ok: true, value: { type: 'TxnOutcome', outcome: { type: 'Prewritten' } } });
    // The lock blocks a reader above startTs.
    const blocked = await read({ type: 'TxnGet', key: k('a'), ts: 11n });
    expect(blocked.ok && blocked.value.type === 'TxnRead' && blocked.value.outcome.type).toBe('KeyLocked');
    const commit = await txn({ type: 'Commit', keys: [k('a'), k('b')], startTs: 10n, commitTs: 12n });
    expect(commit).toEqual({ ok: true, value: { type: 'TxnOutcome', outcome: { type: 'Committed', commitTs: 12n } } });
    expect(await read({ type: 'TxnGet', key: k('b'), ts: 12n })).toMatchObject({ ok: true, value: { type: 'TxnRead', outcome: { type: 'Value', value: k('2') } } });
    expect(await read({ type: 'TxnGet', key: k('b'), ts: 11n })).toMatchObject({ ok: true, value: { outcome: { type: 'Value', value: undefined } } });
    const scan = await read({ type: 'TxnScan', start: new Uint8Array(0), end: new Uint8Array(0), limit: 10, ts: 20n });
    expect(scan).toMatchObject({ ok: true, value: { type: 'TxnRead', outcome: { type: 'Pairs', pairs: [{ key: k('a') }, { key: k('b') }], more: false }, region: { id: 1 } } });
    // A conflicting prewrite of an older txn is an outcome, not a region error.
    const late = await txn({ type: 'Prewrite', mutations: [{ op: 'put', key: k('b'), value: k('x') }], primary: k('b'), startTs: 11n, lockTtl: 3000 });
    expect(late).toMatchObject({ ok: true, value: { type: 'TxnOutcome', outcome: { type: 'WriteConflict', conflictTs: 12n } } });
  });

  it('refuses invalid commands and keys past the region before proposing', async () => {
    const { txn, storage, peer } = singlePeer();
    const last = storage.lastIndex();
    const invalid = await txn({ type: 'Commit', keys: [k('a')], startTs: 5n, commitTs: 5n });
    expect(invalid).toMatchObject({ ok: true, value: { type: 'TxnOutcome', outcome: { type: 'Invalid' } } });
    const outside = await txn({ type: 'Rollback', keys: [k('x')], startTs: 5n });
    expect(outside).toMatchObject({ ok: false, error: { type: 'KeyNotInRegion' } });
    const spans = await txn({ type: 'Rollback', keys: [k('a'), k('x')], startTs: 5n });
    expect(spans).toMatchObject({ ok: true, value: { type: 'TxnSpansRegions', region: { id: 1 } } });
    expect(storage.lastIndex()).toBe(last);
    // Answered at once, without a ReadIndex round (nothing settles it here).
    const badRead = await peer.read(header, { type: 'Txn', read: { type: 'TxnGet', key: k('a'), ts: -1n } });
    expect(badRead).toMatchObject({ ok: true, value: { type: 'TxnRead', outcome: { type: 'Invalid' } } });
  });

  it('refuses 1PC until a floor for this term arrives, then while commitTs <= the max read ts', async () => {
    const { peer, txn, read, storage } = singlePeer();
    const term = peer.term();
    const first = await txn(onePhase('a', '1', 10n, 20n));
    expect(first).toEqual({ ok: true, value: { type: 'MaxTsUnknown', term } });
    // A floor from another term proves nothing about this leader's predecessors.
    expect(await txn(onePhase('a', '1', 10n, 20n), { term: term - 1, ts: 20n })).toEqual(first);
    const last = storage.lastIndex();
    expect(await txn(onePhase('a', '1', 10n, 20n), { term, ts: 20n })).toEqual({
      ok: true,
      value: { type: 'TxnOutcome', outcome: { type: 'Committed', commitTs: 20n } },
    });
    expect(storage.lastIndex()).toBe(last + 1);

    // A read at 30 was served: a 1PC at or below 30 would change its snapshot.
    await read({ type: 'TxnGet', key: k('b'), ts: 30n });
    expect(await txn(onePhase('b', '2', 25n, 30n))).toEqual({ ok: true, value: { type: 'CommitTsTooOld', maxReadTs: 30n } });
    expect(await txn(onePhase('b', '2', 25n, 31n))).toMatchObject({ ok: true, value: { type: 'TxnOutcome', outcome: { type: 'Committed', commitTs: 31n } } });
  });

  it('makes a read wait for a 1PC accepted before it at or below its ts', async () => {
    const { txn, peer, settle } = singlePeer();
    await txn(onePhase('a', '0', 1n, 2n), { term: peer.term(), ts: 2n });
    // Proposed but not yet applied when the read arrives: the read's index
    // alone would let it run before the commit records exist.
    const commit = peer.propose(header, [{ type: 'Txn', command: onePhase('c', 'v', 40n, 50n) }]);
    const reading = peer.read(header, { type: 'Txn', read: { type: 'TxnGet', key: k('c'), ts: 60n } });
    settle();
    expect(await commit).toMatchObject({ ok: true, value: { outcome: { type: 'Committed', commitTs: 50n } } });
    expect(await reading).toMatchObject({ ok: true, value: { type: 'TxnRead', outcome: { type: 'Value', value: k('v') } } });
  });
});
