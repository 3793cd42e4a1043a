import { describe, expect, it } from 'vitest';
import { type GetTimestamps, TsoClient } from '../../../src/api/tso-client';
import { type TimestampBatch, Tso, allocateDurably } from '../../../src/scheduler/tso';
import { AssertionError } from '../../../src/util/assert';

/**
 * A scheduler stand-in backed by the real oracle. Each RPC waits until the
 * test releases it, so tests decide what is in flight when callers arrive.
 */
class FakeScheduler {
  /** The count of each RPC, in the order they arrived. */
  calls: number[] = [];
  /** RPCs waiting to be answered. */
  private held: { count: number; answer: (fail?: Error) => void }[] = [];
  private readonly tso = new Tso(undefined);
  private now = 1_760_000_000_000;

  rpc: GetTimestamps = (count) => {
    this.calls.push(count);
    return new Promise<TimestampBatch>((resolve, reject) => {
      this.held.push({
        count,
        answer: (fail) => {
          if (fail !== undefined) return reject(fail);
          resolve(allocateDurably(this.tso, count, this.now++, () => undefined));
        },
      });
    });
  };

  get pending(): number {
    return this.held.length;
  }

  /** Answers the oldest RPC, or fails it. */
  release(fail?: Error): void {
    const rpc = this.held.shift();
    expect(rpc).toBeDefined();
    rpc!.answer(fail);
  }
}

