// Membership changes and leader transfer on real PeerObjects, and the admin
// routes through the worker. Each test uses peer and region ids of its own.

import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { MessageType } from '../../src/raft';
import { completeMessage } from '../../src/raft/types';
import type { RegionMeta } from '../../src/store/region';
import {
  RegionClient,
  bootstrapRegion,
  header,
  makeRegion,
  peerStub,
  waitFor,
  waitForLeader,
  waitForRows,
  quiesceAfterEach,
} from './region-helpers';

const started = quiesceAfterEach();

async function startRegion(region: RegionMeta): Promise<number> {
  started.push(...region.peers.map((p) => p.id));
  await bootstrapRegion(region);
  return waitForLeader(region.peers.map((p) => p.id));
}

/** The region after a change, as its leader applied it. */
async function changePeer(
  region: RegionMeta,
  leader: number,
  changeType: 'AddNode' | 'RemoveNode',
  peer: { id: number; storeId: number },
): Promise<RegionMeta> {
  const result = await peerStub(leader).changePeer(header(region, leader), { type: 'ChangePeer', changeType, peer });
  if (!result.ok) throw new Error(`change peer: ${JSON.stringify(result.error)}`);
  return result.value.region;
}

async function isDestroyed(peerId: number): Promise<boolean> {
  return runInDurableObject(peerStub(peerId), async (_instance, state) => {
    const rows = state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM kv').one().n;
    const log = state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM raft_log').one().n;
    const alarm = await state.storage.getAlarm();
    return rows === 0 && log === 0 && alarm === null;
  });
}

describe('membership change', () => {
  it('adds a peer to a live region; it catches up with all the data', { timeout: 60_000 }, async () => {
    const region = makeRegion(7101, [7101, 7102, 7103]);
    const leader = await startRegion(region);
    const client = new RegionClient(region, leader);
    const expected = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      expect((await client.put(`k${i}`, `v${i}`)).ok).toBe(true);
      expected.set(`k${i}`, `v${i}`);
    }
    started.push(7104);
    const after = await changePeer(region, leader, 'AddNode', { id: 7104, storeId: 4 });
    expect(after.epoch).toEqual({ version: 1, confVer: 2 });
    expect(after.peers.map((p) => p.id)).toEqual([7101, 7102, 7103, 7104]);
    await waitForRows(7104, expected);
    // And it keeps up with new writes.
    const client2 = new RegionClient(after, leader);
    expect((await client2.put('later', 'x')).ok).toBe(true);
    await waitForRows(7104, new Map([['later', 'x']]));
    expect((await peerStub(7104).status()).region?.epoch.confVer).toBe(2);
  });

  it('removes a follower: its storage is emptied, its alarm cleared, late messages ignored', async () => {
    const region = makeRegion(7201, [7201, 7202, 7203]);
    const leader = await startRegion(region);
    expect((await new RegionClient(region, leader).put('a', '1')).ok).toBe(true);
    const victim = region.peers.find((p) => p.id !== leader)!;
    const after = await changePeer(region, leader, 'RemoveNode', victim);
    expect(after.peers.map((p) => p.id)).not.toContain(victim.id);
    expect(after.epoch.confVer).toBe(2);
    await waitFor(`peer ${victim.id} destroyed`, async () => ((await isDestroyed(victim.id)) ? true : undefined), () => 'not yet');
    // A stale message does not bring it back.
    await peerStub(victim.id).raftMessages([
      { regionId: region.id, from: region.peers[0]!, to: victim, epoch: region.epoch, message: completeMessage({ type: MessageType.Heartbeat, from: leader, to: victim.id, term: 99 }) },
    ]);
    expect(await isDestroyed(victim.id)).toBe(true);
    expect((await peerStub(victim.id).status()).region).toBeUndefined();
    // The rest still serve.
    expect((await new RegionClient(after, leader).put('b', '2')).ok).toBe(true);
  });

  it('transfers leadership to every peer in turn', { timeout: 60_000 }, async () => {
    const region = makeRegion(7301, [7301, 7302, 7303]);
    let leader = await startRegion(region);
    for (const target of region.peers.map((p) => p.id)) {
      const r = await peerStub(leader).transferLeader(header(region, leader), target);
      expect(r.ok).toBe(true);
      if (target !== leader) leader = await waitForLeader(region.peers.map((p) => p.id), { exclude: leader });
      expect(leader).toBe(target);
      expect((await new RegionClient(region, leader).put(`t${target}`, 'x')).ok).toBe(true);
    }
  });

  it('removing the leader of a two-peer region does not wedge it (transfer first)', { timeout: 60_000 }, async () => {
    const region = makeRegion(7401, [7401, 7402]);
    const leader = await startRegion(region);
    // The leader refuses to remove itself ...
    const self = region.peers.find((p) => p.id === leader)!;
    const refused = await peerStub(leader).changePeer(header(region, leader), { type: 'ChangePeer', changeType: 'RemoveNode', peer: self });
    expect(refused.ok).toBe(false);
    // ... so leadership moves first, then the new leader removes it.
    const other = region.peers.find((p) => p.id !== leader)!;
    expect((await peerStub(leader).transferLeader(header(region, leader), other.id)).ok).toBe(true);
    expect(await waitForLeader(region.peers.map((p) => p.id), { exclude: leader })).toBe(other.id);
    const after = await changePeer(region, other.id, 'RemoveNode', self);
    expect(after.peers).toEqual([other]);
    await waitFor(`peer ${self.id} destroyed`, async () => ((await isDestroyed(self.id)) ? true : undefined), () => 'not yet');
    expect((await new RegionClient(after, other.id).put('solo', 'yes')).ok).toBe(true);
  });
});
