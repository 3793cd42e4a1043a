import type { PeerObject } from "../objects/peer-object";
import type { SchedulerObject } from "../objects/scheduler-object";

/** The bindings the worker and its Durable Objects receive (see wrangler.toml). */
export interface Env {
  /** One PeerObject per region peer, named `peer:<peerId>`. */
  PEERS: DurableObjectNamespace<PeerObject>;
  /** The singleton SchedulerObject, named `scheduler`. */
  SCHEDULER: DurableObjectNamespace<SchedulerObject>;
  /** Raft tick interval in milliseconds, as a decimal string (vars are strings). */
  TICK_MS: string;
  /** The cluster's stores: comma-separated ids, each optionally `id:locationHint`; default "1,2,3,4,5". */
  STORES?: string;
  /** Replicas per region, as a decimal string; default "3". */
  REPLICAS?: string;
  /**
   * "on" lets tests make peers drop, delay, duplicate and partition their
   * messages (PeerObject.setFaults). Set only in the test configuration.
   */
  FAULT_INJECTION?: string;
  /**
   * Log GC: a region's leader compacts its log once more than this many
   * applied entries are behind the truncated index; decimal, default 1000.
   * Tests set it small to make followers catch up by snapshot.
   */
  RAFT_LOG_GC_COUNT_LIMIT?: string;
  /** Bearer token for the data routes; a secret when deployed, `.dev.vars` locally. */
  API_TOKEN?: string;
  /** Bearer token for /v1/admin/*; a secret when deployed, `.dev.vars` locally. */
  ADMIN_TOKEN?: string;
}
