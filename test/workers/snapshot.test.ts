// Log GC and snapshots on real PeerObjects: the workers project runs with a
// small RAFT_LOG_GC_COUNT_LIMIT (vitest.config.ts), so a follower cut off
// while the others write falls behind the leader's truncated log and can only
// come back by a snapshot streamed in chunks over RPC.

import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  RegionClient,
  bootstrapRegion,
  makeRegion,
  peerStub,
  rawRows,
  setFaults,
  waitFor,
  waitForLeader,
  quiesceAfterEach,
} from './region-helpers';

const started = quiesceAfterEach();

/** The GC limit the workers project configures; the test is written against it. */
const gcLimit = Number(env.RAFT_LOG_GC_COUNT_LIMIT);

interface RaftRows {
  truncatedIndex: number;
  appliedIndex: number;
  logRows: number;
  logFirst: number | null;
}

async function raftRows(peerId: number): Promise<RaftRows> {
  return runInDurableObject(peerStub(peerId), (_instance, state) => {
    const s = state.storage.sql
      .exec<{ truncated_index: number; applied_index: number }>('SELECT truncated_index, applied_index FROM raft_state')
      .one();
    const log = state.storage.sql.exec<{ n: number; first: number | null }>('SELECT count(*) AS n, min(idx) AS first FROM raft_log').one();
    return { truncatedIndex: s.truncated_index, appliedIndex: s.applied_index, logRows: log.n, logFirst: log.first };
  });
}

describe('log GC and snapshots on PeerObjects', () => {
  it('an isolated follower catches up by snapshot, deletions included', async () => {
    expect(gcLimit).toBeGreaterThan(0);
    expect(gcLimit).toBeLessThanOrEqual(100);
    const base = 9000;
    const peers = [base + 1, base + 2, base + 3];
    started.push(...peers);
    const region = makeRegion(base, peers);
    await bootstrapRegion(region);
    const leader = await waitForLeader(peers);
    const client = new RegionClient(region, leader);
    const expected = new Map<string, string>();
    for (const k of ['keep', 'doomed']) {
      expect((await client.put(k, 'old')).ok).toBe(true);
      expected.set(k, 'old');
    }
    const follower = peers.find((id) => id !== leader)!;
    await waitFor(
      `follower ${follower} to hold the first writes`,
      async () => ((await rawRows(follower)).get('doomed') === 'old' ? true : undefined),
      () => 'not yet',
    );
    const followerBefore = await raftRows(follower);

    // Cut the follower's store off from everyone; the other two keep a quorum.
    const storeOf = (id: number) => region.peers.find((p) => p.id === id)!.storeId;
    const others = peers.filter((id) => id !== follower);
    await setFaults(peers, { partition: [others.map(storeOf)] });
    const writes = 3 * gcLimit;
    for (let i = 0; i < writes; i++) {
      const k = `k${String(i).padStart(4, '0')}`;
      expect((await client.put(k, `v${i}`)).ok).toBe(true);
      expected.set(k, `v${i}`);
    }
    // A delete on the majority must reach the follower through the snapshot.
    const del = await peerStub(client.leaderHint!).write(
      { regionId: region.id, peerId: client.leaderHint!, epoch: region.epoch },
      [{ type: 'RawDelete', key: new TextEncoder().encode('doomed') }],
    );
    expect(del.ok).toBe(true);
    expected.delete('doomed');

    // The majority compacted past everything the follower has.
    const leaderNow = client.leaderHint!;
    const compacted = await waitFor(
      `leader ${leaderNow} to compact past the follower's log`,
      async () => {
        const r = await raftRows(leaderNow);
        return r.truncatedIndex > followerBefore.appliedIndex + 1 ? r : undefined;
      },
      () => 'no compaction yet',
    );
    expect(compacted.logRows).toBeLessThanOrEqual(2 * gcLimit);

    await setFaults(peers, {});
    const status = await waitFor(
      `follower ${follower} to install a snapshot`,
      async () => {
        const s = await peerStub(follower).status();
        return s.snapshotsApplied > 0 ? s : undefined;
      },
      () => 'no snapshot yet',
      { timeoutMs: 30_000 },
    );
    expect(status.snapshotsApplied).toBeGreaterThanOrEqual(1);
    await waitFor(
      `follower ${follower} to hold exactly the acknowledged data`,
      async () => {
        const rows = await rawRows(follower);
        return rows.size === expected.size && [...expected].every(([k, v]) => rows.get(k) === v) ? true : undefined;
      },
      () => 'rows differ',
      { timeoutMs: 30_000 },
    );
    const after = await raftRows(follower);
    expect(after.truncatedIndex).toBeGreaterThan(followerBefore.appliedIndex);
    expect(after.logRows).toBeLessThanOrEqual(2 * gcLimit);
    // Nothing below the truncated index is left in the follower's log table.
    if (after.logFirst !== null) expect(after.logFirst).toBeGreaterThan(after.truncatedIndex);
  }, 90_000);
});
