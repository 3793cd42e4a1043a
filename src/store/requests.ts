// What the worker asks of a region peer, and what comes back. Expected
// failures are values of RegionError, not exceptions: Durable Object RPC
// drops custom fields of thrown errors, and the worker must branch on them.

import type { PrewriteAndCommit, TxnCommand, TxnCommandOutcome, TxnRead, TxnReadOutcome } from '../percolator';
import type { PeerMeta, RegionEpoch, RegionMeta } from './region';

/** Addresses a request to one peer of one region, under the epoch the caller knows. */
export interface RequestHeader {
  regionId: number;
  peerId: number;
  epoch: RegionEpoch;
}

export type RegionError =
  /** This peer is not the leader; `leader` is its best guess, if it has one. */
  | { type: 'NotLeader'; regionId: number; leader?: PeerMeta }
  /** The caller's epoch is stale: the region split or changed members. */
  | { type: 'EpochNotMatch'; currentRegions: RegionMeta[] }
  /** The key is outside this region's range. */
  | { type: 'KeyNotInRegion'; key: Uint8Array; region: RegionMeta }
  /** This object holds no peer of that region (never created, or removed). */
  | { type: 'RegionNotFound'; regionId: number }
  /** The proposal's log entry was overwritten by a newer leader; it did not take effect. */
  | { type: 'StaleCommand' };

export type Result<T> = { ok: true; value: T } | { ok: false; error: RegionError };

/**
 * A lower bound for a new leader's max read ts (see Peer.maxReadTs): `ts`
 * is a TSO timestamp the caller fetched after this peer answered
 * MaxTsUnknown in `term`, so every read an earlier leader served was at a
 * smaller ts.
 */
export interface MaxTsFloor {
  term: number;
  ts: bigint;
}

export type WriteRequest =
  | { type: 'RawPut'; key: Uint8Array; value: Uint8Array }
  | { type: 'RawDelete'; key: Uint8Array }
  /**
   * One Percolator command, executed at apply time (src/percolator). Alone in
   * its proposal, so its outcome is the proposal's. `maxTsFloor` only
   * matters to a PrewriteAndCommit and is not written to the log.
   */
  | { type: 'Txn'; command: TxnCommand; maxTsFloor?: MaxTsFloor };

export type ReadRequest =
  | { type: 'RawGet'; key: Uint8Array }
  /** Keys in [start, end) — end empty means to the region's end — at most `limit`. */
  | { type: 'RawScan'; start: Uint8Array; end: Uint8Array; limit: number }
  /**
   * A Percolator snapshot read. A TxnScan runs over [start, end) clamped to
   * the region; `start` must lie in the region (a reverse scan's caller
   * clamps start to the region it aims at).
   */
  | { type: 'Txn'; read: TxnRead };

export type ReadResponse =
  | { type: 'RawGet'; value: Uint8Array | undefined }
  /** `more` is true when the limit cut the scan short within this region. */
  | { type: 'RawScan'; pairs: { key: Uint8Array; value: Uint8Array }[]; more: boolean }
  /** `region`: the region the read ran in (a scan covered its part of the range). */
  | { type: 'TxnRead'; outcome: TxnReadOutcome; region: RegionMeta };

export type WriteResponse =
  | { type: 'Written' }
  | { type: 'TxnOutcome'; outcome: TxnCommandOutcome }
  /**
   * The command's first key is in the region but others are not (the region
   * split since the caller grouped them): nothing was proposed; regroup.
   */
  | { type: 'TxnSpansRegions'; region: RegionMeta }
  /**
   * A one-phase commit refused before proposing, nothing written: this
   * leader does not know the reads earlier leaders served (see
   * Peer.maxReadTs). Retry with a fresh TSO commitTs and maxTsFloor {term, ts: commitTs}.
   */
  | { type: 'MaxTsUnknown'; term: number }
  /** A one-phase commit refused before proposing: commitTs <= a read ts served here. Retry with a fresh commitTs. */
  | { type: 'CommitTsTooOld'; maxReadTs: bigint };

/** The 1PC command a write request carries, if it carries one. */
export function onePhaseOf(request: WriteRequest): PrewriteAndCommit | undefined {
  return request.type === 'Txn' && request.command.type === 'PrewriteAndCommit' ? request.command : undefined;
}

export function regionError<T>(error: RegionError): Result<T> {
  return { ok: false, error };
}

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}
