// Region split on real PeerObjects: a live region with data on both sides
// splits; both halves serve, every replica of the new region holds exactly
// the moved rows (percolator-encoded ones included) and the old region none
// of them; the routing table learns both halves. Ids of their own.

import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { schedulerName } from '../../src/objects/peer-api';
import { encodeKey } from '../../src/percolator/key-codec';
import type { RegionMeta } from '../../src/store/region';
import { fromUtf8, utf8 } from '../../src/util/bytes';
import {
  RegionClient,
  bootstrapRegion,
  header,
  makeRegion,
  peerStub,
  rawRows,
  setFaults,
  waitFor,
  waitForLeader,
  quiesceAfterEach,
} from './region-helpers';

const started = quiesceAfterEach();

/** The `default` column family (cf 1) of one peer, as user keys. */
async function defaultCfValues(peerId: number): Promise<string[]> {
  return runInDurableObject(peerStub(peerId), (_instance, state) =>
    state.storage.sql
      .exec<{ value: ArrayBuffer }>('SELECT value FROM kv WHERE cf = 1 ORDER BY key')
      .toArray()
      .map((r) => fromUtf8(new Uint8Array(r.value))),
  );
}

async function pendingHandoffs(peerId: number): Promise<number> {
  return runInDurableObject(peerStub(peerId), (_instance, state) =>
    state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM split_handoff').one().n,
  );
}

function sameRows(actual: Map<string, string>, expected: Map<string, string>): boolean {
  return actual.size === expected.size && [...expected].every(([k, v]) => actual.get(k) === v);
}

