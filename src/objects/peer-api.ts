// What objects and the worker call on each other over RPC, typed on its own
// so that callers compile independently of the classes (PeerObject
// `implements PeerRpc`), and the one place that turns a name into a stub.

import type { Env } from '../api/env';
import type { RaftEnvelope } from '../store/peer';
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

export function schedulerStub(env: Env): DurableObjectStub<SchedulerObject> {
  return env.SCHEDULER.get(env.SCHEDULER.idFromName(schedulerName));
}
