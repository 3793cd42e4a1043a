// The worker's services: the raw and transactional key spaces over the Raft
// regions, reached through the scheduler's routes and the peers' stubs.
// Built per request (see app.ts: nothing that waits may be shared between
// requests); only the region router, whose route cache is plain data, is
// kept per isolate (per env object) so routes outlive a request.

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

const routers = new WeakMap<Env, RegionRouter>();

function routerFor(env: Env): RegionRouter {
  let router = routers.get(env);
  if (router === undefined) {
    router = new RegionRouter(workerRouterDeps(env));
    routers.set(env, router);
  }
  return router;
}

export function createServices(env: Env, background: (work: Promise<void>) => void): Services {
  const router = routerFor(env);
  // Per request: it batches this request's concurrent timestamp calls only.
  const tso = new TsoClient((count) => schedulerStub(env).getTimestamps(count));
  const timestamp = () => tso.getTimestamp();
  return {
    raw: new RoutedRawStore(router),
    txn: new TxnCoordinator({
      regions: new RoutedTxnRegions(router, timestamp),
      timestamp,
      now: () => Date.now(),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      background,
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
