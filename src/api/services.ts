// What the HTTP edge needs from the rest of regionkv. The routes see only
// these interfaces, so they run in Node tests against in-memory fakes and in
// the worker against the Raft regions.

import type { AdminApi } from './admin-service';
import type { TxnStore } from './txn-store';

/**
 * The raw (non-transactional) key space: linearizable single-key operations.
 * Any method may throw UnavailableError (errors.ts) when a region has no
 * reachable leader after retries; the edge answers 503 with Retry-After.
 */
export interface RawStore {
  /** The value stored under key, or undefined when there is none. */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  /** Removes key; succeeds when it was absent too. */
  delete(key: Uint8Array): Promise<void>;
  /** [start, end), end empty = to the end; at most limit pairs, in key order; more = true if pairs remain. */
  scan(
    start: Uint8Array,
    end: Uint8Array,
    limit: number,
  ): Promise<{ pairs: { key: Uint8Array; value: Uint8Array }[]; more: boolean }>;
}

export interface Services {
  raw: RawStore;
  /** Cluster view and operations; absent in Node tests that exercise the data routes only. */
  admin?: AdminApi;
  /**
   * The transactional key space (the worker builds it over the Raft regions,
   * src/api/routed-txn-regions.ts). Optional so that Node tests of other
   * routes can leave it out: without it the /v1/kv and /v1/txn routes answer
   * 503 UNAVAILABLE saying so.
   */
  txn?: TxnStore;
}
