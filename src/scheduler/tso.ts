// The timestamp oracle (PD's TSO): the clock of every transaction.
//
// A timestamp is `physicalMs · 2^18 + logical`, a bigint: the physical part
// is a wall-clock millisecond, the logical part counts within it. Timestamps
// are handed out strictly increasing, and never twice, even across restarts
// of the scheduler. That rests on one rule (PD's "save the time window"):
// before handing out a timestamp whose physical part reaches the persisted
// window end, a new window end further ahead is made durable. After a crash
// the oracle resumes at the saved window end, so everything it may have
// handed out before lies below whatever it hands out next.
//
// The module is pure: the caller passes the clock in and persists the
// window. `allocate` answers `NeedPersist` rather than writing itself, and
// nothing of the allocation it declined has happened; the shell saves the
// window, reports it with `windowSaved`, and asks again (etcd's "persist,
// then act" split, as in `Ready`).

import { assert } from '../util/assert';

export const tsoConfig = {
  /**
   * How far ahead of the clock a saved window reaches. One durable write per
   * window; a restart skips what was left of it (PD uses 3 s as well).
   */
  tsoWindowMs: 3000,
  /**
   * The most timestamps one allocation may hand out. The worker's coalescer
   * caps its batches below this; a larger request is a bug in the caller.
   */
  tsoAllocCountMax: 1_000_000,
} as const;

/** Bits of the logical part: 2^18 timestamps per millisecond, as in TiKV. */
export const logicalBits = 18;
/** The number of logical values in one millisecond. */
export const logicalPerMs = 1 << logicalBits;
const logicalBitsBig = BigInt(logicalBits);
const logicalMaskBig = BigInt(logicalPerMs - 1);
/** Timestamps are unsigned 64-bit (8-byte BLOBs in SQLite, `u64` in TiKV). */
export const timestampLimit = 1n << 64n;

/** `physicalMs · 2^18 + logical`. */
export function composeTs(physicalMs: number, logical: number): bigint {
  assert(Number.isSafeInteger(physicalMs) && physicalMs >= 0, `invalid physical time ${physicalMs}`);
  assert(Number.isInteger(logical) && logical >= 0 && logical < logicalPerMs, `invalid logical ${logical}`);
  const ts = (BigInt(physicalMs) << logicalBitsBig) | BigInt(logical);
  assert(ts < timestampLimit, `timestamp ${ts} does not fit in 64 bits`);
  return ts;
}

/** The millisecond a timestamp belongs to. */
export function physicalOf(ts: bigint): number {
  assertTimestamp(ts);
  return Number(ts >> logicalBitsBig);
}

/** The counter within the millisecond. */
export function logicalOf(ts: bigint): number {
  assertTimestamp(ts);
  return Number(ts & logicalMaskBig);
}

export function assertTimestamp(ts: bigint): void {
  assert(typeof ts === 'bigint' && ts >= 0n && ts < timestampLimit, `invalid timestamp ${String(ts)}`);
}

/**
 * 8 bytes, big-endian: how timestamps are stored. SQLite's integers reach
 * JavaScript as doubles and lose precision above 2^53, and big-endian bytes
 * order like the numbers they encode (memcmp), so keys can carry them too.
 */
export function encodeTs(ts: bigint): Uint8Array {
  assertTimestamp(ts);
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, ts, false);
  return bytes;
}

export function decodeTs(bytes: Uint8Array): bigint {
  assert(bytes.length === 8, `a timestamp is 8 bytes, got ${bytes.length}`);
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, false);
}

/**
 * `count` consecutive timestamps: first, first + 1, …, first + count − 1.
 * Consecutive integers, so a batch may run over into the next millisecond
 * when the logical part of one is used up.
 */
export interface TimestampBatch {
  first: bigint;
  count: number;
}

export type TsoOutcome =
  | ({ type: 'Allocated' } & TimestampBatch)
  /**
   * Nothing was handed out: first make `windowEndMs` durable, call
   * `windowSaved(windowEndMs)`, then ask again with the same clock reading.
   */
  | { type: 'NeedPersist'; windowEndMs: number };