/** Lets every queued microtask (and promise continuation) run. */
async function drain(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function expectStrictlyIncreasing(ts: bigint[]): void {
  for (let i = 1; i < ts.length; i++) expect(ts[i]! > ts[i - 1]!).toBe(true);
}

describe('TsoClient', () => {
  it('serves 100 callers of one tick with one RPC, in call order', async () => {
    const server = new FakeScheduler();
    const client = new TsoClient(server.rpc);
    const calls = Array.from({ length: 100 }, () => client.getTimestamp());
    await drain();
    expect(server.calls).toEqual([100]);
    server.release();
    const ts = await Promise.all(calls);
    expectStrictlyIncreasing(ts); // call order is timestamp order
    expect(ts[99]! - ts[0]!).toBe(99n); // one contiguous batch
    expect(client.rpcCount).toBe(1);
    expect(client.timestampCount).toBe(100);
  });

  it('queues callers that arrive while an RPC is in flight and sends them together next', async () => {
    const server = new FakeScheduler();
    const client = new TsoClient(server.rpc);
    const first = Array.from({ length: 10 }, () => client.getTimestamp());
    await drain();
    // Three waves arrive while the first RPC is out: none of them sends an RPC.
    const later: Promise<bigint>[] = [];
    for (let wave = 0; wave < 3; wave++) {
      for (let i = 0; i < 30; i++) later.push(client.getTimestamp());
      await drain();
    }
    expect(server.calls).toEqual([10]);
    server.release();
    await drain();
    expect(server.calls).toEqual([10, 90]);
    server.release();
    const all = await Promise.all([...first, ...later]);
    expectStrictlyIncreasing(all);
    expect(new Set(all).size).toBe(100);
  });

  it('keeps at most one RPC in flight under a steady stream of callers', async () => {
    const server = new FakeScheduler();
    const client = new TsoClient(server.rpc);
    const all: Promise<bigint>[] = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 7; i++) all.push(client.getTimestamp());
      await drain();
      expect(server.pending).toBeLessThanOrEqual(1);
      if (server.pending === 1) server.release();
    }
    await drain();
    while (server.pending > 0) {
      server.release();
      await drain();
    }
    const ts = await Promise.all(all);
    expectStrictlyIncreasing(ts);
    expect(client.rpcCount).toBeLessThanOrEqual(20);
  });

  it('with 100 concurrent loops, uses few RPCs and hands each caller increasing, distinct timestamps', async () => {
    // A server that answers by itself after a macrotask, like a real RPC.
    const tso = new Tso(undefined);
    let rpcs = 0;
    let now = 1_760_000_000_000;
    const rpc: GetTimestamps = (count) => {
      rpcs++;
      return new Promise((resolve) =>
        setTimeout(() => resolve(allocateDurably(tso, count, now++, () => undefined)), 0),
      );
    };
    const client = new TsoClient(rpc);
    const perLoop: bigint[][] = Array.from({ length: 100 }, () => []);
    await Promise.all(
      perLoop.map(async (mine) => {
        for (let i = 0; i < 20; i++) mine.push(await client.getTimestamp());
      }),
    );
    const all = perLoop.flat();
    expect(new Set(all).size).toBe(2000);
    for (const mine of perLoop) expectStrictlyIncreasing(mine);
    // Every loop waits for its answer before asking again, so each RPC carries about one ask per loop.
    expect(rpcs).toBeLessThanOrEqual(25);
  });

  it('fails only the callers of the batch whose RPC failed', async () => {
    const server = new FakeScheduler();
    const client = new TsoClient(server.rpc);
    const doomed = Array.from({ length: 5 }, () => client.getTimestamp());
    await drain();
    const next = Array.from({ length: 4 }, () => client.getTimestamp());
    await drain();
    server.release(new Error('scheduler unreachable'));
    await drain();
    for (const p of doomed) await expect(p).rejects.toThrow('scheduler unreachable');
    expect(server.calls).toEqual([5, 4]);
    server.release();
    const ts = await Promise.all(next);
    expectStrictlyIncreasing(ts);
    // And the client carries on afterwards.
    const after = client.getTimestamp();
    await drain();
    server.release();
    expect(await after).toBeGreaterThan(ts[3]!);
  });

  it('fails the batch when the RPC throws synchronously', async () => {
    let fail = true;
    const tso = new Tso(undefined);
    const client = new TsoClient((count) => {
      if (fail) throw new Error('no stub');
      return Promise.resolve(allocateDurably(tso, count, 1_760_000_000_000, () => undefined));
    });
    await expect(client.getTimestamp()).rejects.toThrow('no stub');
    fail = false;
    expect(typeof (await client.getTimestamp())).toBe('bigint');
  });

  it('rejects an answer that does not match the batch or goes back in time', async () => {
    let answer: TimestampBatch = { first: 100n, count: 2 };
    const client = new TsoClient(() => Promise.resolve(answer));
    expect(await Promise.all([client.getTimestamp(), client.getTimestamp()])).toEqual([100n, 101n]);
    answer = { first: 101n, count: 1 }; // overlaps what was handed out
    await expect(client.getTimestamp()).rejects.toThrow(AssertionError);
    answer = { first: 500n, count: 3 }; // more than asked for
    await expect(client.getTimestamp()).rejects.toThrow(AssertionError);
  });

  it('splits callers beyond the batch limit over successive RPCs', async () => {
    const server = new FakeScheduler();
    const client = new TsoClient(server.rpc, queueMicrotask, 4);
    const calls = Array.from({ length: 10 }, () => client.getTimestamp());
    await drain();
    expect(server.calls).toEqual([4]);
    for (let i = 0; i < 3; i++) {
      server.release();
      await drain();
    }
    expect(server.calls).toEqual([4, 4, 2]);
    expectStrictlyIncreasing(await Promise.all(calls));
  });

  it('holds a batch open as long as the injected schedule says', async () => {
    const server = new FakeScheduler();
    const tasks: (() => void)[] = [];
    const client = new TsoClient(server.rpc, (task) => tasks.push(task));
    const calls = [client.getTimestamp()];
    await drain();
    calls.push(client.getTimestamp(), client.getTimestamp());
    await drain();
    expect(server.calls).toEqual([]);
    expect(tasks).toHaveLength(1);
    tasks.shift()!();
    expect(server.calls).toEqual([3]);
    server.release();
    expectStrictlyIncreasing(await Promise.all(calls));
  });
});
