// What objects and the worker call on each other over RPC, typed on its own
// so that callers compile independently of the classes (PeerObject
// `implements PeerRpc`), and the one place that turns a name into a stub.

import type { Env } from '../api/env';
import type { ChangePeerRequest } from '../store/conf-change-apply';
import type { AdminResponse, RaftEnvelope } from '../store/peer';
import type { PeerStatus } from '../store/peer-driver';
import type { PeerSeed, SeedRow } from '../store/peer-seed';
import type { PeerMeta, RegionMeta } from '../store/region';
import type {
  ReadRequest,
  ReadResponse,
  RequestHeader,
  Result,
  WriteRequest,
  WriteResponse,
} from '../store/requests';
import type { SchedulerObject } from './scheduler-object';

export interface PeerRpc {
  /**
   * Initializes this peer as a member of a brand-new region (cluster
   * bootstrap). Idempotent: a peer that already holds state for the region
   * ignores it, so the scheduler may retry it after any failure.
   */
  bootstrap(peer: PeerMeta, region: RegionMeta): Promise<void>;
  /** Raft transport: fire-and-forget, loss tolerated by Raft. */
  raftMessages(batch: RaftEnvelope[]): Promise<void>;
  write(header: RequestHeader, requests: WriteRequest[]): Promise<Result<WriteResponse>>;
  read(header: RequestHeader, request: ReadRequest): Promise<Result<ReadResponse>>;
}

/**
 * What the admin service and other peers call for membership changes and
 * leadership, apart from PeerRpc so that hosts of the data path alone (the
 * simulator's router) need not implement it.
 */
export interface PeerAdminRpc extends PeerRpc {
  /** Leader only: adds or removes one peer through the log; answers the region after the change. */
  changePeer(header: RequestHeader, admin: ChangePeerRequest): Promise<Result<AdminResponse>>;
  /** Leader only: hands leadership to `toPeerId`; answers once started, not finished. */
  transferLeader(header: RequestHeader, toPeerId: number): Promise<Result<null>>;
  /**
   * Leader only: splits the region at `splitKey` (src/store/split.ts); the
   * new region gets id `newRegionId` and peers `newPeerIds`, one per current
   * peer, on the same stores in order. Answers both halves once applied.
   */
  split(header: RequestHeader, splitKey: Uint8Array, newRegionId: number, newPeerIds: number[]): Promise<Result<AdminResponse>>;
  /**
   * A split's parent peer on the same store initializes this new peer with
   * the moved rows. Idempotent; true once this object holds the region.
   */
  initFromSplit(peer: PeerMeta, region: RegionMeta, rows: SeedRow[]): Promise<boolean>;
  /** A new peer asks a member for its first state (src/store/peer-seed.ts). */
  seedFor(regionId: number, forPeer: number): Promise<PeerSeed | undefined>;
  /** `region` no longer holds this peer: destroy it. Answers whether it did. */
  destroyIfRemoved(region: RegionMeta): Promise<boolean>;
  status(): Promise<PeerStatus>;
}

/** The Durable Object name of a peer (DESIGN.md, "Cloudflare mapping"). */
export function peerName(peerId: number): string {
  return `peer:${peerId}`;
}

/** The name of the one SchedulerObject. */
export const schedulerName = 'scheduler';

/**
 * The stub of peer `peerId`. A location hint only matters the first time the
 * object is created; later calls reach it wherever it lives.
 */
export function peerStub(env: Env, peerId: number, locationHint?: DurableObjectLocationHint): PeerRpc {
  const id = env.PEERS.idFromName(peerName(peerId));
  const stub = locationHint === undefined ? env.PEERS.get(id) : env.PEERS.get(id, { locationHint });
  return stub as unknown as PeerRpc;
}

/** Like peerStub, with the admin methods. */
export function peerAdminStub(env: Env, peerId: number): PeerAdminRpc {
  return env.PEERS.get(env.PEERS.idFromName(peerName(peerId))) as unknown as PeerAdminRpc;
}

export function schedulerStub(env: Env): DurableObjectStub<SchedulerObject> {
  return env.SCHEDULER.get(env.SCHEDULER.idFromName(schedulerName));
}
