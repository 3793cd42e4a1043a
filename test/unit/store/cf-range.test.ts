import { describe, expect, it } from 'vitest';
import { encodeKey } from '../../../src/percolator/key-codec';
import { bootstrapPeer } from '../../../src/store/bootstrap';
import { MemoryPeerStorage } from '../../../src/store/memory-peer-storage';
import { seedFrom } from '../../../src/store/peer-seed';
import type { RegionMeta } from '../../../src/store/region';
import { decodeSnapshotData, generateSnapshot } from '../../../src/store/snapshot';
import { utf8 } from '../../../src/util/bytes';

// A region [a, "abcdefgh\x01"): the 8-byte user key "abcdefgh" is inside it,
// "abcdefghi" and "b" are not. Percolator's encoding of "abcdefgh" is
// "abcdefgh\xff...", which sorts after the raw end bound: scanning the
// encoded column families with raw bounds would lose it.
const inside = 'abcdefgh';
const region: RegionMeta = {
  id: 7,
  startKey: utf8('a'),
  endKey: new Uint8Array([...utf8(inside), 1]),
  epoch: { version: 2, confVer: 1 },
  peers: [{ id: 71, storeId: 1 }],
};

function storageWithVersions(): MemoryPeerStorage {
  const storage = new MemoryPeerStorage();
  bootstrapPeer(storage, region.peers[0]!, region);
  storage.write((batch) => {
    for (const key of [inside, 'abcdefghi', 'b']) {
      batch.put('write', encodeKey(utf8(key), 10n), utf8(`w-${key}`));
      batch.put('default', encodeKey(utf8(key), 9n), utf8(`d-${key}`));
    }
  });
  return storage;
}

describe('region data in encoded column families', () => {
  it('a snapshot carries exactly the region user keys of default and write', () => {
    const data = decodeSnapshotData(generateSnapshot(storageWithVersions()).data);
    expect(data.rows.write.map((p) => p.value)).toEqual([utf8(`w-${inside}`)]);
    expect(data.rows.default.map((p) => p.value)).toEqual([utf8(`d-${inside}`)]);
  });

  it('a seed for a new peer carries exactly the region user keys', () => {
    const storage = storageWithVersions();
    storage.write((batch) => batch.setRegion({ ...region, peers: [...region.peers, { id: 72, storeId: 2 }] }));
    const seed = seedFrom(storage, 72);
    expect(seed?.rows.map((r) => r.value)).toEqual([utf8(`d-${inside}`), utf8(`w-${inside}`)]);
  });
});
