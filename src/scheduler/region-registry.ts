// The scheduler's routing table (PD's RegionsInfo): every known region, kept
// in key order, with the leader last reported for each. Regions arrive from
// their leaders and are accepted or rejected by their epochs (PD's
// region-heartbeat rules, see `putRegion`); the worker asks it which region,
// and which leader, serves a key.

import { assert } from '../util/assert';
import { bytesEqual, compareBytes } from '../util/bytes';
import {
  type PeerMeta,
  type RegionEpoch,
  type RegionMeta,
  assertValidRegion,
  cloneRegion,
  epochEqual,
  findPeer,
  isEpochStale,
} from '../store/region';

/** What the worker needs to send a request for a key: the region, its leader if known, and the table's version. */
export interface Route {
  region: RegionMeta;
  leader: PeerMeta | undefined;
  /** The registry's routingVersion when this route was read; a cache older than it may be out of date. */
  routingVersion: number;
}

export type PutRegionOutcome =
  /** The region was new or newer than the known one; `removed` are the older regions it overlapped, now gone. */
  | { type: 'Accepted'; region: RegionMeta; removed: RegionMeta[] }
  /** The region is exactly as already known; nothing changed. */
  | { type: 'Unchanged' }
  /** A known region is newer (same id with a higher epoch, or an overlapping one with a higher version). */
  | { type: 'Stale'; current: RegionMeta };

export type UpdateLeaderOutcome =
  | { type: 'Updated' }
  /** The leader was already that peer. */
  | { type: 'Unchanged' }
  | { type: 'RegionNotFound' }
  /** The report was made under an epoch older than the known one. */
  | { type: 'StaleEpoch'; current: RegionMeta }
  /** The peer is not a member of the known region. */
  | { type: 'NotMember'; current: RegionMeta };

/** One region and its leader, as persisted. */
export interface RegionRecord {
  region: RegionMeta;
  leader: PeerMeta | undefined;
}

/** Everything the registry needs to come back after a restart. */
export interface RegistryState {
  routingVersion: number;
  /** In any order; `fromState` checks they do not overlap. */
  records: RegionRecord[];
}

/** Orders end keys, with the empty end key (the end of the key space) last. */
export function compareEndKeys(a: Uint8Array, b: Uint8Array): number {
  if (a.length === 0 || b.length === 0) return (a.length === 0 ? 1 : 0) - (b.length === 0 ? 1 : 0);
  return compareBytes(a, b);
}

/** True if `key` is below the exclusive end key `end` (empty end = +infinity). */
function keyBelowEnd(key: Uint8Array, end: Uint8Array): boolean {
  return end.length === 0 || compareBytes(key, end) < 0;
}

