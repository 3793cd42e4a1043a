import { describe, expect, it } from 'vitest';
import { type Lock, type Write, decodeLock, decodeWrite, encodeLock, encodeWrite } from '../../../src/percolator/records';
import { tsMax } from '../../../src/percolator/timestamp';
import { AssertionError } from '../../../src/util/assert';
import { prng } from './harness';

describe('lock records', () => {
  it('round trip every kind, with and without minCommitTs', () => {
    const rand = prng(5);
    for (let i = 0; i < 300; i++) {
      const primary = Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256));
      const lock: Lock = {
        primary,
        startTs: BigInt(Math.floor(rand() * 2 ** 50)),
        ttl: Math.floor(rand() * 100_000),
        kind: (['put', 'delete', 'lock'] as const)[i % 3]!,
      };
      if (rand() < 0.5) lock.minCommitTs = lock.startTs + 1n;
      expect(decodeLock(encodeLock(lock))).toEqual(lock);
    }
    const edge: Lock = { primary: new Uint8Array(0), startTs: tsMax, ttl: Number.MAX_SAFE_INTEGER, kind: 'put', minCommitTs: 0n };
    expect(decodeLock(encodeLock(edge))).toEqual(edge);
  });

  it('is compact', () => {
    expect(encodeLock({ primary: Uint8Array.of(1, 2), startTs: 1n, ttl: 3000, kind: 'put' }).length).toBe(22 + 2);
  });

  it('refuses bad locks on encode', () => {
    const good: Lock = { primary: Uint8Array.of(1), startTs: 5n, ttl: 10, kind: 'put' };
    expect(() => encodeLock({ ...good, ttl: -1 })).toThrow(AssertionError);
    expect(() => encodeLock({ ...good, ttl: 1.5 })).toThrow(AssertionError);
    expect(() => encodeLock({ ...good, startTs: -1n })).toThrow(AssertionError);
    expect(() => encodeLock({ ...good, minCommitTs: tsMax + 1n })).toThrow(AssertionError);
    expect(() => encodeLock({ ...good, kind: 'rollback' as Lock['kind'] })).toThrow(AssertionError);
  });

  it('refuses malformed bytes on decode', () => {
    const bytes = encodeLock({ primary: Uint8Array.of(9, 9), startTs: 5n, ttl: 10, kind: 'delete', minCommitTs: 6n });
    expect(() => decodeLock(bytes.subarray(0, bytes.length - 1))).toThrow(AssertionError);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(() => decodeLock(longer)).toThrow(AssertionError);
    const badKind = bytes.slice();
    badKind[0] = 0x52; // 'R' is a write kind, never a lock kind
    expect(() => decodeLock(badKind)).toThrow(AssertionError);
    const badFlags = bytes.slice();
    badFlags[17] = 0x03;
    expect(() => decodeLock(badFlags)).toThrow(AssertionError);
    const hugeTtl = bytes.slice();
    hugeTtl[9] = 0xff; // ttl above 2^53
    expect(() => decodeLock(hugeTtl)).toThrow(AssertionError);
    expect(() => decodeLock(new Uint8Array(5))).toThrow(AssertionError);
  });
});

describe('write records', () => {
  it('round trip every kind', () => {
    for (const kind of ['put', 'delete', 'rollback', 'lock'] as const) {
      for (const startTs of [0n, 77n, tsMax]) {
        const w: Write = { startTs, kind };
        const bytes = encodeWrite(w);
        expect(bytes.length).toBe(9);
        expect(decodeWrite(bytes)).toEqual(w);
      }
    }
  });

  it('refuses bad records', () => {
    expect(() => encodeWrite({ startTs: 1n, kind: 'nope' as Write['kind'] })).toThrow(AssertionError);
    expect(() => encodeWrite({ startTs: -1n, kind: 'put' })).toThrow(AssertionError);
    const bytes = encodeWrite({ startTs: 3n, kind: 'put' });
    expect(() => decodeWrite(bytes.subarray(0, 8))).toThrow(AssertionError);
    const bad = bytes.slice();
    bad[0] = 0x00;
    expect(() => decodeWrite(bad)).toThrow(AssertionError);
  });
});
