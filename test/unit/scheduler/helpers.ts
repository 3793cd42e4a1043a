import type { PeerMeta, RegionMeta } from '../../../src/store/region';
import { utf8 } from '../../../src/util/bytes';

/** Peers 10*id+1.. on stores 1..3, so peer ids never collide across test regions. */
export function peersOf(regionId: number, stores: number[] = [1, 2, 3]): PeerMeta[] {
  return stores.map((storeId, i) => ({ id: regionId * 10 + i + 1, storeId }));
}

/** A region over [start, end) with text keys; '' is the open end on either side. */
export function region(
  id: number,
  start: string,
  end: string,
  version = 1,
  confVer = 1,
  peers: PeerMeta[] = peersOf(id),
): RegionMeta {
  return { id, startKey: utf8(start), endKey: utf8(end), epoch: { version, confVer }, peers };
}
