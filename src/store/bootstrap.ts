// A peer's first durable state when its region is created: the log begins
// after a synthetic snapshot at raftInitLogIndex, already committed and
// applied, with the region's peers as the voters (TiKV's bootstrap).

import { assert } from '../util/assert';
import { type PeerStorage, raftInitLogIndex, raftInitLogTerm } from './peer-storage';
import { type PeerMeta, type RegionMeta, assertValidRegion, findPeer } from './region';

export type BootstrapOutcome = 'Bootstrapped' | 'AlreadyBootstrapped';

/** Idempotent: bootstrapping again with the same region is a no-op. */
export function bootstrapPeer(storage: PeerStorage, peer: PeerMeta, region: RegionMeta): BootstrapOutcome {
  assertValidRegion(region);
  assert(findPeer(region, peer.id) !== undefined, `peer ${peer.id} is not in region ${region.id}`);
  const existing = storage.region();
  if (existing !== undefined) {
    assert(
      existing.id === region.id && storage.peerId() === peer.id,
      `storage already holds peer ${storage.peerId()} of region ${existing.id}`,
    );
    return 'AlreadyBootstrapped';
  }
  storage.write((batch) => {
    batch.setPeerId(peer.id);
    batch.setRegion(region);
    batch.setHardState({ term: raftInitLogTerm, vote: 0, commit: raftInitLogIndex });
    batch.setApplyState({
      appliedIndex: raftInitLogIndex,
      truncatedState: { index: raftInitLogIndex, term: raftInitLogTerm },
    });
  });
  return 'Bootstrapped';
}
