// Percolator transactions through the worker, on the cluster the scheduler
// bootstraps (a file of its own, like admin-routes.test.ts: regions
// bootstrapped by hand would replace region 1 in this file's scheduler).
// Covers the single-key and single-region paths (1PC, with the peer's max_ts
// handshake on a fresh leader), snapshot reads at older and newer startTs, a
// write-write conflict, and after a split the two-phase path across regions.

import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { quiesceAfterEach } from './region-helpers';

const started = quiesceAfterEach();

interface RegionJson {
  id: number;
  startKey: string;
  endKey: string;
  peers: { id: number; storeId: number }[];
}

type Mutation = { op: 'put'; key: string; value: string } | { op: 'delete'; key: string };

describe('transactions through the worker', () => {
  const worker = exports.default;
  const auth = { Authorization: 'Bearer dev-token' };
  const base = 'http://regionkv.test';

  async function call(method: string, path: string, body?: unknown): Promise<Response> {
    return worker.fetch(`${base}${path}`, { method, headers: auth, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  }

  async function begin(): Promise<string> {
    const res = await call('POST', '/v1/txn/begin');
    expect(res.status).toBe(200);
    return ((await res.json()) as { startTs: string }).startTs;
  }

  async function commit(startTs: string, mutations: Mutation[]): Promise<Response> {
    return call('POST', '/v1/txn/commit', { startTs, mutations });
  }

  async function read(startTs: string, keys: string[]): Promise<(string | null)[]> {
    const res = await call('POST', '/v1/txn/get', { startTs, keys });
    expect(res.status).toBe(200);
    return ((await res.json()) as { pairs: { key: string; value: string | null }[] }).pairs.map((p) => p.value);
  }

  async function regionPeers(): Promise<number[]> {
    const view = (await (await call('GET', '/v1/cluster')).json()) as { regions: RegionJson[] };
    return view.regions.flatMap((r) => r.peers.map((p) => p.id));
  }

  it('serves kv, snapshot reads, conflicts, and 2PC across a split', { timeout: 120_000 }, async () => {
    // /v1/kv: a single-key transaction (1PC on a leader that first learns its max_ts floor).
    const put = await call('PUT', '/v1/kv/k', { value: 'v1' });
    expect(put.status).toBe(200);
    started.push(...(await regionPeers()));
    const got = await call('GET', '/v1/kv/k');
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ key: 'k', value: 'v1' });

    // Three keys in one region: visible at a later startTs, not an earlier one.
    const before = await begin();
    const t = await begin();
    const committed = await commit(t, [
      { op: 'put', key: 'a1', value: 'x1' },
      { op: 'put', key: 'b1', value: 'x2' },
      { op: 'put', key: 'c1', value: 'x3' },
    ]);
    expect(committed.status).toBe(200);
    const { commitTs } = (await committed.json()) as { commitTs: string };
    expect(BigInt(commitTs)).toBeGreaterThan(BigInt(t));
    const after = await begin();
    expect(await read(after, ['a1', 'b1', 'c1'])).toEqual(['x1', 'x2', 'x3']);
    expect(await read(before, ['a1', 'b1', 'c1'])).toEqual([null, null, null]);

    // Write-write conflict: a transaction that began before another committed the key.
    const stale = await begin();
    expect((await commit(await begin(), [{ op: 'put', key: 'b1', value: 'winner' }])).status).toBe(200);
    const conflict = await commit(stale, [{ op: 'put', key: 'b1', value: 'loser' }]);
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as { error: { code: string; key: string } }).error).toMatchObject({ code: 'WRITE_CONFLICT', key: 'b1' });

    // Split region 1 at m; then a transaction over both halves commits in two phases.
    const split = await call('POST', '/v1/admin/split', { key: 'm' });
    expect(split.status).toBe(200);
    const { left, right } = (await split.json()) as { left: RegionJson; right: RegionJson };
    started.push(...right.peers.map((p) => p.id));
    expect([left.endKey, right.startKey]).toEqual(['m', 'm']);

    const preSplitRead = await begin();
    const t2 = await begin();
    const cross = await commit(t2, [
      { op: 'put', key: 'apple', value: 'left' },
      { op: 'put', key: 'zebra', value: 'right' },
      { op: 'delete', key: 'a1' },
    ]);
    expect(cross.status).toBe(200);
    const later = await begin();
    expect(await read(later, ['apple', 'zebra', 'a1', 'c1'])).toEqual(['left', 'right', null, 'x3']);
    expect(await read(preSplitRead, ['apple', 'zebra', 'a1'])).toEqual([null, null, 'x1']);

    // A scan across the boundary, forward and reverse, sees the same snapshot.
    const scan = await call('POST', '/v1/txn/scan', { startTs: later, start: '', limit: 100 });
    expect(scan.status).toBe(200);
    const forward = ((await scan.json()) as { pairs: { key: string }[] }).pairs.map((p) => p.key);
    expect(forward).toEqual(['apple', 'b1', 'c1', 'k', 'zebra']);
    const rscan = await call('POST', '/v1/txn/scan', { startTs: later, start: '', limit: 100, reverse: true });
    expect(rscan.status).toBe(200);
    expect(((await rscan.json()) as { pairs: { key: string }[] }).pairs.map((p) => p.key)).toEqual([...forward].reverse());

    // Single-key 1PC in the new right region too.
    expect((await call('PUT', '/v1/kv/zz', { value: 'z' })).status).toBe(200);
    expect(await (await call('GET', '/v1/kv/zz')).json()).toMatchObject({ value: 'z' });
  });
});
