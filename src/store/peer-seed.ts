// How a peer added by a conf change gets its first state. Until region
// snapshots exist (the snapshot issue, src/store/snapshot.ts), the leader's
// Raft cannot send one, and a new peer's empty log cannot take appends from
// the region's log start (raftInitLogIndex) either: data moved in by a split,
// and the region meta at that index, are not in the log. So the new peer,
// which keeps no Raft state while uninitialized (it cannot campaign), asks
// the peer that messaged it for a seed: that peer's region meta, data and
// (index, term) at its applied index. Every applied state is committed, so
// the seed is a valid Raft snapshot taken outside Raft; the new peer's log
// starts right after it and the leader's probe fills in the rest.
// Once region snapshots land, Raft's own MsgSnapshot replaces this.

import { assert } from '../util/assert';
import { cfRange } from './cf-range';
import { type ColumnFamily, type PeerStorage, columnFamilies } from './peer-storage';
import { type PeerMeta, type RegionMeta, assertValidRegion, findPeer } from './region';

export interface SeedRow {
  cf: ColumnFamily;
  key: Uint8Array;
  value: Uint8Array;
}

export interface PeerSeed {
  region: RegionMeta;
  /** The applied index the seed was taken at, and the term of that entry. */
  index: number;
  term: number;
  rows: SeedRow[];
}

/**
 * Bounds a seed to what one RPC carries comfortably. A region with more rows
 * waits for the snapshot issue's chunked snapshots (seedFrom answers undefined).
 */
export const seedRowsMax = 20_000;

/** A seed of `storage` for peer `forPeer`, or undefined if this storage cannot give one. */
export function seedFrom(storage: PeerStorage, forPeer: number): PeerSeed | undefined {
  const region = storage.region();
  if (region === undefined || findPeer(region, forPeer) === undefined) return undefined;
  const index = storage.applyState().appliedIndex;
  const term = storage.term(index);
  const rows: SeedRow[] = [];
  for (const cf of columnFamilies) {
    const range = cfRange(cf, region.startKey, region.endKey);
    const found = storage.scan(cf, { start: range.start, end: range.end, limit: seedRowsMax + 1 - rows.length });
    for (const p of found) rows.push({ cf, key: p.key, value: p.value });
    if (rows.length > seedRowsMax) return undefined;
  }
  return { region, index, term, rows };
}

/**
 * Initializes an empty storage as `peer` from a seed (or from a split, which
 * is a seed at raftInitLogIndex). The log starts after (index, term), which
 * counts as committed and applied, exactly like bootstrap's synthetic snapshot.
 */
export function initializeFromSeed(storage: PeerStorage, peer: PeerMeta, seed: PeerSeed): void {
  assertValidRegion(seed.region);
  assert(findPeer(seed.region, peer.id)?.storeId === peer.storeId, `peer ${peer.id} is not in the seed's region`);
  assert(storage.region() === undefined, `peer ${peer.id} is already initialized`);
  assert(Number.isSafeInteger(seed.index) && seed.index > 0 && seed.term > 0, 'seed position must be positive');
  storage.write((batch) => {
    batch.setPeerId(peer.id);
    batch.setRegion(seed.region);
    batch.setHardState({ term: seed.term, vote: 0, commit: seed.index });
    batch.setApplyState({ appliedIndex: seed.index, truncatedState: { index: seed.index, term: seed.term } });
    for (const row of seed.rows) batch.put(row.cf, row.key, row.value);
  });
  assert(storage.lastIndex() === seed.index, 'a seeded log starts right after the seed');
}
