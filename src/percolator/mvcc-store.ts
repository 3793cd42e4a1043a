// What MVCC needs from a region's storage, as structural types: PeerStorage
// satisfies MvccStore and its WriteBatch satisfies MvccWriter, so a peer runs
// these commands at apply time inside its storage transaction, and tests run
// them over MemoryPeerStorage.

import type { KvPair, ScanOptions } from '../store/peer-storage';
import { assert } from '../util/assert';

/** Percolator's column families (Percolator §2.2: data, lock and write columns). */
export type TxnColumnFamily = 'default' | 'lock' | 'write';

export interface MvccStore {
  get(cf: TxnColumnFamily, key: Uint8Array): Uint8Array | undefined;
  scan(cf: TxnColumnFamily, options: ScanOptions): KvPair[];
}

export interface MvccWriter {
  put(cf: TxnColumnFamily, key: Uint8Array, value: Uint8Array): void;
  delete(cf: TxnColumnFamily, key: Uint8Array): void;
}

/**
 * Bounds on the work one command may do. The row bounds are invariants, not
 * tuning: GC keeps the versions of a key few, so a walk that goes past them
 * means something is broken and the replica stops (an assertion).
 */
export interface MvccLimits {
  /** Rows fetched per storage scan while walking one key's write records. */
  versionPageRows: number;
  /** Write records of one key that a single walk may pass over. */
  versionWalkRowsMax: number;
  /** User keys a transactional scan may examine in one call (deleted keys count too). */
  scanKeysExaminedMax: number;
}

export const defaultMvccLimits: MvccLimits = {
  versionPageRows: 16,
  versionWalkRowsMax: 1_000_000,
  scanKeysExaminedMax: 10_000,
};

export function assertMvccLimits(limits: MvccLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    assert(Number.isSafeInteger(value) && value >= 1, `mvcc limit ${name} must be a positive integer, got ${String(value)}`);
  }
}
