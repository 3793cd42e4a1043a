// The cluster's placement driver (TiKV's PD) as a Durable Object: one
// instance, named `scheduler`. A thin shell: it loads the pure scheduler
// modules from SQLite, turns RPC calls into calls on them, persists what
// they change, and talks to peers. Every decision lives in src/scheduler.

import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../api/env';
import { planBootstrap } from '../scheduler/bootstrap';
import { IdAllocator } from '../scheduler/id-allocator';
import { type Route, RegionRegistry } from '../scheduler/region-registry';
import { type StoreSpec, parseReplicas, parseStores } from '../scheduler/stores';
import { type TimestampBatch, Tso, allocateDurably } from '../scheduler/tso';
import { type PeerMeta, type RegionMeta, assertValidRegion, findPeer } from '../store/region';
import { assert } from '../util/assert';
import { peerStub } from './peer-api';
import { SchedulerStorage } from './scheduler-storage';

export type { Route } from '../scheduler/region-registry';

/** The outcome of one `ensureBootstrapped` call. */
export interface BootstrapStatus {
  /** The first region as planned; undefined if the cluster was found already running without a plan. */
  plan: RegionMeta | undefined;
  /** Every peer of the plan has confirmed; no further attempts will be made. */
  peersInitialized: boolean;
  /** Why peers failed on this attempt (empty when none failed or none were asked). */
  failures: string[];
}

/** The scheduler's memory, rebuilt from storage whenever the object starts. */
interface Loaded {
  storage: SchedulerStorage;
  ids: IdAllocator;
  /** Resumes at the saved window end, above anything an earlier life handed out. */
  tso: Tso;
  registry: RegionRegistry;
  bootstrapped: boolean;
  plan: RegionMeta | undefined;
  peersInitialized: boolean;
}

interface ClusterConfig {
  stores: StoreSpec[];
  replicas: number;
}

/** Reads STORES and REPLICAS; a bad value stops the scheduler with a message naming the variable. */
function readClusterConfig(env: Env): ClusterConfig {
  const stores = parseStores(env.STORES);
  if (!stores.ok) throw new Error(stores.message);
  const replicas = parseReplicas(env.REPLICAS, stores.value.length);
  if (!replicas.ok) throw new Error(replicas.message);
  return { stores: stores.value, replicas: replicas.value };
}

