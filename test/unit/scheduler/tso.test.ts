import { describe, expect, it } from 'vitest';
import {
  type TimestampBatch,
  Tso,
  allocateDurably,
  composeTs,
  decodeTs,
  encodeTs,
  logicalOf,
  logicalPerMs,
  physicalOf,
  timestampLimit,
  tsoConfig,
} from '../../../src/scheduler/tso';
import { AssertionError } from '../../../src/util/assert';
import { compareBytes } from '../../../src/util/bytes';

/** The shell's storage, in memory: the saved window end and how often it was written. */
class MemoryWindow {
  saved: number | undefined;
  saves = 0;
  /** Set to make the next save fail, as a full disk would. */
  failNext = false;

  save = (windowEndMs: number): void => {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full');
    }
    this.saved = windowEndMs;
    this.saves++;
  };
}

/** Expands a batch into its timestamps, checking each lies below the saved window (persist before use). */
function expand(batch: TimestampBatch, window: MemoryWindow): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < batch.count; i++) out.push(batch.first + BigInt(i));
  expect(window.saved).toBeDefined();
  expect(physicalOf(out[out.length - 1]!)).toBeLessThan(window.saved!);
  return out;
}

function expectStrictlyIncreasing(ts: bigint[]): void {
  for (let i = 1; i < ts.length; i++) {
    if (!(ts[i]! > ts[i - 1]!)) expect.fail(`timestamp ${i}: ${ts[i]} after ${ts[i - 1]}`);
  }
}

