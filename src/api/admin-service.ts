// Cluster operations behind /v1/admin/* and GET /v1/cluster: membership
// changes, leader transfer and the cluster view. It talks to the scheduler
// (routing table, ids, stores) and to region leaders (admin RPCs), retrying
// through leader changes like the data path does, within a deadline.

import type { PeerAdminRpc } from '../objects/peer-api';
import type { Route } from '../scheduler/region-registry';
import type { StoreSpec } from '../scheduler/stores';
import type { AdminResponse } from '../store/peer';
import type { PeerStatus } from '../store/peer-driver';
import { type PeerMeta, type RegionMeta, epochEqual, findPeer, keyInRegion } from '../store/region';
import { isStrictlyInside } from '../store/split';
import { bytesEqual } from '../util/bytes';
import type { RegionError, RequestHeader, Result } from '../store/requests';
import { assert } from '../util/assert';
import { UnavailableError, invalidArgument, notFound } from './errors';

export interface AdminDeps {
  regions(): Promise<Route[]>;
  regionById(regionId: number): Promise<Route | undefined>;
  stores(): Promise<StoreSpec[]>;
  allocIds(count: number): Promise<number[]>;
  peer(peerId: number): PeerAdminRpc;
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface StoreView {
  id: number;
  regionCount: number;
  leaderCount: number;
  approximateBytes: number;
  locationHint?: string;
}

export interface RegionView {
  region: RegionMeta;
  leader: number | null;
  approximateBytes: number;
  approximateKeys: number;
}

export interface ClusterView {
  stores: StoreView[];
  regions: RegionView[];
}

export interface AdminApi {
  cluster(): Promise<ClusterView>;
  addPeer(regionId: number, storeId: number): Promise<RegionMeta>;
  removePeer(regionId: number, peerId: number): Promise<RegionMeta>;
  transferLeader(regionId: number, toStoreId: number): Promise<number>;
  /** Splits the region holding `key` at it; answers both halves. */
  split(key: Uint8Array): Promise<{ left: RegionMeta; right: RegionMeta }>;
}

export interface AdminPolicy {
  /** An operation that has not finished by then answers 503. */
  deadlineMs: number;
  pollMs: number;
}

export const defaultAdminPolicy: AdminPolicy = { deadlineMs: 15_000, pollMs: 50 };

/** Bounds the attempts of one operation, whatever the clock says. */
const attemptsMax = 1_000;

/** What the leader search settled on: the region as the leader knows it, and the leader. */
interface Led {
  region: RegionMeta;
  leader: PeerMeta;
}

export class AdminService implements AdminApi {
  constructor(
    private readonly deps: AdminDeps,
    private readonly policy: AdminPolicy = defaultAdminPolicy,
  ) {}

  async cluster(): Promise<ClusterView> {
    const [stores, routes] = await Promise.all([this.deps.stores(), this.deps.regions()]);
    const views: StoreView[] = stores.map((st) => {
      const view: StoreView = {
        id: st.id,
        regionCount: routes.filter((r) => r.region.peers.some((p) => p.storeId === st.id)).length,
        leaderCount: routes.filter((r) => r.leader?.storeId === st.id).length,
        // Sizes come from region heartbeats, which the scheduler issue adds;
        // until then they are honestly unknown, reported as 0.
        approximateBytes: 0,
      };
      if (st.locationHint !== undefined) view.locationHint = st.locationHint;
      return view;
    });
    return {
      stores: views,
      regions: routes.map((r) => ({
        region: r.region,
        leader: r.leader?.id ?? null,
        approximateBytes: 0,
        approximateKeys: 0,
      })),
    };
  }

  async addPeer(regionId: number, storeId: number): Promise<RegionMeta> {
    const stores = await this.deps.stores();
    if (!stores.some((st) => st.id === storeId)) throw invalidArgument(`store ${storeId} does not exist`, { storeId });
    const [peerId] = await this.deps.allocIds(1);
    assert(peerId !== undefined, 'the scheduler allocated no id');
    return this.changePeer(regionId, (region) => {
      if (region.peers.some((p) => p.storeId === storeId)) {
        throw invalidArgument(`region ${regionId} already has a peer on store ${storeId}`, { regionId, storeId });
      }
      return { type: 'ChangePeer', changeType: 'AddNode', peer: { id: peerId, storeId } };
    });
  }