function errorMessage(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

export class SchedulerObject extends DurableObject<Env> {
  private readonly cluster: ClusterConfig;
  /** Set by the constructor's blockConcurrencyWhile, before any call is delivered. */
  private loaded: Loaded | undefined;
  /**
   * The bootstrap attempt under way, shared by every caller that arrives
   * meanwhile: peer RPCs open the input gate, and a second attempt must not
   * start while the first is waiting on them.
   */
  private bootstrapping: Promise<BootstrapStatus> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.cluster = readClusterConfig(env);
    void ctx.blockConcurrencyWhile(async () => {
      const storage = new SchedulerStorage(ctx.storage);
      const bootstrap = storage.loadBootstrap();
      this.loaded = {
        storage,
        ids: new IdAllocator(storage),
        tso: new Tso(storage.loadTsoWindowEnd()),
        registry: RegionRegistry.fromState(storage.loadRegistry()),
        ...bootstrap,
      };
    });
  }

  /**
   * The region serving `key`, with its leader if known. Bootstraps the
   * cluster on first use, so some region always covers every key.
   */
  async route(key: Uint8Array): Promise<Route> {
    await this.ensureBootstrapped();
    const route = this.state().registry.route(key);
    // Only a split whose halves are reported separately could leave a gap.
    // A split's parent peers report both halves in one reportRegions call
    // before the new peers exist (src/store/split.ts, runHandoffs), so the
    // new region's leader cannot report first. Left open: a left-half leader
    // elected right after applying the split could report its half alone
    // before that call lands (milliseconds); if that proves real, a gap
    // becomes an expected outcome the router retries on, not this error.
    assert(route !== undefined, 'no region covers the key');
    return route;
  }

  /** The region with this id, if known. Does not bootstrap: an id can only come from an earlier answer. */
  async regionById(regionId: number): Promise<Route | undefined> {
    return this.state().registry.routeById(regionId);
  }

  /** Every region in key order. Bootstraps the cluster on first use, like `route`. */
  async regions(): Promise<Route[]> {
    await this.ensureBootstrapped();
    return this.state().registry.routes();
  }

  /**
   * A peer reports that it became leader of `region` (as it now knows it).
   * The region is recorded by the epoch rules first, so that a leader of a
   * newer epoch is checked against the newer member list. Stale reports are
   * dropped: the scheduler already knows a newer state of the region.
   */
  async reportLeader(region: RegionMeta, leader: PeerMeta): Promise<void> {
    assertValidRegion(region);
    const member = findPeer(region, leader.id);
    assert(member?.storeId === leader.storeId, `leader ${leader.id} is not in region ${region.id}`);
    const { registry } = this.state();
    this.mutate(() => {
      const changed: number[] = [];
      const put = registry.putRegion(region);
      if (put.type === 'Accepted') changed.push(region.id, ...put.removed.map((r) => r.id));
      const led = registry.updateLeader(region.id, leader, region.epoch);
      if (led.type === 'Updated') changed.push(region.id);
      this.persistRegions(changed);
    });
  }

  /** The cluster's stores, as configured (STORES). */
  async stores(): Promise<StoreSpec[]> {
    return this.cluster.stores.map((st) => ({ ...st }));
  }

  /**
   * Regions whose meta changed without a new leader to report them (a
   * split's halves). Applied in order by the epoch rules, in one
   * transaction, so the left half replacing its old self and the right half
   * filling the rest leave no gap in the routing table.
   */
  async reportRegions(regions: RegionMeta[]): Promise<void> {
    for (const r of regions) assertValidRegion(r);
    const { registry } = this.state();
    this.mutate(() => {
      const changed: number[] = [];
      for (const region of regions) {
        const put = registry.putRegion(region);
        if (put.type === 'Accepted') changed.push(region.id, ...put.removed.map((r) => r.id));
      }
      this.persistRegions(changed);
    });
  }

  /** `count` fresh ids for regions and peers, increasing, never handed out before (even across restarts). */
  async allocIds(count: number): Promise<number[]> {
    const { ids } = this.state();
    return this.mutate(() => ids.alloc(count));
  }

  /**
   * `count` consecutive timestamps from `first`, each greater than any
   * handed out before, even across restarts. The worker's TsoClient batches
   * its callers into these calls. No await inside: allocations are serial,
   * and when a new window must be saved, the save is one synchronous SQLite
   * transaction before the allocation; the output gate then holds this reply
   * until the write is durable, so no timestamp of the new window can reach
   * anyone before the window is on disk.
   */
  async getTimestamps(count: number): Promise<TimestampBatch> {
    const { tso, storage } = this.state();
    return allocateDurably(tso, count, Date.now(), (windowEndMs) =>
      this.mutate(() => storage.saveTsoWindowEnd(windowEndMs)),
    );
  }

  /**
   * Bootstraps the cluster if it is not yet: saves the plan (the first
   * region) before anything else, then asks each of its peers to initialize.
   * Failed peers are asked again on the next call; the plan never changes.
   */
  async ensureBootstrapped(): Promise<BootstrapStatus> {
    const s = this.state();
    if (s.bootstrapped && s.peersInitialized) return { plan: s.plan, peersInitialized: true, failures: [] };
    this.bootstrapping ??= this.bootstrap().finally(() => {
      this.bootstrapping = undefined;
    });
    return this.bootstrapping;
  }

  private async bootstrap(): Promise<BootstrapStatus> {
    const s = this.state();
    if (!s.bootstrapped) this.saveBootstrap();
    const plan = s.plan;
    if (plan === undefined) return { plan, peersInitialized: s.peersInitialized, failures: [] };
    // In parallel: each call may be the one that creates a Durable Object.
    const results = await Promise.allSettled(
      plan.peers.map((peer) => peerStub(this.env, peer.id, this.locationHintOf(peer.storeId)).bootstrap(peer, plan)),
    );
    const failures = results.flatMap((r, i) =>
      r.status === 'rejected' ? [`peer ${plan.peers[i]!.id}: ${errorMessage(r.reason)}`] : [],
    );
    if (failures.length > 0) {
      console.warn(`bootstrap of region ${plan.id}: will retry on the next request; ${failures.join('; ')}`);
      return { plan, peersInitialized: false, failures };
    }
    this.mutate(() => s.storage.markPeersInitialized());
    s.peersInitialized = true;
    return { plan, peersInitialized: true, failures };
  }

  /**
   * Plans the first region and saves it, with the ids it used, in one
   * transaction, before any peer hears of it: a restart then retries the
   * same plan rather than inventing a second region 1. If regions are
   * already known (leaders reported them, so the cluster runs) there is
   * nothing to plan, and planning anyway would put a second group on keys
   * that a live one serves.
   */
  private saveBootstrap(): void {
    const s = this.state();
    assert(!s.bootstrapped, 'bootstrap planned twice');
    this.mutate(() => {
      if (s.registry.size > 0) {
        s.storage.saveBootstrapped(undefined);
        s.storage.markPeersInitialized();
        s.peersInitialized = true;
      } else {
        const plan = planBootstrap(s.ids, {
          storeIds: this.cluster.stores.map((st) => st.id),
          replicas: this.cluster.replicas,
        });
        s.storage.saveBootstrapped(plan);
        const put = s.registry.putRegion(plan);
        assert(put.type === 'Accepted', `the bootstrap region was not accepted: ${put.type}`);
        this.persistRegions([plan.id]);
        s.plan = plan;
      }
      s.bootstrapped = true;
    });
  }

  /** Writes the registry's current rows for `regionIds` and the routing version. Call inside `mutate`. */
  private persistRegions(regionIds: number[]): void {
    if (regionIds.length === 0) return;
    const { storage, registry } = this.state();
    for (const id of new Set(regionIds)) storage.saveRecord(id, registry.record(id));
    storage.saveRoutingVersion(registry.routingVersion);
  }

  /**
   * Runs a change to memory and storage as one SQLite transaction. If it
   * throws halfway, memory may be ahead of storage, so the object is reset
   * and reloads from storage on the next call rather than serve a state that
   * was never saved.
   */
  private mutate<T>(fn: () => T): T {
    const { storage } = this.state();
    try {
      return storage.transaction(fn);
    } catch (err) {
      this.ctx.abort(`scheduler state change failed: ${errorMessage(err)}`);
      throw err;
    }
  }

  private locationHintOf(storeId: number): DurableObjectLocationHint | undefined {
    return this.cluster.stores.find((st) => st.id === storeId)?.locationHint;
  }

  private state(): Loaded {
    assert(this.loaded !== undefined, 'SchedulerObject used before its storage was loaded');
    return this.loaded;
  }
}
