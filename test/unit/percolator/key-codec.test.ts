import { describe, expect, it } from 'vitest';
import {
  decodeBytes,
  decodeKey,
  encodeBytes,
  encodeKey,
  nextKey,
  userKeyRange,
  versionRange,
} from '../../../src/percolator/key-codec';
import { tsMax } from '../../../src/percolator/timestamp';
import { AssertionError } from '../../../src/util/assert';
import { compareBytes } from '../../../src/util/bytes';
import { prng } from './harness';

const b = (...xs: number[]) => Uint8Array.from(xs);

function randomKey(rand: () => number): Uint8Array {
  // Short keys over a tiny alphabet, so prefixes, equal keys and zero bytes are common.
  const len = Math.floor(rand() * 20);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = [0, 1, 0xfe, 0xff, 0x61][Math.floor(rand() * 5)]!;
  return out;
}

function randomTs(rand: () => number): bigint {
  const pick = rand();
  if (pick < 0.1) return 0n;
  if (pick < 0.2) return tsMax;
  return (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32));
}

describe('memcomparable bytes (TiKV encode_bytes)', () => {
  it('matches the known vectors', () => {
    expect(encodeBytes(b())).toEqual(b(0, 0, 0, 0, 0, 0, 0, 0, 0xf7));
    expect(encodeBytes(b(1, 2, 3))).toEqual(b(1, 2, 3, 0, 0, 0, 0, 0, 0xfa));
    expect(encodeBytes(b(1, 2, 3, 0))).toEqual(b(1, 2, 3, 0, 0, 0, 0, 0, 0xfb));
    expect(encodeBytes(b(1, 2, 3, 4, 5, 6, 7))).toEqual(b(1, 2, 3, 4, 5, 6, 7, 0, 0xfe));
    expect(encodeBytes(b(1, 2, 3, 4, 5, 6, 7, 8))).toEqual(
      b(1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0xf7),
    );
    expect(encodeBytes(b(1, 2, 3, 4, 5, 6, 7, 8, 9))).toEqual(
      b(1, 2, 3, 4, 5, 6, 7, 8, 0xff, 9, 0, 0, 0, 0, 0, 0, 0, 0xf8),
    );
  });

  it('round trips and reports where the encoding ends', () => {
    const rand = prng(1);
    for (let i = 0; i < 500; i++) {
      const key = randomKey(rand);
      const enc = encodeBytes(key);
      const padded = new Uint8Array(enc.length + 3);
      padded.set(enc, 0);
      expect(decodeBytes(padded)).toEqual({ key, end: enc.length });
    }
  });

  it('orders like the keys, and no encoding is a prefix of another', () => {
    const rand = prng(2);
    for (let i = 0; i < 3000; i++) {
      const a = randomKey(rand);
      const c = randomKey(rand);
      const ea = encodeBytes(a);
      const ec = encodeBytes(c);
      expect(Math.sign(compareBytes(ea, ec))).toBe(Math.sign(compareBytes(a, c)));
      if (compareBytes(a, c) !== 0) {
        const n = Math.min(ea.length, ec.length);
        expect(compareBytes(ea.subarray(0, n), ec.subarray(0, n))).not.toBe(0);
      }
    }
  });

  it('rejects a bad marker, non-zero padding and a missing terminator', () => {
    expect(() => decodeBytes(b(1, 2, 3, 0, 0, 0, 0, 0, 0xf6))).toThrow(AssertionError); // padding 9
    expect(() => decodeBytes(b(1, 2, 3, 0, 0, 0, 0, 0, 0xff))).toThrow(AssertionError); // never ends
    expect(() => decodeBytes(b(1, 2, 3, 0, 0, 0, 0, 7, 0xfa))).toThrow(AssertionError); // dirty padding
    expect(() => decodeBytes(b(1, 2, 3))).toThrow(AssertionError);
  });
});

describe('MVCC keys', () => {
  it('round trips (key, ts) at the u64 edges', () => {
    for (const ts of [0n, 1n, 42n, 1n << 63n, tsMax - 1n, tsMax]) {
      for (const key of [b(), b(0), b(1, 2, 3, 4, 5, 6, 7, 8), b(0xff, 0xff)]) {
        expect(decodeKey(encodeKey(key, ts))).toEqual({ key, ts });
      }
    }
  });

  it('sorts by user key ascending, then ts descending (newest first)', () => {
    const rand = prng(3);
    const items = Array.from({ length: 400 }, () => ({ key: randomKey(rand), ts: randomTs(rand) }));
    const byEncoding = [...items].sort((x, y) => compareBytes(encodeKey(x.key, x.ts), encodeKey(y.key, y.ts)));
    const byMeaning = [...items].sort((x, y) => compareBytes(x.key, y.key) || (x.ts > y.ts ? -1 : x.ts < y.ts ? 1 : 0));
    expect(byEncoding).toEqual(byMeaning);
  });

  it('keeps all versions of a key inside its version and user-key ranges', () => {
    const rand = prng(4);
    for (let i = 0; i < 1000; i++) {
      const key = randomKey(rand);
      const other = randomKey(rand);
      const ts = randomTs(rand);
      const enc = encodeKey(other, ts);
      const all = versionRange(key, tsMax, 0n);
      const inside = compareBytes(enc, all.start) >= 0 && compareBytes(enc, all.end) < 0;
      expect(inside).toBe(compareBytes(key, other) === 0);
      const users = userKeyRange(key, nextKey(key));
      const inUsers = compareBytes(enc, users.start) >= 0 && compareBytes(enc, users.end) < 0;
      expect(inUsers).toBe(compareBytes(key, other) === 0);
    }
  });

  it('a version range holds exactly the timestamps asked for', () => {
    const key = b(7, 7);
    const r = versionRange(key, 20n, 10n);
    for (const ts of [9n, 10n, 15n, 20n, 21n]) {
      const enc = encodeKey(key, ts);
      expect(compareBytes(enc, r.start) >= 0 && compareBytes(enc, r.end) < 0).toBe(ts >= 10n && ts <= 20n);
    }
  });

  it('refuses timestamps outside u64 and malformed keys', () => {
    expect(() => encodeKey(b(1), -1n)).toThrow(AssertionError);
    expect(() => encodeKey(b(1), tsMax + 1n)).toThrow(AssertionError);
    const enc = encodeKey(b(1), 5n);
    expect(() => decodeKey(enc.subarray(0, enc.length - 1))).toThrow(AssertionError);
    expect(() => decodeKey(nextKey(enc))).toThrow(AssertionError);
  });
});
