// MVCC keys for the `default` and `write` column families: the user key in a
// memcomparable form, then the timestamp inverted, so that in plain byte
// order all versions of one key are adjacent and the newest comes first
// (Percolator §2.2 keeps versions per cell; this is TiKV's `Key::append_ts`).
//
// Why not the raw key followed by the timestamp: with "ab" and "abc", the
// bytes of ("ab", ts) would interleave with those of "abc" and a key that is
// a prefix of another would not sort first. TiKV's memcomparable encoding
// (codec::bytes::encode_bytes) cuts the key into groups of 8 bytes, pads the
// last one with zeros and ends each group with a marker byte: 0xFF when the
// key goes on, 0xFF - padding when it ends here. Then
//   * encodings compare exactly as the keys do, and
//   * no encoding is a prefix of another's,
// so appending anything (the timestamp) after it cannot change the order of
// two different keys.

import { assert } from '../util/assert';
import { assertTimestamp, tsMax } from './timestamp';
import { getU64, putU64 } from './u64';

const groupBytes = 8;
const encodedGroupBytes = groupBytes + 1;
const markerMore = 0xff;
const tsBytes = 8;

/** The memcomparable form of a user key (always a non-zero multiple of 9 bytes). */
export function encodeBytes(key: Uint8Array): Uint8Array {
  assert(key instanceof Uint8Array, 'key must be a Uint8Array');
  // A key of n bytes fills floor(n/8) groups and always leaves one partial
  // (possibly empty) last group, whose marker records how much was padding.
  const groups = Math.floor(key.length / groupBytes) + 1;
  const out = new Uint8Array(groups * encodedGroupBytes);
  for (let g = 0; g < groups; g++) {
    const from = g * groupBytes;
    const take = Math.min(groupBytes, key.length - from);
    out.set(key.subarray(from, from + take), g * encodedGroupBytes);
    const last = g === groups - 1;
    assert(last ? take < groupBytes : take === groupBytes, 'memcomparable group arithmetic');
    out[g * encodedGroupBytes + groupBytes] = last ? markerMore - (groupBytes - take) : markerMore;
  }
  return out;
}

/** Decodes a memcomparable key starting at `offset`; returns the key and where its encoding ends. */
export function decodeBytes(bytes: Uint8Array, offset = 0): { key: Uint8Array; end: number } {
  const maxGroups = Math.floor((bytes.length - offset) / encodedGroupBytes);
  const chunks: number[] = [];
  for (let g = 0; g < maxGroups; g++) {
    const at = offset + g * encodedGroupBytes;
    const marker = bytes[at + groupBytes]!;
    if (marker === markerMore) {
      for (let i = 0; i < groupBytes; i++) chunks.push(bytes[at + i]!);
      continue;
    }
    const padding = markerMore - marker;
    assert(padding >= 1 && padding <= groupBytes, `bad memcomparable marker 0x${marker.toString(16)} at ${at + groupBytes}`);
    const take = groupBytes - padding;
    for (let i = 0; i < groupBytes; i++) {
      if (i < take) chunks.push(bytes[at + i]!);
      else assert(bytes[at + i] === 0, `memcomparable padding must be zero at ${at + i}`);
    }
    return { key: Uint8Array.from(chunks), end: at + encodedGroupBytes };
  }
  assert(false, `memcomparable key at ${offset} is not terminated within ${bytes.length} bytes`);
}

/** (userKey, ts) -> bytes; newer timestamps sort first (ts is stored as u64::MAX - ts). */
export function encodeKey(userKey: Uint8Array, ts: bigint): Uint8Array {
  assertTimestamp(ts, 'key timestamp');
  const prefix = encodeBytes(userKey);
  const out = new Uint8Array(prefix.length + tsBytes);
  out.set(prefix, 0);
  putU64(out, prefix.length, tsMax - ts);
  return out;
}

export function decodeKey(encoded: Uint8Array): { key: Uint8Array; ts: bigint } {
  const { key, end } = decodeBytes(encoded);
  assert(encoded.length === end + tsBytes, `an MVCC key holds exactly ${tsBytes} timestamp bytes after the user key`);
  return { key, ts: tsMax - getU64(encoded, end) };
}

/** The smallest byte string greater than `bytes`: an exclusive bound just past it. */
export function nextKey(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes, 0);
  return out;
}

/**
 * Bounds of the encoded keys whose versions have commit (or start) ts in
 * [oldestTs, newestTs], newest first: [start, end) for a forward scan.
 */
export function versionRange(userKey: Uint8Array, newestTs: bigint, oldestTs: bigint): { start: Uint8Array; end: Uint8Array } {
  assert(oldestTs <= newestTs, `version range is empty: ${oldestTs} > ${newestTs}`);
  return { start: encodeKey(userKey, newestTs), end: nextKey(encodeKey(userKey, oldestTs)) };
}

/**
 * Bounds over encoded keys for the user keys in [start, end) (end empty: no
 * bound). Because no encoding is a prefix of another, every version of a key
 * k with start <= k < end lies in [encodeBytes(start), encodeBytes(end)).
 */
export function userKeyRange(start: Uint8Array, end: Uint8Array): { start: Uint8Array; end: Uint8Array } {
  return { start: encodeBytes(start), end: end.length === 0 ? new Uint8Array(0) : encodeBytes(end) };
}