function peersEqual(a: PeerMeta[], b: PeerMeta[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((p) => b.some((q) => q.id === p.id && q.storeId === p.storeId));
}

function regionsEqual(a: RegionMeta, b: RegionMeta): boolean {
  return (
    a.id === b.id &&
    bytesEqual(a.startKey, b.startKey) &&
    bytesEqual(a.endKey, b.endKey) &&
    epochEqual(a.epoch, b.epoch) &&
    peersEqual(a.peers, b.peers)
  );
}

function isMember(region: RegionMeta, peer: PeerMeta): boolean {
  return findPeer(region, peer.id)?.storeId === peer.storeId;
}

export class RegionRegistry {
  /**
   * Known regions ordered by end key, the empty end key last.
   * Invariant: no two ranges overlap, so this is also start-key order and
   * the end keys are distinct.
   */
  private sorted: RegionMeta[] = [];
  /** Invariant: holds exactly the regions of `sorted`, keyed by id. */
  private readonly byId = new Map<number, RegionMeta>();
  /** The last reported leader per region. Invariant: keys are known region ids, values members of that region. */
  private readonly leaders = new Map<number, PeerMeta>();
  /**
   * Bumped on every change to a region or a leader, and persisted, so that
   * it only grows: a route cache holding an older version may be stale.
   */
  private version = 0;

  /** Rebuilds a registry from persisted state, checking it as it goes. */
  static fromState(state: RegistryState): RegionRegistry {
    assert(
      Number.isSafeInteger(state.routingVersion) && state.routingVersion >= 0,
      `corrupt routing version ${state.routingVersion}`,
    );
    const registry = new RegionRegistry();
    const records = [...state.records].sort((a, b) => compareEndKeys(a.region.endKey, b.region.endKey));
    for (const { region, leader } of records) {
      assertValidRegion(region);
      assert(!registry.byId.has(region.id), `region ${region.id} persisted twice`);
      const prev = registry.sorted[registry.sorted.length - 1];
      assert(
        prev === undefined || (prev.endKey.length > 0 && compareBytes(prev.endKey, region.startKey) <= 0),
        `persisted regions ${prev?.id} and ${region.id} overlap`,
      );
      const copy = cloneRegion(region);
      registry.sorted.push(copy);
      registry.byId.set(copy.id, copy);
      if (leader !== undefined) {
        assert(isMember(copy, leader), `persisted leader ${leader.id} is not a member of region ${region.id}`);
        registry.leaders.set(copy.id, { ...leader });
      }
    }
    registry.version = state.routingVersion;
    return registry;
  }

  toState(): RegistryState {
    return { routingVersion: this.version, records: this.sorted.map((r) => this.recordOf(r)) };
  }

  /** The region and leader as persisted, for one region id; undefined once the region is gone. */
  record(regionId: number): RegionRecord | undefined {
    const region = this.byId.get(regionId);
    return region === undefined ? undefined : this.recordOf(region);
  }

  get routingVersion(): number {
    return this.version;
  }

  get size(): number {
    return this.sorted.length;
  }

  /**
   * The region holding `key`, in O(log n); undefined if no known region
   * covers it (a gap left by a split whose other half is not reported yet).
   */
  route(key: Uint8Array): Route | undefined {
    const region = this.sorted[this.firstEndAbove(key)];
    if (region === undefined || compareBytes(region.startKey, key) > 0) return undefined;
    return this.routeOf(region);
  }

  routeById(regionId: number): Route | undefined {
    const region = this.byId.get(regionId);
    return region === undefined ? undefined : this.routeOf(region);
  }

  /** Every region in key order. */
  routes(): Route[] {
    return this.sorted.map((r) => this.routeOf(r));
  }

  /**
   * Records a region as its leader reports it, by PD's rules: a region whose
   * version or confVer is below the known one for its id is stale, and so is
   * one overlapping a known region of a higher version (it predates a split
   * or merge that region already reflects). Otherwise it replaces its old self
   * and every region it overlaps, which are older or equal in version and so
   * superseded by it. The leader is kept only if it is still a member.
   */
  putRegion(input: RegionMeta): PutRegionOutcome {
    assertValidRegion(input);
    const origin = this.byId.get(input.id);
    if (origin !== undefined && isEpochStale(input.epoch, origin.epoch)) return { type: 'Stale', current: origin };
    const overlaps = this.overlapping(input.startKey, input.endKey).filter((r) => r.id !== input.id);
    const newer = overlaps.find((r) => r.epoch.version > input.epoch.version);
    if (newer !== undefined) return { type: 'Stale', current: newer };
    if (origin !== undefined && regionsEqual(origin, input)) return { type: 'Unchanged' };

    // O(n) per change, while lookups stay O(log n): regions change rarely
    // next to how often keys are routed.
    const region = cloneRegion(input);
    const gone = new Set([region.id, ...overlaps.map((r) => r.id)]);
    this.sorted = this.sorted.filter((r) => !gone.has(r.id));
    for (const r of overlaps) {
      this.byId.delete(r.id);
      this.leaders.delete(r.id);
    }
    const at = this.firstEndAbove(region.startKey);
    this.sorted.splice(at, 0, region);
    this.byId.set(region.id, region);
    const leader = this.leaders.get(region.id);
    if (leader !== undefined && !isMember(region, leader)) this.leaders.delete(region.id);
    this.version++;
    this.assertNeighbours(at);
    return { type: 'Accepted', region: cloneRegion(region), removed: overlaps };
  }

  /**
   * Records the leader a peer reports for a region. Ignored if the region is
   * unknown, if the report's epoch is older than the known one (the peer
   * speaks for a configuration that no longer holds), or if the peer is not a
   * member of the known region.
   */
  updateLeader(regionId: number, leader: PeerMeta, epoch: RegionEpoch): UpdateLeaderOutcome {
    const region = this.byId.get(regionId);
    if (region === undefined) return { type: 'RegionNotFound' };
    if (isEpochStale(epoch, region.epoch)) return { type: 'StaleEpoch', current: cloneRegion(region) };
    if (!isMember(region, leader)) return { type: 'NotMember', current: cloneRegion(region) };
    if (this.leaders.get(regionId)?.id === leader.id) return { type: 'Unchanged' };
    this.leaders.set(regionId, { id: leader.id, storeId: leader.storeId });
    this.version++;
    return { type: 'Updated' };
  }

  /** Index of the first region whose end key is above `key`: the only one that can hold it. */
  private firstEndAbove(key: Uint8Array): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keyBelowEnd(key, this.sorted[mid]!.endKey)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The known regions that share a key with [start, end), in key order. */
  private overlapping(start: Uint8Array, end: Uint8Array): RegionMeta[] {
    const out: RegionMeta[] = [];
    for (let i = this.firstEndAbove(start); i < this.sorted.length; i++) {
      const r = this.sorted[i]!;
      if (!keyBelowEnd(r.startKey, end)) break;
      out.push(r);
    }
    return out;
  }

  /** The no-overlap invariant, checked where a change could break it: around the region at `at`. */
  private assertNeighbours(at: number): void {
    const r = this.sorted[at]!;
    const prev = this.sorted[at - 1];
    const next = this.sorted[at + 1];
    assert(
      prev === undefined || (prev.endKey.length > 0 && compareBytes(prev.endKey, r.startKey) <= 0),
      `region ${r.id} overlaps region ${prev?.id} below it`,
    );
    assert(
      next === undefined || (r.endKey.length > 0 && compareBytes(r.endKey, next.startKey) <= 0),
      `region ${r.id} overlaps region ${next?.id} above it`,
    );
    assert(this.byId.size === this.sorted.length, 'region index out of step with the key order');
  }

  private routeOf(region: RegionMeta): Route {
    const leader = this.leaders.get(region.id);
    return {
      region: cloneRegion(region),
      leader: leader === undefined ? undefined : { ...leader },
      routingVersion: this.version,
    };
  }

  private recordOf(region: RegionMeta): RegionRecord {
    const leader = this.leaders.get(region.id);
    return { region: cloneRegion(region), leader: leader === undefined ? undefined : { ...leader } };
  }
}