/** A deterministic PRNG (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const t0 = 1_760_000_000_000; // a plausible wall clock, in ms

describe('timestamp encoding', () => {
  it('composes and splits physical and logical parts', () => {
    const ts = composeTs(t0, 5);
    expect(ts).toBe(BigInt(t0) * 262144n + 5n);
    expect(physicalOf(ts)).toBe(t0);
    expect(logicalOf(ts)).toBe(5);
    expect(composeTs(t0, logicalPerMs - 1) + 1n).toBe(composeTs(t0 + 1, 0));
  });

  it('round-trips through 8 big-endian bytes that sort like the numbers', () => {
    const values = [0n, 1n, 255n, 256n, 2n ** 53n + 1n, composeTs(t0, 0), composeTs(t0, 1), timestampLimit - 1n];
    for (const v of values) expect(decodeTs(encodeTs(v))).toBe(v);
    expect([...encodeTs(258n)]).toEqual([0, 0, 0, 0, 0, 0, 1, 2]);
    for (let i = 1; i < values.length; i++) {
      expect(compareBytes(encodeTs(values[i - 1]!), encodeTs(values[i]!))).toBeLessThan(0);
    }
    // Precision a double would lose survives.
    expect(decodeTs(encodeTs(2n ** 60n + 3n))).toBe(2n ** 60n + 3n);
  });

  it('rejects values outside 64 bits and malformed bytes', () => {
    expect(() => encodeTs(-1n)).toThrow(AssertionError);
    expect(() => encodeTs(timestampLimit)).toThrow(AssertionError);
    expect(() => decodeTs(new Uint8Array(7))).toThrow(AssertionError);
    expect(() => composeTs(t0, logicalPerMs)).toThrow(AssertionError);
    expect(() => composeTs(-1, 0)).toThrow(AssertionError);
  });
});

describe('Tso', () => {
  it('hands out strictly increasing timestamps across many calls, at or after the clock', () => {
    const window = new MemoryWindow();
    const tso = new Tso(window.saved);
    const rand = rng(1);
    const all: bigint[] = [];
    let now = t0;
    for (let call = 0; call < 5000; call++) {
      now += Math.floor(rand() * 3); // often the same millisecond
      const batch = allocateDurably(tso, 1 + Math.floor(rand() * 50), now, window.save);
      expect(physicalOf(batch.first)).toBeGreaterThanOrEqual(now);
      all.push(...expand(batch, window));
    }
    expectStrictlyIncreasing(all);
    // About one durable write per window of clock, not one per call.
    expect(window.saves).toBeLessThanOrEqual(Math.ceil((now - t0) / tsoConfig.tsoWindowMs) + 1);
  });

  it('starts at the clock, logical 0, in a new millisecond', () => {
    const window = new MemoryWindow();
    const tso = new Tso(undefined);
    expect(allocateDurably(tso, 3, t0, window.save)).toEqual({ first: composeTs(t0, 0), count: 3 });
    expect(allocateDurably(tso, 1, t0, window.save)).toEqual({ first: composeTs(t0, 3), count: 1 });
    expect(allocateDurably(tso, 1, t0 + 7, window.save)).toEqual({ first: composeTs(t0 + 7, 0), count: 1 });
  });

  it('never repeats a timestamp across restarts: each life resumes at the saved window end', () => {
    const window = new MemoryWindow();
    const rand = rng(2);
    const all: bigint[] = [];
    let now = t0;
    for (let life = 0; life < 20; life++) {
      // A fresh oracle over the same storage: the scheduler restarted, memory lost.
      const tso = new Tso(window.saved);
      const resumeFrom = window.saved;
      // Restart with the clock behind the window (a fast restart): the
      // first timestamps still lie above everything of the earlier life.
      now += Math.floor(rand() * 100);
      const saves = window.saves;
      const first = allocateDurably(tso, 1, now, window.save);
      expect(window.saves).toBe(saves + 1); // a life's first allocation saves a window first
      if (resumeFrom !== undefined) expect(first.first).toBeGreaterThanOrEqual(composeTs(resumeFrom, 0));
      all.push(...expand(first, window));
      for (let call = 0; call < 100; call++) {
        now += Math.floor(rand() * 5);
        all.push(...expand(allocateDurably(tso, 1 + Math.floor(rand() * 10), now, window.save), window));
      }
    }
    expectStrictlyIncreasing(all);
  });

  it('resumes after a long outage at the clock, not at the old window', () => {
    const window = new MemoryWindow();
    allocateDurably(new Tso(undefined), 1, t0, window.save);
    const later = t0 + 86_400_000;
    const batch = allocateDurably(new Tso(window.saved), 1, later, window.save);
    expect(batch.first).toBe(composeTs(later, 0));
  });

  it('never goes backwards when the clock does, and follows it when it jumps forward', () => {
    const window = new MemoryWindow();
    const tso = new Tso(undefined);
    const all: bigint[] = [];
    const take = (count: number, now: number) => {
      const b = allocateDurably(tso, count, now, window.save);
      all.push(...expand(b, window));
      return b;
    };
    take(10, t0 + 10_000);
    const back = take(5, t0); // the clock stepped back 10 s
    expect(physicalOf(back.first)).toBe(t0 + 10_000);
    expect(logicalOf(back.first)).toBe(10);
    take(5, 0); // back to the epoch
    const forward = take(1, t0 + 20_000); // and far forward
    expect(forward.first).toBe(composeTs(t0 + 20_000, 0));
    take(3, t0 + 19_999); // one ms back again
    const rand = rng(3);
    for (let i = 0; i < 2000; i++) take(1 + Math.floor(rand() * 4), t0 + 20_000 + Math.floor(rand() * 8000) - 4000);
    expectStrictlyIncreasing(all);
  });

  it('serves interleaved callers distinct timestamps in the order they were served', () => {
    const window = new MemoryWindow();
    const tso = new Tso(undefined);
    const rand = rng(4);
    // Eight callers take turns in a random order with their own counts and
    // clock readings (each read the clock at a slightly different moment).
    const perCaller: bigint[][] = Array.from({ length: 8 }, () => []);
    const served: bigint[] = [];
    let now = t0;
    for (let step = 0; step < 4000; step++) {
      const caller = Math.floor(rand() * perCaller.length);
      const reading = now - Math.floor(rand() * 3);
      const ts = expand(allocateDurably(tso, 1 + Math.floor(rand() * 20), reading, window.save), window);
      perCaller[caller]!.push(...ts);
      served.push(...ts);
      if (rand() < 0.3) now++;
    }
    expectStrictlyIncreasing(served);
    for (const mine of perCaller) expectStrictlyIncreasing(mine);
    expect(new Set(served).size).toBe(served.length);
  });

  it('moves to the next millisecond when the logical part is used up', () => {
    const window = new MemoryWindow();
    const tso = new Tso(undefined);
    const a = allocateDurably(tso, logicalPerMs - 1, t0, window.save);
    expect(a.first).toBe(composeTs(t0, 0));
    const b = allocateDurably(tso, 1, t0, window.save);
    expect(b.first).toBe(composeTs(t0, logicalPerMs - 1));
    const c = allocateDurably(tso, 1, t0, window.save); // clock still at t0
    expect(c.first).toBe(composeTs(t0 + 1, 0));
    // One batch may span milliseconds; every timestamp still lies below the saved window.
    const big = allocateDurably(tso, tsoConfig.tsoAllocCountMax, t0, window.save);
    expect(big.first).toBe(composeTs(t0 + 1, 1));
    const ts = expand(big, window);
    expect(physicalOf(ts[ts.length - 1]!)).toBe(t0 + 1 + Math.floor(tsoConfig.tsoAllocCountMax / logicalPerMs));
  });

  it('asks to persist before handing out anything at or beyond the saved window', () => {
    const tso = new Tso(undefined, 100);
    const need = tso.allocate(1, t0);
    expect(need).toEqual({ type: 'NeedPersist', windowEndMs: t0 + 1 + 100 });
    // Until the window is saved, the oracle keeps declining and hands out nothing.
    expect(tso.allocate(1, t0)).toEqual(need);
    tso.windowSaved(t0 + 101);
    expect(tso.allocate(2, t0)).toEqual({ type: 'Allocated', first: composeTs(t0, 0), count: 2 });
    // Inside the window: no write.
    expect(tso.allocate(1, t0 + 100).type).toBe('Allocated');
    // The last millisecond of the window is t0 + 100; t0 + 101 needs a new window.
    expect(tso.allocate(1, t0 + 101)).toEqual({ type: 'NeedPersist', windowEndMs: t0 + 101 + 1 + 100 });
    // So does a batch that would run over the window end from inside it.
    const tso2 = new Tso(t0 + 1, 100);
    tso2.windowSaved(t0 + 2);
    expect(tso2.allocate(logicalPerMs, t0 + 1)).toEqual({ type: 'Allocated', first: composeTs(t0 + 1, 0), count: logicalPerMs });
    expect(tso2.allocate(1, t0 + 1)).toEqual({ type: 'NeedPersist', windowEndMs: t0 + 2 + 1 + 100 });
  });

  it('under random calls, crashes and skipped saves, never hands out a timestamp outside the durable window', () => {
    const rand = rng(5);
    let durable: number | undefined; // what a crash would leave
    let tso = new Tso(durable, 50);
    let now = t0;
    const all: bigint[] = [];
    for (let step = 0; step < 20_000; step++) {
      const r = rand();
      if (r < 0.01) {
        tso = new Tso(durable, 50); // crash: memory lost, storage kept
        continue;
      }
      now += Math.floor(rand() * 4) - 1; // drifts, sometimes backwards
      const out = tso.allocate(1 + Math.floor(rand() * 1000), now);
      if (out.type === 'NeedPersist') {
        if (rand() < 0.2) continue; // the save failed or the object died before it: nothing was handed out
        durable = out.windowEndMs;
        tso.windowSaved(out.windowEndMs);
        continue;
      }
      const last = out.first + BigInt(out.count - 1);
      expect(durable).toBeDefined();
      expect(physicalOf(last)).toBeLessThan(durable!);
      all.push(out.first);
      if (out.count > 1) all.push(last);
    }
    expectStrictlyIncreasing(all);
  });

  it('hands out nothing from a window whose save failed', () => {
    const window = new MemoryWindow();
    const tso = new Tso(undefined);
    const before = allocateDurably(tso, 5, t0, window.save);
    const saved = window.saved!;
    window.failNext = true;
    expect(() => allocateDurably(tso, 1, saved + 10, window.save)).toThrow('disk full');
    expect(tso.savedWindowEndMs).toBe(saved);
    // A restart from what is durable carries on above everything handed out.
    const after = allocateDurably(new Tso(window.saved), 1, saved + 10, window.save);
    expect(after.first).toBeGreaterThan(before.first + 4n);
  });

  it('asserts on bad counts, bad clocks, a shrinking window and an exhausted timestamp space', () => {
    const tso = new Tso(undefined);
    for (const count of [0, -1, 1.5, Number.NaN, tsoConfig.tsoAllocCountMax + 1]) {
      expect(() => tso.allocate(count, t0)).toThrow(AssertionError);
    }
    for (const now of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => tso.allocate(1, now)).toThrow(AssertionError);
    }
    tso.windowSaved(t0);
    expect(() => tso.windowSaved(t0)).toThrow(AssertionError);
    expect(() => tso.windowSaved(t0 - 1)).toThrow(AssertionError);
    expect(() => new Tso(undefined, 0)).toThrow(AssertionError);
    // The last representable millisecond: no window can be saved beyond it.
    const lastMs = Number((timestampLimit >> 18n) - 1n);
    expect(() => new Tso(lastMs).allocate(1, 0)).toThrow(AssertionError);
    expect(() => new Tso(lastMs + 1)).toThrow(AssertionError);
  });
});
