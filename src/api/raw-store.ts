// The raw key space over regions: single-key operations go to the leader of
// the key's region; a scan walks region after region until it has enough.

import type { KvPair } from '../store/peer-storage';
import { scanLimitMax } from '../store/peer';
import { assert } from '../util/assert';
import { compareBytes } from '../util/bytes';
import type { RegionRouter } from './region-router';
import type { RawStore } from './services';

export class RoutedRawStore implements RawStore {
  constructor(private readonly router: RegionRouter) {}

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const { value } = await this.router.onRegionOf(key, (peer, header) =>
      peer.read(header, { type: 'RawGet', key }),
    );
    assert(value.type === 'RawGet', `expected a RawGet answer, got ${value.type}`);
    return value.value;
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.router.onRegionOf(key, (peer, header) => peer.write(header, [{ type: 'RawPut', key, value }]));
  }

  async delete(key: Uint8Array): Promise<void> {
    await this.router.onRegionOf(key, (peer, header) => peer.write(header, [{ type: 'RawDelete', key }]));
  }

  async scan(start: Uint8Array, end: Uint8Array, limit: number): Promise<{ pairs: KvPair[]; more: boolean }> {
    assert(limit >= 1 && limit <= scanLimitMax, `scan limit ${limit} out of range`);
    // Ask for one pair more than wanted: finding it is how we know there is more.
    const wanted = limit + 1;
    const pairs: KvPair[] = [];
    let cursor = start;
    for (;;) {
      const { value, region } = await this.router.onRegionOf(cursor, (peer, header) =>
        peer.read(header, { type: 'RawScan', start: cursor, end, limit: wanted - pairs.length }),
      );
      assert(value.type === 'RawScan', `expected a RawScan answer, got ${value.type}`);
      pairs.push(...value.pairs);
      const rangeDone = end.length > 0 && region.endKey.length > 0 && compareBytes(region.endKey, end) >= 0;
      if (pairs.length >= wanted || value.more || region.endKey.length === 0 || rangeDone) break;
      cursor = region.endKey;
    }
    return { pairs: pairs.slice(0, limit), more: pairs.length > limit };
  }
}
