// POST /v1/admin/split through the worker, on the cluster the scheduler
// bootstraps (a file of its own, like admin-routes.test.ts: regions
// bootstrapped by hand would replace region 1 in this file's scheduler).
// Data on both sides keeps being served through the worker, whose router
// learns the new region after KeyNotInRegion / EpochNotMatch.

import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { quiesceAfterEach } from './region-helpers';

const started = quiesceAfterEach();

interface RegionJson {
  id: number;
  startKey: string;
  endKey: string;
  epoch: { version: number; confVer: number };
  peers: { id: number; storeId: number }[];
}

describe('POST /v1/admin/split', () => {
  const worker = exports.default;
  const auth = { Authorization: 'Bearer dev-token' };
  const base = 'http://regionkv.test';

  async function put(key: string, value: string): Promise<number> {
    const res = await worker.fetch(`${base}/v1/raw/${key}`, { method: 'PUT', headers: auth, body: JSON.stringify({ value }) });
    return res.status;
  }

  async function get(key: string): Promise<unknown> {
    const res = await worker.fetch(`${base}/v1/raw/${key}`, { headers: auth });
    return res.status === 200 ? ((await res.json()) as { value: string }).value : res.status;
  }

  async function split(key: string): Promise<Response> {
    return worker.fetch(`${base}/v1/admin/split`, { method: 'POST', headers: auth, body: JSON.stringify({ key }) });
  }

  it('splits region 1 with data on both sides; both halves serve through the worker', { timeout: 90_000 }, async () => {
    for (const k of ['apple', 'kiwi', 'mango', 'zucchini']) expect(await put(k, `v-${k}`)).toBe(200);
    const res = await split('m');
    expect(res.status).toBe(200);
    const { left, right } = (await res.json()) as { left: RegionJson; right: RegionJson };
    started.push(...left.peers.map((p) => p.id), ...right.peers.map((p) => p.id));
    expect(left).toMatchObject({ startKey: '', endKey: 'm', epoch: { version: 2 } });
    expect(right).toMatchObject({ startKey: 'm', endKey: '', epoch: { version: 2 } });
    expect(right.peers.map((p) => p.storeId)).toEqual(left.peers.map((p) => p.storeId));

    // Reads and writes on both sides, the router learning the new region.
    for (const k of ['apple', 'kiwi', 'mango', 'zucchini']) expect(await get(k)).toBe(`v-${k}`);
    expect(await put('banana', 'b')).toBe(200);
    expect(await put('pear', 'p')).toBe(200);
    expect(await get('banana')).toBe('b');
    expect(await get('pear')).toBe('p');

    // The cluster view: adjacent halves covering the key space.
    const view = (await (await worker.fetch(`${base}/v1/cluster`, { headers: auth })).json()) as { regions: RegionJson[] };
    expect(view.regions.map((r) => [r.startKey, r.endKey])).toEqual([
      ['', 'm'],
      ['m', ''],
    ]);

    // A boundary, or an empty key, is a 400.
    expect((await split('m')).status).toBe(400);
    expect((await split('')).status).toBe(400);
  });
});
