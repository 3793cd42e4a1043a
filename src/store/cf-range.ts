// Where the rows of a user-key range live in each column family. Every
// range operation on a region's data (split, snapshot, seeding a new peer)
// goes through here, so none of them can mix raw and encoded bounds.

import { userKeyRange } from '../percolator/key-codec';
import type { ColumnFamily } from './peer-storage';

/**
 * The stored key range of `cf` holding the user keys in [start, end) (end
 * empty: unbounded). `raw` and `lock` are keyed by the user key itself;
 * `default` and `write` by encodeKey(userKey, ts), whose memcomparable
 * prefix sorts exactly as the user keys do and is no prefix of another
 * encoding, so every version of a key in [start, end) lies in
 * [encodeBytes(start), encodeBytes(end)) (key-codec.ts, userKeyRange).
 */
export function cfRange(cf: ColumnFamily, start: Uint8Array, end: Uint8Array): { start: Uint8Array; end: Uint8Array } {
  if (cf === 'raw' || cf === 'lock') return { start, end };
  // The empty start key (the start of the key space) encodes to the
  // smallest encoding of all, so it needs no special case.
  return userKeyRange(start, end);
}