  async removePeer(regionId: number, peerId: number): Promise<RegionMeta> {
    let removed: PeerMeta | undefined;
    const region = await this.changePeer(regionId, (current) => {
      const peer = findPeer(current, peerId);
      if (peer === undefined) throw invalidArgument(`peer ${peerId} is not a member of region ${regionId}`, { peerId });
      if (current.peers.length === 1) throw invalidArgument(`peer ${peerId} is the last member of region ${regionId}`);
      removed = peer;
      return { type: 'ChangePeer', changeType: 'RemoveNode', peer };
    });
    // The leader also tells it (onPeerRemoved); this covers a lost call.
    if (removed !== undefined) await this.deps.peer(removed.id).destroyIfRemoved(region).catch(() => false);
    return region;
  }

  async transferLeader(regionId: number, toStoreId: number): Promise<number> {
    const deadline = this.deps.now() + this.policy.deadlineMs;
    for (let attempt = 0; attempt < attemptsMax; attempt++) {
      const led = await this.findLeader(regionId, deadline);
      const target = led.region.peers.find((p) => p.storeId === toStoreId);
      if (target === undefined) {
        throw invalidArgument(`region ${regionId} has no peer on store ${toStoreId}`, { regionId, toStoreId });
      }
      if (target.id === led.leader.id) return target.id;
      const started = await this.deps.peer(led.leader.id).transferLeader(headerOf(led), target.id);
      if (started.ok && (await this.waitUntilLeader(target.id, deadline))) return target.id;
      await this.pause(deadline, `leadership of region ${regionId} did not move to store ${toStoreId}`);
    }
    throw new UnavailableError(`leadership of region ${regionId} did not move`, 1);
  }

  /**
   * Splits the region holding `key` at `key` (src/store/split.ts): new ids
   * from the scheduler, then the leader proposes the split under the epoch
   * it knows, retrying through leader changes and routing that lags behind
   * another split. A key that already starts a region is a 400, as TiKV's
   * split refuses a key at a region boundary.
   */
  async split(key: Uint8Array): Promise<{ left: RegionMeta; right: RegionMeta }> {
    if (key.length === 0) throw invalidArgument('the split key must not be empty');
    const deadline = this.deps.now() + this.policy.deadlineMs;
    let lastProblem = 'no attempt made';
    for (let attempt = 0; attempt < attemptsMax; attempt++) {
      const route = (await this.deps.regions()).find((r) => keyInRegion(key, r.region));
      if (route !== undefined) {
        if (bytesEqual(route.region.startKey, key)) throw invalidArgument('the key is already a region boundary');
        const led = await this.findLeader(route.region.id, deadline);
        if (isStrictlyInside(key, led.region)) {
          const ids = await this.deps.allocIds(1 + led.region.peers.length);
          const [newRegionId, ...newPeerIds] = ids;
          assert(newRegionId !== undefined && newPeerIds.length === led.region.peers.length, 'the scheduler allocated too few ids');
          const result: Result<AdminResponse> | undefined = await this.deps
            .peer(led.leader.id)
            .split(headerOf(led), key, newRegionId, newPeerIds)
            .catch(() => undefined);
          if (result?.ok === true) {
            assert(result.value.right !== undefined, 'a split answers its new region');
            return { left: result.value.region, right: result.value.right };
          }
          // The leader refused a key strictly inside the region it still has:
          // the moved half is too big for one handoff (src/store/split.ts).
          if (result?.ok === false && result.error.type === 'KeyNotInRegion' && epochEqual(result.error.region.epoch, led.region.epoch)) {
            throw invalidArgument('the region cannot be split at this key (the moved half is too large)');
          }
          lastProblem = result === undefined ? `leader ${led.leader.id} did not answer` : describe(result.error);
        } else if (bytesEqual(led.region.startKey, key)) {
          throw invalidArgument('the key is already a region boundary');
        } else {
          lastProblem = `region ${led.region.id} no longer holds the key`;
        }
      } else {
        lastProblem = 'no region holds the key yet';
      }
      await this.pause(deadline, `split: ${lastProblem}`);
    }
    throw new UnavailableError(`split: ${lastProblem}`, 1);
  }

