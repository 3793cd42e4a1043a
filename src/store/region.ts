// A region: a contiguous range of the key space, replicated by one Raft group.
// Its epoch versions the range (split/merge bump `version`) and the member
// list (conf changes bump `confVer`), so stale requests and stale heartbeats
// can be recognised (TiKV's RegionEpoch).

import { assert } from '../util/assert';
import { compareBytes } from '../util/bytes';

export interface PeerMeta {
  /** Globally unique; names the peer's Durable Object (`peer:<id>`). */
  id: number;
  storeId: number;
}

export interface RegionEpoch {
  version: number;
  confVer: number;
}

export interface RegionMeta {
  id: number;
  /** Inclusive. Empty means the start of the key space. */
  startKey: Uint8Array;
  /** Exclusive. Empty means the end of the key space. */
  endKey: Uint8Array;
  epoch: RegionEpoch;
  peers: PeerMeta[];
}

export function keyInRegion(key: Uint8Array, region: RegionMeta): boolean {
  return (
    compareBytes(key, region.startKey) >= 0 && (region.endKey.length === 0 || compareBytes(key, region.endKey) < 0)
  );
}

export function epochEqual(a: RegionEpoch, b: RegionEpoch): boolean {
  return a.version === b.version && a.confVer === b.confVer;
}

/** A request made under epoch `req` is stale if the region changed since (TiKV: check_region_epoch). */
export function isEpochStale(req: RegionEpoch, current: RegionEpoch): boolean {
  return req.version < current.version || req.confVer < current.confVer;
}

export function findPeer(region: RegionMeta, peerId: number): PeerMeta | undefined {
  return region.peers.find((p) => p.id === peerId);
}

export function cloneRegion(r: RegionMeta): RegionMeta {
  return {
    id: r.id,
    startKey: r.startKey.slice(),
    endKey: r.endKey.slice(),
    epoch: { ...r.epoch },
    peers: r.peers.map((p) => ({ ...p })),
  };
}

export function assertValidRegion(r: RegionMeta): void {
  assert(Number.isSafeInteger(r.id) && r.id > 0, `invalid region id ${r.id}`);
  assert(
    r.endKey.length === 0 || compareBytes(r.startKey, r.endKey) < 0,
    `region ${r.id}: start key must be below end key`,
  );
  assert(r.epoch.version >= 1 && r.epoch.confVer >= 1, `region ${r.id}: epoch starts at 1`);
  const ids = new Set(r.peers.map((p) => p.id));
  const stores = new Set(r.peers.map((p) => p.storeId));
  assert(ids.size === r.peers.length, `region ${r.id}: duplicate peer ids`);
  assert(stores.size === r.peers.length, `region ${r.id}: two peers on one store`);
}