describe('split', () => {
  it('splits a live region: both halves serve, the rows move exactly once', { timeout: 90_000 }, async () => {
    const region = makeRegion(8101, [8101, 8102, 8103]);
    const oldIds = region.peers.map((p) => p.id);
    const newIds = [8201, 8202, 8203];
    started.push(...oldIds, ...newIds);
    await bootstrapRegion(region);
    const leader = await waitForLeader(oldIds);
    const client = new RegionClient(region, leader);
    const left = new Map<string, string>();
    const right = new Map<string, string>();
    for (const k of ['a', 'c', 'lz', 'm', 'm0', 'q', 'zzz']) {
      expect((await client.put(k, `v-${k}`)).ok).toBe(true);
      (k < 'm' ? left : right).set(k, `v-${k}`);
    }
    // Percolator rows, keyed by encoded keys, on every replica: the split
    // must move them by user key, not by their bytes.
    await Promise.all(
      oldIds.map((id) =>
        runInDurableObject(peerStub(id), (_instance, state) => {
          for (const k of ['l', 'lzzzzzzzzz', 'm', 'mmmmmmmmmmmm']) {
            state.storage.sql.exec('INSERT INTO kv (cf, key, value) VALUES (1, ?, ?)', encodeKey(utf8(k), 7n), utf8(k));
          }
        }),
      ),
    );

    const answer = await peerStub(leader).split(header(region, leader), utf8('m'), 8201, newIds);
    if (!answer.ok) throw new Error(`split: ${JSON.stringify(answer.error)}`);
    const leftRegion: RegionMeta = answer.value.region;
    const rightRegion = answer.value.right!;
    expect(rightRegion).toBeDefined();
    // Adjacent, covering the original, one version up.
    expect(leftRegion.startKey).toEqual(region.startKey);
    expect(leftRegion.endKey).toEqual(utf8('m'));
    expect(rightRegion.startKey).toEqual(utf8('m'));
    expect(rightRegion.endKey).toEqual(region.endKey);
    expect(leftRegion.epoch).toEqual({ version: 2, confVer: 1 });
    expect(rightRegion.epoch).toEqual({ version: 2, confVer: 1 });
    expect(rightRegion.peers).toEqual(newIds.map((id, i) => ({ id, storeId: region.peers[i]!.storeId })));

    // Every replica of the new region holds exactly the moved rows; the old
    // ones hold none of them once their handoffs are done.
    for (const id of newIds) {
      await waitFor(`peer ${id} to hold the right half`, async () => (sameRows(await rawRows(id), right) ? true : undefined), () => 'not yet');
      expect(await defaultCfValues(id)).toEqual(['m', 'mmmmmmmmmmmm']);
    }
    for (const id of oldIds) {
      await waitFor(`peer ${id} to finish its handoff`, async () => ((await pendingHandoffs(id)) === 0 ? true : undefined), () => 'pending');
      expect(sameRows(await rawRows(id), left)).toBe(true);
      expect(await defaultCfValues(id)).toEqual(['l', 'lzzzzzzzzz']);
    }

    // The new region elects a leader and serves reads and writes.
    const newLeader = await waitForLeader(newIds);
    const rightClient = new RegionClient(rightRegion, newLeader);
    expect(await rightClient.get('q')).toBe('v-q');
    expect((await rightClient.put('n', 'new')).ok).toBe(true);
    expect(await rightClient.get('n')).toBe('new');
    const leftClient = new RegionClient(leftRegion, leader);
    expect(await leftClient.get('c')).toBe('v-c');
    expect((await leftClient.put('b', 'left')).ok).toBe(true);

    // A key sent to the wrong half; a request under the old epoch.
    const wrong = await leftClient.put('q', 'x');
    expect(wrong.ok === false && wrong.error.type).toBe('KeyNotInRegion');
    const wrongRight = await rightClient.put('a', 'x');
    expect(wrongRight.ok === false && wrongRight.error.type).toBe('KeyNotInRegion');
    const stale = await new RegionClient(region, leader).put('c', 'x');
    expect(stale.ok === false && stale.error.type).toBe('EpochNotMatch');
    // The old region's peers did not get the write to the new half.
    expect((await rawRows(leader)).has('n')).toBe(false);

    // The routing table knows both halves.
    const scheduler = env.SCHEDULER.get(env.SCHEDULER.idFromName(schedulerName));
    const routedLeft = await waitFor(
      'the scheduler to know the left half',
      async () => {
        const r = await scheduler.regionById(8101);
        return r?.region.epoch.version === 2 ? r : undefined;
      },
      () => 'old epoch',
    );
    expect(routedLeft.region.endKey).toEqual(utf8('m'));
    expect((await scheduler.regionById(8201))?.region.startKey).toEqual(utf8('m'));
  });

  it('a follower partitioned during the split applies it from the log once healed', { timeout: 90_000 }, async () => {
    const region = makeRegion(8501, [8501, 8502, 8503]);
    const oldIds = region.peers.map((p) => p.id);
    const newIds = [8601, 8602, 8603];
    started.push(...oldIds, ...newIds);
    await bootstrapRegion(region);
    const leader = await waitForLeader(oldIds);
    const client = new RegionClient(region, leader);
    for (const k of ['b', 'y']) expect((await client.put(k, `v-${k}`)).ok).toBe(true);
    const cutOff = region.peers.find((p) => p.id !== leader)!;
    const others = region.peers.filter((p) => p.id !== cutOff.id).map((p) => p.storeId);
    await setFaults(oldIds, { partition: [[cutOff.storeId], others] });

    const answer = await peerStub(leader).split(header(region, leader), utf8('m'), 8601, newIds);
    if (!answer.ok) throw new Error(`split: ${JSON.stringify(answer.error)}`);
    expect((await peerStub(cutOff.id).status()).region?.epoch.version).toBe(1);

    await setFaults(oldIds, {});
    await waitFor(
      `peer ${cutOff.id} to apply the split and hand off`,
      async () => {
        const st = await peerStub(cutOff.id).status();
        return st.region?.epoch.version === 2 && (await pendingHandoffs(cutOff.id)) === 0 ? true : undefined;
      },
      () => 'not yet',
    );
    expect(sameRows(await rawRows(cutOff.id), new Map([['b', 'v-b']]))).toBe(true);
    // Its store's new peer holds the right half, however it got it first
    // (its parent's handoff, or a seed from the new region's leader).
    const newPeer = answer.value.right!.peers.find((p) => p.storeId === cutOff.storeId)!;
    await waitFor(`peer ${newPeer.id} to hold the right half`, async () => (sameRows(await rawRows(newPeer.id), new Map([['y', 'v-y']])) ? true : undefined), () => 'not yet');
  });

  it('refuses a split key at a boundary or outside the region, and a stale epoch', { timeout: 60_000 }, async () => {
    const region = makeRegion(8301, [8301, 8302, 8303], 'b', 'x');
    started.push(...region.peers.map((p) => p.id));
    await bootstrapRegion(region);
    const leader = await waitForLeader(region.peers.map((p) => p.id));
    for (const key of ['b', 'x', 'a', 'z', '']) {
      const r = await peerStub(leader).split(header(region, leader), utf8(key), 8401, [8401, 8402, 8403]);
      expect(r.ok === false && r.error.type, `split at "${key}"`).toBe('KeyNotInRegion');
    }
    const stale = { ...region, epoch: { version: 0, confVer: 1 } };
    const r = await peerStub(leader).split(header(stale, leader), utf8('m'), 8401, [8401, 8402, 8403]);
    expect(r.ok === false && r.error.type).toBe('EpochNotMatch');
    expect((await peerStub(leader).status()).region?.epoch.version).toBe(1);
  });
});
