// What the transactional routes (API.md, "Transactional key space") need: a
// snapshot-isolated store driven by timestamps. The routes see only this
// interface, so they run in Node tests against the coordinator over
// in-memory regions, and in the worker against the Raft regions.

import type { KvPair } from '../store/peer-storage';

/** One write of a transaction, as API.md's commit body names them. */
export type TxnMutation =
  | { op: 'put'; key: Uint8Array; value: Uint8Array }
  | { op: 'delete'; key: Uint8Array }
  /** Writes nothing; the commit fails if the key has a value at startTs or gets one before the commit. */
  | { op: 'assert_not_exists'; key: Uint8Array };

/**
 * Snapshot isolation over the whole key space. Timestamps are TSO
 * timestamps (u64 as bigint). Failures a client can act on are thrown as the
 * ApiErrors of errors.ts:
 * - WriteConflictError (409 WRITE_CONFLICT {key, conflictTs}): another
 *   transaction committed one of our keys after startTs;
 * - KeyLockedError (409 KEY_LOCKED {key, lockTs}): a lock stayed in the way
 *   longer than the store waits;
 * - TxnAbortedError (409 TXN_ABORTED): the transaction was rolled back, or an
 *   assert_not_exists found a value;
 * - UnavailableError (503): a region had no reachable leader after retries.
 */
export interface TxnStore {
  /** A fresh startTs from the TSO. */
  begin(): Promise<bigint>;
  /** The values visible at startTs, in the order asked; null for an absent key. */
  get(startTs: bigint, keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]>;
  /**
   * Up to `limit` pairs visible at startTs in [start, end) (end empty: to the
   * end of the key space), in key order, or newest key first when reverse.
   * more = pairs remain after the last one returned.
   */
  scan(
    startTs: bigint,
    start: Uint8Array,
    end: Uint8Array,
    limit: number,
    reverse: boolean,
  ): Promise<{ pairs: KvPair[]; more: boolean }>;
  /**
   * Commits the mutations (distinct keys) as one transaction that read at
   * startTs; answers its commitTs, or null when there is nothing to write.
   * Repeating a commit with the same startTs and mutations is safe: it
   * answers the same commitTs if the first try committed, TXN_ABORTED if it
   * was rolled back.
   */
  commit(startTs: bigint, mutations: readonly TxnMutation[]): Promise<bigint | null>;
  /** The value of key at a fresh timestamp, or null. */
  getLatest(key: Uint8Array): Promise<Uint8Array | null>;
  /** Writes key in a transaction of its own; answers the commitTs. */
  put(key: Uint8Array, value: Uint8Array): Promise<bigint>;
  /** Deletes key (also when absent) in a transaction of its own; answers the commitTs. */
  delete(key: Uint8Array): Promise<bigint>;
}
