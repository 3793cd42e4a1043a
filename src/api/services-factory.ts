// The worker's services: the raw and transactional key spaces over the Raft
// regions, reached through the scheduler's routes and the peers' stubs. One
// set per isolate (per env object), so the route cache and the TSO batcher
// outlive a request.

import { peerAdminStub, peerStub, schedulerStub } from '../objects/peer-api';
import { AdminService } from './admin-service';
import type { Env } from './env';
import { RoutedRawStore } from './raw-store';
import { RegionRouter, type RouterDeps } from './region-router';
import { RoutedTxnRegions } from './routed-txn-regions';
import type { Services } from './services';
import { TsoClient } from './tso-client';
import { TxnCoordinator } from './txn-coordinator';

function workerRouterDeps(env: Env): RouterDeps {
  return {
    route: (key) => schedulerStub(env).route(key),
    peer: (peerId) => peerStub(env, peerId),
    now: () => Date.now(),
    delay: (ms) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const promise = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      });
      return { promise, cancel: () => clearTimeout(timer) };
    },
  };
}

/**
 * Work the coordinator leaves running after it answers (secondary commits,
 * rollbacks). The services are built per env, not per request, so the
 * request's ctx.waitUntil is out of reach here: the promise runs on
 * unawaited. If the runtime drops it when the request ends, nothing is
 * lost: secondaries are rolled forward (or back) by the next reader that
 * meets their locks, as Percolator intends. The catch keeps a failure from
 * becoming an unhandled rejection.
 */
function fireAndForget(work: Promise<void>): void {
  work.catch((err: unknown) => console.warn('txn background work failed', err));
}

export function createServices(env: Env): Services {
  const router = new RegionRouter(workerRouterDeps(env));
  const tso = new TsoClient((count) => schedulerStub(env).getTimestamps(count));
  const timestamp = () => tso.getTimestamp();
  return {
    raw: new RoutedRawStore(router),
    txn: new TxnCoordinator({
      regions: new RoutedTxnRegions(router, timestamp),
      timestamp,
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      background: fireAndForget,
    }),
    admin: new AdminService({
      regions: () => schedulerStub(env).regions(),
      regionById: (regionId) => schedulerStub(env).regionById(regionId),
      stores: () => schedulerStub(env).stores(),
      allocIds: (count) => schedulerStub(env).allocIds(count),
      peer: (peerId) => peerAdminStub(env, peerId),
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    }),
  };
}
