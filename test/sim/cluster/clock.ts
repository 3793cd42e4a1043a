// The simulated clock of the cluster simulator: the one source of time and
// of asynchronous progress. Timers sit in a queue ordered by (time, sequence),
// so two timers due at the same millisecond fire in the order they were set;
// `run` pops them one at a time and, after each, lets every promise chain it
// started (RPC replies, router retries, client loops) run to its next await.
// Nothing in the simulation uses a real timer; the only real asynchrony is
// the microtask drain, which is deterministic.

import { assert } from '../../../src/util/assert';

export interface TimerHandle {
  cancel(): void;
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void | Promise<void>;
  cancelled: boolean;
}

/** Bounds the timers one run may fire, so a livelock fails instead of hanging the test. */
const timersPerRunMax = 50_000_000;

export class SimClock {
  /** Simulated milliseconds since the start. Invariant: never decreases. */
  private nowMs = 0;
  /** Breaks ties between timers due at the same time: first set, first fired. */
  private nextSeq = 0;
  /** A binary min-heap by (at, seq). */
  private heap: Timer[] = [];
  /** The first failure anything in the simulation reported; stops the run loop. */
  private failure: unknown = undefined;
  private firedCount = 0;

  now(): number {
    return this.nowMs;
  }

  /** Timers fired so far (a rough measure of the work a history took). */
  fired(): number {
    return this.firedCount;
  }

  /**
   * Calls `fn` after `ms` simulated milliseconds. A rejected promise or a
   * throw from `fn` is a failure of the whole simulation: nothing in it may
   * fail silently.
   */
  setTimer(ms: number, fn: () => void | Promise<void>): TimerHandle {
    assert(Number.isFinite(ms) && ms >= 0, `timer delay ${ms} must be a finite non-negative number`);
    const timer: Timer = { at: this.nowMs + Math.floor(ms), seq: this.nextSeq++, fn, cancelled: false };
    this.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** RouterDeps.delay: resolves after `ms` unless cancelled first (then never). */
  delay(ms: number): { promise: Promise<void>; cancel(): void } {
    let handle: TimerHandle | undefined;
    const promise = new Promise<void>((resolve) => {
      handle = this.setTimer(ms, resolve);
    });
    return { promise, cancel: () => handle?.cancel() };
  }

  /** Records a failure from anywhere in the simulation; `run` throws it at its next step. */
  fail(error: unknown): void {
    if (this.failure === undefined) this.failure = error ?? new Error('undefined failure');
  }

  /** Throws the recorded failure, if any. */
  checkFailure(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  /** Runs every timer due up to `untilMs` (absolute), then sets the time to `untilMs`. */
  async run(untilMs: number): Promise<void> {
    await this.runWhile(() => true, untilMs - this.nowMs);
    if (this.nowMs < untilMs) this.nowMs = untilMs;
  }

  /** Runs `ms` simulated milliseconds from now. */
  async runFor(ms: number): Promise<void> {
    await this.run(this.nowMs + ms);
  }

  /**
   * Fires timers while `cond()` holds, for at most `maxMs` from now. Returns
   * true if `cond()` became false, false if the time ran out first (or no
   * timer was left, so nothing could ever change).
   */
  async runWhile(cond: () => boolean, maxMs: number): Promise<boolean> {
    const until = this.nowMs + maxMs;
    await drainMicrotasks();
    this.checkFailure();
    for (let fired = 0; ; fired++) {
      if (!cond()) return true;
      assert(fired < timersPerRunMax, `more than ${timersPerRunMax} timers in one run: a livelock?`);
      const next = this.popDue(until);
      if (next === undefined) return false;
      this.nowMs = next.at;
      this.firedCount++;
      try {
        const out = next.fn();
        if (out instanceof Promise) out.catch((e: unknown) => this.fail(e));
      } catch (e) {
        this.fail(e);
      }
      await drainMicrotasks();
      this.checkFailure();
    }
  }

  /** The earliest live timer due at or before `until`, removed from the queue. */
  private popDue(until: number): Timer | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > until) return undefined;
      this.pop();
      if (!top.cancelled) return top;
    }
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < h.length && before(h[l]!, h[min]!)) min = l;
      if (r < h.length && before(h[r]!, h[min]!)) min = r;
      if (min === i) return;
      [h[i], h[min]] = [h[min]!, h[i]!];
      i = min;
    }
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * Lets every queued promise continuation run: Node empties the whole
 * microtask queue (including continuations queued meanwhile) before it
 * reaches the next macrotask, so one setImmediate is a full drain.
 */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
