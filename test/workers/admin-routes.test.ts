// The admin routes and GET /v1/cluster through the worker, on the cluster the
// scheduler bootstraps. In a file of its own: the region tests bootstrap
// regions by hand whose leaders report to the same scheduler, and a region
// covering the whole key space would replace the bootstrapped one there.

import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { waitForRows, quiesceAfterEach } from './region-helpers';

const started = quiesceAfterEach();

describe('admin routes', () => {
  const worker = exports.default;
  const admin = { Authorization: 'Bearer dev-token' };

  it('shows the cluster and moves leadership and members of region 1', { timeout: 60_000 }, async () => {
    const res = await worker.fetch('http://regionkv.test/v1/cluster', { headers: admin });
    expect(res.status).toBe(200);
    const view = (await res.json()) as {
      stores: { id: number; regionCount: number }[];
      regions: { id: number; startKey: string; endKey: string; peers: { id: number; storeId: number }[] }[];
    };
    expect(view.stores.map((s) => s.id)).toEqual([1, 2, 3, 4, 5]);
    const r = view.regions[0]!;
    expect(r.startKey).toBe('');
    expect(r.endKey).toBe('');
    started.push(...r.peers.map((p) => p.id));
    expect(view.stores.reduce((n, s) => n + s.regionCount, 0)).toBe(r.peers.length);

    // A write first, so the region has a leader and data.
    const put = await worker.fetch('http://regionkv.test/v1/raw/admin-key', { method: 'PUT', headers: admin, body: JSON.stringify({ value: 'v' }) });
    expect(put.status).toBe(200);

    const toStore = r.peers[r.peers.length - 1]!.storeId;
    const moved = await worker.fetch('http://regionkv.test/v1/admin/transfer-leader', {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ regionId: r.id, toStoreId: toStore }),
    });
    expect(moved.status).toBe(200);
    expect(await moved.json()).toEqual({ leader: r.peers[r.peers.length - 1]!.id });

    const freeStore = [1, 2, 3, 4, 5].find((s) => !r.peers.some((p) => p.storeId === s))!;
    const added = await worker.fetch('http://regionkv.test/v1/admin/add-peer', {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ regionId: r.id, storeId: freeStore }),
    });
    expect(added.status).toBe(200);
    const grown = (await added.json()) as { peers: { id: number; storeId: number }[]; epoch: { confVer: number } };
    expect(grown.peers).toHaveLength(r.peers.length + 1);
    const newPeer = grown.peers.find((p) => p.storeId === freeStore)!;
    started.push(newPeer.id);
    await waitForRows(newPeer.id, new Map([['admin-key', 'v']]));

    // Removing the leader goes through a transfer, transparently.
    const removed = await worker.fetch('http://regionkv.test/v1/admin/remove-peer', {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ regionId: r.id, peerId: r.peers[r.peers.length - 1]!.id }),
    });
    expect(removed.status).toBe(200);
    const shrunk = (await removed.json()) as { peers: { id: number }[] };
    expect(shrunk.peers).toHaveLength(r.peers.length);
    const get = await worker.fetch('http://regionkv.test/v1/raw/admin-key', { headers: admin });
    expect(await get.json()).toEqual({ key: 'admin-key', value: 'v' });
  });

  it('validates admin bodies', async () => {
    const res = await worker.fetch('http://regionkv.test/v1/admin/add-peer', {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ regionId: 'x' }),
    });
    expect(res.status).toBe(400);
    const unknown = await worker.fetch('http://regionkv.test/v1/admin/transfer-leader', {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ regionId: 999_999, toStoreId: 1 }),
    });
    expect(unknown.status).toBe(404);
    const noToken = await worker.fetch('http://regionkv.test/v1/cluster');
    expect(noToken.status).toBe(401);
  });
});
