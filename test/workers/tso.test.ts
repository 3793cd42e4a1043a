import { env } from 'cloudflare:workers';
import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SchedulerObject } from '../../src/index';
import { TsoClient } from '../../src/api/tso-client';
import { type TimestampBatch, composeTs, decodeTs, logicalOf, physicalOf } from '../../src/scheduler/tso';

// One object per test, so the order of tests does not matter.
function scheduler(name = `tso-${crypto.randomUUID()}`) {
  return env.SCHEDULER.get(env.SCHEDULER.idFromName(name));
}

type Stub = ReturnType<typeof scheduler>;

/** The saved window end as SQLite holds it, read inside the object. */
function savedWindow(stub: Stub) {
  return runInDurableObject(stub, (_instance, state) =>
    state.storage.sql.exec<{ window_end: ArrayBuffer }>('SELECT window_end FROM tso_window').toArray(),
  );
}

function lastOf(batch: TimestampBatch): bigint {
  return batch.first + BigInt(batch.count - 1);
}

/** Batches must not overlap and must come in increasing order. */
function expectIncreasingBatches(batches: TimestampBatch[]): void {
  for (let i = 1; i < batches.length; i++) {
    expect(batches[i]!.first > lastOf(batches[i - 1]!), `batch ${i} starts above batch ${i - 1}`).toBe(true);
  }
}

describe('SchedulerObject.getTimestamps', () => {
  it('answers bigints over RPC, increasing from call to call, near the clock', async () => {
    const stub = scheduler();
    const before = Date.now();
    const batches: TimestampBatch[] = [];
    for (const count of [1, 5, 1, 100, 3]) batches.push(await stub.getTimestamps(count));
    for (const [i, b] of batches.entries()) {
      expect(typeof b.first).toBe('bigint'); // the bigint crossed RPC as a bigint
      expect(b.count).toBe([1, 5, 1, 100, 3][i]);
    }
    expectIncreasingBatches(batches);
    // Timestamps carry the wall clock in their physical part.
    expect(physicalOf(batches[0]!.first)).toBeGreaterThanOrEqual(before - 1000);
    expect(physicalOf(batches[0]!.first)).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('keeps bigints above 2^53 exact across RPC', async () => {
    const stub = scheduler();
    const b = await stub.getTimestamps(2);
    expect(b.first > 2n ** 53n).toBe(true); // any timestamp of this century is
    const second = await stub.getTimestamps(1);
    expect(second.first - lastOf(b) >= 1n).toBe(true);
  });

  it('persists the window as one 8-byte big-endian blob ahead of every timestamp handed out', async () => {
    const stub = scheduler();
    const batches = [await stub.getTimestamps(10), await stub.getTimestamps(10)];
    const rows = await savedWindow(stub);
    expect(rows).toHaveLength(1);
    const blob = rows[0]!.window_end;
    expect(blob).toBeInstanceOf(ArrayBuffer);
    expect(blob.byteLength).toBe(8);
    const end = decodeTs(new Uint8Array(blob));
    expect(logicalOf(end)).toBe(0);
    expect(end > lastOf(batches[1]!)).toBe(true);
    // About the window ahead of the clock, not one write per call.
    expect(physicalOf(end) - physicalOf(batches[0]!.first)).toBeGreaterThan(1000);
  });

  it('keeps increasing across an eviction (memory lost, storage kept), resuming at the window end', async () => {
    const stub = scheduler();
    const before = [await stub.getTimestamps(3), await stub.getTimestamps(7)];
    const windowEnd = decodeTs(new Uint8Array((await savedWindow(stub))[0]!.window_end));

    await evictDurableObject(stub);
    const after = await stub.getTimestamps(4);
    expectIncreasingBatches([...before, after]);
    // The window may have been handed out up to its end; the new life starts there.
    expect(after.first >= windowEnd).toBe(true);
    const newEnd = decodeTs(new Uint8Array((await savedWindow(stub))[0]!.window_end));
    expect(newEnd > lastOf(after)).toBe(true);
  });

  it('keeps increasing in a fresh instance over the same storage', async () => {
    const stub = scheduler();
    const before = await stub.getTimestamps(5);
    const after = await runInDurableObject(stub, async (_instance, state) => {
      const fresh = new SchedulerObject(state, env);
      // The constructor's load runs under blockConcurrencyWhile; wait for it.
      await state.blockConcurrencyWhile(async () => {});
      return [await fresh.getTimestamps(2), await fresh.getTimestamps(1)];
    });
    expectIncreasingBatches([before, ...after]);
    // And the original instance, whose memory is behind the new window, is replaced on its next start.
    await evictDurableObject(stub);
    expectIncreasingBatches([...after, await stub.getTimestamps(1)]);
  });

  it('serves concurrent calls disjoint ranges', async () => {
    const stub = scheduler();
    const batches = await Promise.all(Array.from({ length: 50 }, (_, i) => stub.getTimestamps(1 + (i % 7))));
    const sorted = [...batches].sort((a, b) => (a.first < b.first ? -1 : 1));
    expectIncreasingBatches(sorted);
  });

  it('rejects a count outside its bounds', async () => {
    const stub = scheduler();
    // Called on the instance: under vitest-pool-workers every rejecting RPC
    // through a stub also leaks one unhandled rejection, even when the test
    // handles it (cloudflare/workers-sdk#14736); runInDurableObject does not.
    await runInDurableObject(stub, async (instance: SchedulerObject) => {
      await expect(instance.getTimestamps(0)).rejects.toThrow(/timestamp count/);
      await expect(instance.getTimestamps(1.5)).rejects.toThrow(/timestamp count/);
    });
    // The object carries on.
    expect((await stub.getTimestamps(1)).count).toBe(1);
  });
});

describe('TsoClient against the real SchedulerObject', () => {
  it('serves many concurrent callers with few RPCs, all distinct and increasing per caller', async () => {
    const stub = scheduler();
    const client = new TsoClient((count) => stub.getTimestamps(count));
    const perCaller: bigint[][] = Array.from({ length: 64 }, () => []);
    await Promise.all(
      perCaller.map(async (mine) => {
        for (let i = 0; i < 10; i++) mine.push(await client.getTimestamp());
      }),
    );
    const all = perCaller.flat();
    expect(new Set(all).size).toBe(640);
    for (const mine of perCaller) {
      for (let i = 1; i < mine.length; i++) expect(mine[i]! > mine[i - 1]!).toBe(true);
    }
    expect(client.rpcCount).toBeLessThan(640 / 8);
    expect(composeTs(Date.now() + 10_000, 0) > all[0]!).toBe(true);
  });
});