  /**
   * Proposes one member change on the leader, built from the region as the
   * leader knows it, retrying through leader changes. Removing the leader
   * first moves leadership to another member, so that a survivor leads and
   * has the entry before the removed one is destroyed.
   */
  private async changePeer(
    regionId: number,
    build: (region: RegionMeta) => { type: 'ChangePeer'; changeType: 'AddNode' | 'RemoveNode'; peer: PeerMeta },
  ): Promise<RegionMeta> {
    const deadline = this.deps.now() + this.policy.deadlineMs;
    let lastProblem = 'no attempt made';
    for (let attempt = 0; attempt < attemptsMax; attempt++) {
      const led = await this.findLeader(regionId, deadline);
      const admin = build(led.region);
      if (admin.changeType === 'RemoveNode' && admin.peer.id === led.leader.id) {
        const other = led.region.peers.find((p) => p.id !== led.leader.id);
        assert(other !== undefined, 'a region with two members or more has another one');
        await this.transferLeader(regionId, other.storeId);
        continue;
      }
      const result: Result<AdminResponse> | undefined = await this.deps
        .peer(led.leader.id)
        .changePeer(headerOf(led), admin)
        .catch(() => undefined);
      if (result?.ok === true) return result.value.region;
      lastProblem = result === undefined ? `leader ${led.leader.id} did not answer` : describe(result.error);
      await this.pause(deadline, `region ${regionId}: ${lastProblem}`);
    }
    throw new UnavailableError(`region ${regionId}: ${lastProblem}`, 1);
  }

  /** The region's leader as its peers report it (the routing table may lag); waits for one. */
  private async findLeader(regionId: number, deadline: number): Promise<Led> {
    const route = await this.deps.regionById(regionId);
    if (route === undefined) throw notFound(`region ${regionId} does not exist`);
    let candidates = route.region.peers;
    for (let attempt = 0; attempt < attemptsMax; attempt++) {
      const statuses = await Promise.all(candidates.map((p) => this.status(p.id)));
      for (const st of statuses) {
        if (st?.isLeader === true && st.region?.id === regionId && st.peerId !== undefined) {
          const leader = findPeer(st.region, st.peerId);
          if (leader !== undefined) return { region: st.region, leader };
        }
      }
      // Members may have changed since the routing table heard: ask whom the peers know.
      const known = new Map<number, PeerMeta>(candidates.map((p) => [p.id, p]));
      for (const st of statuses) for (const p of st?.region?.id === regionId ? st.region.peers : []) known.set(p.id, p);
      candidates = [...known.values()];
      await this.pause(deadline, `region ${regionId} has no leader`);
    }
    throw new UnavailableError(`region ${regionId} has no leader`, 1);
  }

  private async waitUntilLeader(peerId: number, deadline: number): Promise<boolean> {
    // Bounded by the deadline and by attemptsMax: a transfer either finishes
    // within an election timeout or is abandoned by the old leader.
    for (let attempt = 0; attempt < attemptsMax && this.deps.now() < deadline; attempt++) {
      if ((await this.status(peerId))?.isLeader === true) return true;
      await this.deps.sleep(this.policy.pollMs);
    }
    return false;
  }

  private async status(peerId: number): Promise<PeerStatus | undefined> {
    return this.deps
      .peer(peerId)
      .status()
      .catch(() => undefined);
  }

  private async pause(deadline: number, problem: string): Promise<void> {
    if (this.deps.now() + this.policy.pollMs > deadline) throw new UnavailableError(problem, 1);
    await this.deps.sleep(this.policy.pollMs);
  }
}

function headerOf(led: Led): RequestHeader {
  return { regionId: led.region.id, peerId: led.leader.id, epoch: led.region.epoch };
}

function describe(error: RegionError): string {
  switch (error.type) {
    case 'NotLeader':
      return 'leadership moved';
    case 'EpochNotMatch':
      return 'the region changed meanwhile (or another change is in flight)';
    case 'KeyNotInRegion':
      return 'the key is outside the region';
    case 'RegionNotFound':
      return 'the peer holds no such region';
    case 'StaleCommand':
      return 'the proposal was superseded by a leader change';
  }
}
