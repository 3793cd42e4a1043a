// What the worker asks of a region peer, and what comes back. Expected
// failures are values of RegionError, not exceptions: Durable Object RPC
// drops custom fields of thrown errors, and the worker must branch on them.

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

export type WriteRequest =
  | { type: 'RawPut'; key: Uint8Array; value: Uint8Array }
  | { type: 'RawDelete'; key: Uint8Array };

export type ReadRequest =
  | { type: 'RawGet'; key: Uint8Array }
  /** Keys in [start, end) — end empty means to the region's end — at most `limit`. */
  | { type: 'RawScan'; start: Uint8Array; end: Uint8Array; limit: number };

export type ReadResponse =
  | { type: 'RawGet'; value: Uint8Array | undefined }
  /** `more` is true when the limit cut the scan short within this region. */
  | { type: 'RawScan'; pairs: { key: Uint8Array; value: Uint8Array }[]; more: boolean };

export type WriteResponse = { type: 'Written' };

export function regionError<T>(error: RegionError): Result<T> {
  return { ok: false, error };
}

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}
