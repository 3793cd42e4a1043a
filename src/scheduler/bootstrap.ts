// Cluster bootstrap (PD's bootstrap, TinyKV's BootstrapCluster): the first
// region covers the whole key space, at epoch 1/1, with one peer on each of
// the first `replicas` stores. The plan is only data; the shell persists it
// and then asks each peer to initialize itself from it.

import { assert } from '../util/assert';
import { type RegionMeta, assertValidRegion } from '../store/region';
import { bootstrapRegionId, schedulerConfig } from './config';

/** Where the plan gets its peer ids; the IdAllocator is one. */
export interface IdSource {
  alloc(count: number): number[];
}

export interface BootstrapOptions {
  /** The cluster's store ids, in placement order; the first `replicas` get the first region's peers. */
  storeIds?: readonly number[];
  replicas?: number;
}

export function planBootstrap(ids: IdSource, options: BootstrapOptions = {}): RegionMeta {
  const storeIds = options.storeIds ?? schedulerConfig.storeIdsDefault;
  const replicas = options.replicas ?? schedulerConfig.replicasDefault;
  assert(Number.isSafeInteger(replicas) && replicas >= 1, `invalid replica count ${replicas}`);
  assert(replicas <= storeIds.length, `${replicas} replicas need as many stores, have ${storeIds.length}`);
  const peerIds = ids.alloc(replicas);
  assert(peerIds.length === replicas, 'the id source returned the wrong number of ids');
  const region: RegionMeta = {
    id: bootstrapRegionId,
    startKey: new Uint8Array(),
    endKey: new Uint8Array(),
    epoch: { version: 1, confVer: 1 },
    peers: peerIds.map((id, i) => ({ id, storeId: storeIds[i]! })),
  };
  // Also rejects duplicate store ids among the chosen stores and an id that collides.
  assertValidRegion(region);
  assert(!peerIds.includes(region.id), `peer id collides with region id ${region.id}`);
  return region;
}