export class Tso {
  /**
   * The smallest timestamp that may be handed out next: every one below it
   * may have gone out, none at or above it has.
   * Invariant: next <= composeTs(windowEndMs, 0).
   */
  private next: bigint;
  /**
   * The window end last made durable, in ms: no timestamp handed out in this
   * life or an earlier one has a physical part at or above it. 0 before the
   * first save of a brand-new oracle.
   * Invariant: equals what the shell last saved.
   */
  private windowEndMs: number;

  /**
   * An oracle resuming from the saved window end (undefined for a brand-new
   * cluster). Everything below the window end may have been handed out by
   * an earlier life, so it starts at the window end itself.
   */
  constructor(savedWindowEndMs: number | undefined, private readonly windowMs: number = tsoConfig.tsoWindowMs) {
    assert(Number.isSafeInteger(windowMs) && windowMs >= 1, `invalid TSO window ${windowMs} ms`);
    const saved = savedWindowEndMs ?? 0;
    this.next = composeTs(saved, 0);
    this.windowEndMs = saved;
  }

  /** The saved window end, for tests and metrics. */
  get savedWindowEndMs(): number {
    return this.windowEndMs;
  }

  /**
   * `count` fresh timestamps, each greater than any handed out before and
   * not below `nowMs`'s millisecond, or the window end that must be saved
   * first. A clock that went backwards is ignored: the oracle carries on
   * from the last timestamp, so its timestamps never go back.
   */
  allocate(count: number, nowMs: number): TsoOutcome {
    assert(
      Number.isSafeInteger(count) && count >= 1 && count <= tsoConfig.tsoAllocCountMax,
      `timestamp count ${count} outside [1, ${tsoConfig.tsoAllocCountMax}]`,
    );
    assert(Number.isSafeInteger(nowMs) && nowMs >= 0, `invalid clock reading ${nowMs}`);
    const clock = composeTs(nowMs, 0);
    const first = this.next > clock ? this.next : clock;
    const end = first + BigInt(count);
    assert(end <= timestampLimit, 'timestamp space exhausted');
    if (end > composeTs(this.windowEndMs, 0)) {
      // The last timestamp's millisecond must lie below the window end, so
      // the new end covers the whole batch, however many milliseconds it
      // spans, and reaches a window ahead of it.
      const windowEndMs = physicalOf(end - 1n) + 1 + this.windowMs;
      assert(composeTs(windowEndMs, 0) >= end, 'the new window does not cover the batch');
      return { type: 'NeedPersist', windowEndMs };
    }
    this.next = end;
    assert(this.next <= composeTs(this.windowEndMs, 0), 'handed out a timestamp beyond the saved window');
    return { type: 'Allocated', first, count };
  }

  /** The shell made `windowEndMs` durable (after a `NeedPersist`). */
  windowSaved(windowEndMs: number): void {
    assert(
      Number.isSafeInteger(windowEndMs) && windowEndMs > this.windowEndMs,
      `the TSO window must only grow: ${this.windowEndMs} -> ${windowEndMs}`,
    );
    composeTs(windowEndMs, 0); // asserts the window end itself fits in 64 bits
    this.windowEndMs = windowEndMs;
  }
}

/**
 * Allocates with a synchronous, durable `save`: the one loop the shell runs.
 * A single save is always enough, because the window `NeedPersist` asks for
 * covers the whole batch and nothing changes between the two calls.
 */
export function allocateDurably(
  tso: Tso,
  count: number,
  nowMs: number,
  save: (windowEndMs: number) => void,
): TimestampBatch {
  let outcome = tso.allocate(count, nowMs);
  if (outcome.type === 'NeedPersist') {
    save(outcome.windowEndMs);
    tso.windowSaved(outcome.windowEndMs);
    outcome = tso.allocate(count, nowMs);
  }
  assert(outcome.type === 'Allocated', 'a saved window did not cover the batch');
  return { first: outcome.first, count: outcome.count };
}
