// The worker's services: the raw key space over the Raft regions, reached
// through the scheduler's routes and the peers' stubs. One set per isolate
// (per env object), so the route cache outlives a request.

import { peerAdminStub, peerStub, schedulerStub } from '../objects/peer-api';
import { AdminService } from './admin-service';
import type { Env } from './env';
import { RoutedRawStore } from './raw-store';
import { RegionRouter, type RouterDeps } from './region-router';
import type { Services } from './services';

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

export function createServices(env: Env): Services {
  return {
    raw: new RoutedRawStore(new RegionRouter(workerRouterDeps(env))),
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
