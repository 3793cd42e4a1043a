// Timestamps come from the TSO as `physicalMs * 2^18 + logical` (DESIGN.md,
// "Scheduler"). MVCC mostly just orders them; only lock TTLs look at the
// physical part. They are bigint everywhere and must fit a u64, because the
// key encoding spends exactly 8 bytes on them.

import { assert } from '../util/assert';

export const tsLogicalBits = 18n;
export const tsMax: bigint = (1n << 64n) - 1n;

export function isTimestamp(ts: unknown): ts is bigint {
  return typeof ts === 'bigint' && ts >= 0n && ts <= tsMax;
}

export function assertTimestamp(ts: unknown, what: string): asserts ts is bigint {
  assert(isTimestamp(ts), `${what} must be a u64 bigint timestamp, got ${String(ts)}`);
}

/** Milliseconds of the TSO's clock; < 2^46, so always a safe integer. */
export function physicalMs(ts: bigint): number {
  assertTimestamp(ts, 'ts');
  return Number(ts >> tsLogicalBits);
}

export function composeTs(physical: number, logical: number): bigint {
  assert(Number.isSafeInteger(physical) && physical >= 0 && physical < 2 ** 46, `bad physical ms ${physical}`);
  assert(Number.isSafeInteger(logical) && logical >= 0 && logical < 2 ** 18, `bad logical ${logical}`);
  return (BigInt(physical) << tsLogicalBits) | BigInt(logical);
}
