import { describe, expect, it } from 'vitest';
import { bootstrapPeer } from '../../../src/store/bootstrap';
import { MemoryPeerStorage } from '../../../src/store/memory-peer-storage';
import { Peer, type RaftEnvelope } from '../../../src/store/peer';
import { PeerDriver } from '../../../src/store/peer-driver';
import type { RegionMeta } from '../../../src/store/region';
import type { RequestHeader } from '../../../src/store/requests';
import { utf8 } from '../../../src/util/bytes';
import { seededRandom } from '../raft/network';

const region: RegionMeta = {
  id: 1,
  startKey: new Uint8Array(0),
  endKey: utf8('m'),
  epoch: { version: 1, confVer: 1 },
  peers: [{ id: 1, storeId: 1 }],
};

/** A single-peer region: it elects itself, so the Ready loop runs without a network. */
function singlePeer() {
  const storage = new MemoryPeerStorage();
  bootstrapPeer(storage, region.peers[0]!, region);
  let writes = 0;
  const write = storage.write.bind(storage);
  storage.write = (fn) => {
    writes++;
    write(fn);
  };
  const sent: RaftEnvelope[] = [];
  const peer = new Peer(storage, { send: (e) => sent.push(...e) }, { electionTick: 10, heartbeatTick: 2, rand: seededRandom(1) });
  const settle = () => {
    while (peer.handleReady()) {
      // run every turn there is
    }
  };
  for (let i = 0; i < 40 && !peer.isLeader(); i++) {
    peer.tick();
    settle();
  }
  expect(peer.isLeader()).toBe(true);
  return { peer, storage, settle, writeCount: () => writes, sent };
}

const header: RequestHeader = { regionId: 1, peerId: 1, epoch: { version: 1, confVer: 1 } };

describe('Peer', () => {
  it('batches proposals made before a Ready turn into one storage transaction', async () => {
    const { peer, storage, settle, writeCount } = singlePeer();
    const before = writeCount();
    const results = Array.from({ length: 20 }, (_, i) =>
      peer.propose(header, [{ type: 'RawPut', key: utf8(`k${i}`), value: utf8(`v${i}`) }]),
    );
    settle();
    // One turn persists all 20 entries; the next commits and applies them all
    // (a single peer counts itself only once its append is durable).
    expect(writeCount() - before).toBe(2);
    for (const r of await Promise.all(results)) expect(r).toEqual({ ok: true, value: { type: 'Written' } });
    expect(storage.get('raw', utf8('k19'))).toEqual(utf8('v19'));
  });

  it('serves a read through ReadIndex without writing the log', async () => {
    const { peer, settle, storage } = singlePeer();
    const put = peer.propose(header, [{ type: 'RawPut', key: utf8('a'), value: utf8('1') }]);
    settle();
    await put;
    const lastIndex = storage.lastIndex();
    const read = peer.read(header, { type: 'RawGet', key: utf8('a') });
    settle();
    expect(await read).toEqual({ ok: true, value: { type: 'RawGet', value: utf8('1') } });
    expect(storage.lastIndex()).toBe(lastIndex);
  });

  it('answers a stale epoch, a key outside the region and a wrong peer as values', async () => {
    const { peer } = singlePeer();
    const stale = await peer.propose({ ...header, epoch: { version: 0, confVer: 1 } }, [
      { type: 'RawPut', key: utf8('a'), value: utf8('1') },
    ]);
    expect(stale).toMatchObject({ ok: false, error: { type: 'EpochNotMatch' } });
    const outside = await peer.read(header, { type: 'RawGet', key: utf8('z') });
    expect(outside).toMatchObject({ ok: false, error: { type: 'KeyNotInRegion' } });
    const wrongPeer = await peer.read({ ...header, peerId: 9 }, { type: 'RawGet', key: utf8('a') });
    expect(wrongPeer).toMatchObject({ ok: false, error: { type: 'RegionNotFound', regionId: 1 } });
  });

  it('clamps a scan to the region and reports more when the limit cuts it', async () => {
    const { peer, settle } = singlePeer();
    const puts = ['a', 'b', 'c'].map((k) => peer.propose(header, [{ type: 'RawPut', key: utf8(k), value: utf8(k) }]));
    settle();
    await Promise.all(puts);
    const scan = peer.read(header, { type: 'RawScan', start: utf8('a'), end: new Uint8Array(0), limit: 2 });
    settle();
    const result = await scan;
    expect(result).toMatchObject({ ok: true, value: { type: 'RawScan', more: true } });
    if (result.ok && result.value.type === 'RawScan') {
      expect(result.value.pairs.map((p) => p.key)).toEqual([utf8('a'), utf8('b')]);
    }
  });
});

describe('PeerDriver', () => {
  it('runs one Ready turn for requests that arrive together', async () => {
    const storage = new MemoryPeerStorage();
    const deferred: (() => void)[] = [];
    const driver = new PeerDriver(
      storage,
      { send: () => undefined },
      { electionTick: 10, heartbeatTick: 2, rand: seededRandom(2) },
      {},
      { defer: (fn) => deferred.push(fn), armTicker: async () => undefined },
    );
    await driver.bootstrap(region.peers[0]!, region);
    const runDeferred = () => {
      for (const fn of deferred.splice(0)) fn();
    };
    for (let i = 0; i < 40 && !driver.status().isLeader; i++) {
      await driver.tick();
      runDeferred();
    }
    expect(driver.status().isLeader).toBe(true);

    let writes = 0;
    const write = storage.write.bind(storage);
    storage.write = (fn) => {
      writes++;
      write(fn);
    };
    const results = Array.from({ length: 20 }, (_, i) =>
      driver.write(header, [{ type: 'RawPut', key: utf8(`k${i}`), value: utf8('v') }]),
    );
    // Let every request reach the driver before the deferred turn runs.
    await Promise.resolve();
    expect(deferred).toHaveLength(1);
    runDeferred();
    expect(writes).toBe(2);
    expect((await Promise.all(results)).every((r) => r.ok)).toBe(true);
  });
});
