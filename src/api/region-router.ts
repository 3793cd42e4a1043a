// The worker's way to a region leader: a cache of routes from the scheduler,
// corrected by what peers answer (NotLeader hints, newer epochs), and a retry
// loop with backoff that gives up at a deadline with 503 UNAVAILABLE. Like
// TiKV's client: the scheduler is asked only when the cache cannot answer.

import type { PeerRpc } from '../objects/peer-api';
import type { PeerMeta, RegionMeta } from '../store/region';
import { keyInRegion } from '../store/region';
import type { RegionError, RequestHeader, Result } from '../store/requests';
import { compareBytes } from '../util/bytes';
import { UnavailableError } from './errors';

/**
 * What the router needs from the world. The worker passes the scheduler's
 * and peers' stubs and real time; the simulator passes its own, so both run
 * this same code.
 */
export interface RouterDeps {
  /** The scheduler's view of the region holding `key` (bootstrapping the cluster if needed). */
  route(key: Uint8Array): Promise<{ region: RegionMeta; leader: PeerMeta | undefined }>;
  peer(peerId: number): PeerRpc;
  now(): number;
  /** A timer: `promise` resolves after `ms` unless cancelled first. */
  delay(ms: number): { promise: Promise<void>; cancel(): void };
}

export interface RetryPolicy {
  /** Give up after this long and answer 503. */
  deadlineMs: number;
  /** A single RPC to a peer that takes longer is treated as lost. */
  rpcTimeoutMs: number;
  backoffStartMs: number;
  backoffMaxMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  deadlineMs: 10_000,
  rpcTimeoutMs: 3_000,
  backoffStartMs: 20,
  backoffMaxMs: 500,
};

type PeerCall<T> = (peer: PeerRpc, header: RequestHeader) => Promise<Result<T>>;

interface CachedRoute {
  region: RegionMeta;
  leader: PeerMeta | undefined;
}

/** One per isolate: routes outlive a request, as a client's region cache does. */
export class RegionRouter {
  private readonly routes = new Map<number, CachedRoute>();

  constructor(
    private readonly deps: RouterDeps,
    private readonly policy: RetryPolicy = defaultRetryPolicy,
  ) {}

  /**
   * Runs `call` on the leader of the region holding `key`, retrying through
   * leader changes, epoch changes and lost peers until the deadline.
   */
  async onRegionOf<T>(key: Uint8Array, call: PeerCall<T>): Promise<{ value: T; region: RegionMeta }> {
    const deadline = this.deps.now() + this.policy.deadlineMs;
    let backoff = this.policy.backoffStartMs;
    let lastProblem = 'no attempt made';
    for (let attempt = 0; ; attempt++) {
      const route = await this.locate(key);
      // Without a known leader, try the peers in turn; a follower answers with a hint.
      const target = route.leader ?? route.region.peers[attempt % route.region.peers.length]!;
      const header: RequestHeader = { regionId: route.region.id, peerId: target.id, epoch: route.region.epoch };
      const result = await this.callWithTimeout(call, target, header);
      if (result !== undefined && result.ok) return { value: result.value, region: route.region };
      if (result === undefined) {
        lastProblem = `peer ${target.id} of region ${route.region.id} did not answer`;
        // Ask the scheduler next time, as TiKV's client reloads a region after a
        // send failure: the new leader has likely reported itself there, while
        // trying the cached peers in turn can pick the silent one again.
        this.routes.delete(route.region.id);
      } else {
        lastProblem = describe(result.error);
        if (this.learnFrom(result.error, route)) continue; // the cache is better now: retry at once
      }
      if (this.deps.now() + backoff > deadline) {
        throw new UnavailableError(`region of the key is unavailable: ${lastProblem}`, 1);
      }
      await this.deps.delay(backoff).promise;
      backoff = Math.min(backoff * 2, this.policy.backoffMaxMs);
    }
  }

  /**
   * The region holding `key` as the cache (or else the scheduler) knows it.
   * Possibly stale; for grouping keys and planning scans, never for deciding
   * correctness (the peer checks the epoch).
   */
  async regionOf(key: Uint8Array): Promise<RegionMeta> {
    return (await this.locate(key)).region;
  }

  private async callWithTimeout<T>(call: PeerCall<T>, target: PeerMeta, header: RequestHeader) {
    const timer = this.deps.delay(this.policy.rpcTimeoutMs);
    const timeout = timer.promise.then(() => undefined);
    try {
      return await Promise.race([call(this.deps.peer(target.id), header), timeout]);
    } catch {
      // The object was reset or unreachable: the request is lost, not failed.
      return undefined;
    } finally {
      timer.cancel();
    }
  }

  /** Updates the cache from a peer's answer; returns true if retrying right away is worthwhile. */
  private learnFrom(error: RegionError, route: CachedRoute): boolean {
    switch (error.type) {
      case 'NotLeader':
        if (error.leader !== undefined && error.leader.id !== route.leader?.id) {
          this.routes.set(route.region.id, { region: route.region, leader: error.leader });
          return true;
        }
        this.forgetLeader(route.region.id);
        return false;
      case 'EpochNotMatch':
        this.routes.delete(route.region.id);
        for (const region of error.currentRegions) this.routes.set(region.id, { region, leader: undefined });
        return true;
      case 'KeyNotInRegion':
        this.routes.delete(route.region.id);
        this.routes.set(error.region.id, { region: error.region, leader: route.leader });
        return true;
      case 'RegionNotFound':
        this.routes.delete(route.region.id);
        return false;
      case 'StaleCommand':
        // Overwritten by a new leader: it did not take effect; find the new leader.
        this.forgetLeader(route.region.id);
        return false;
    }
  }

  private forgetLeader(regionId: number): void {
    const route = this.routes.get(regionId);
    if (route !== undefined) this.routes.set(regionId, { region: route.region, leader: undefined });
  }

  private async locate(key: Uint8Array): Promise<CachedRoute> {
    for (const route of this.routes.values()) {
      if (keyInRegion(key, route.region)) return route;
    }
    const fresh = await this.deps.route(key);
    const route: CachedRoute = { region: fresh.region, leader: fresh.leader };
    // A fresher range replaces any cached region it overlaps.
    for (const [id, cached] of this.routes) {
      if (id === route.region.id || overlaps(cached.region, route.region)) this.routes.delete(id);
    }
    this.routes.set(route.region.id, route);
    return route;
  }
}

/** Whether [a.start, a.end) and [b.start, b.end) share a key; empty end keys are unbounded. */
function overlaps(a: RegionMeta, b: RegionMeta): boolean {
  const aStartsBeforeBEnds = b.endKey.length === 0 || compareBytes(a.startKey, b.endKey) < 0;
  const bStartsBeforeAEnds = a.endKey.length === 0 || compareBytes(b.startKey, a.endKey) < 0;
  return aStartsBeforeBEnds && bStartsBeforeAEnds;
}

function describe(error: RegionError): string {
  switch (error.type) {
    case 'NotLeader':
      return `region ${error.regionId} has no reachable leader`;
    case 'EpochNotMatch':
      return 'the region changed while the request was retried';
    case 'KeyNotInRegion':
      return `region ${error.region.id} does not hold the key`;
    case 'RegionNotFound':
      return `region ${error.regionId} was not found on its peer`;
    case 'StaleCommand':
      return 'the write was superseded by a leader change';
  }
}
