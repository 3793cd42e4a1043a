// The worker's side of the timestamp oracle: coalesces concurrent
// `getTimestamp()` calls into one `getTimestamps(n)` RPC to the scheduler
// (PD client's TSO dispatcher). Every transaction needs two timestamps, and
// the scheduler is one object for the whole cluster, so one round trip per
// timestamp would cap the cluster at that object's RPC rate.
//
// Batches: callers that arrive while no RPC is under way are gathered until
// the scheduled flush runs (by default the end of the current microtask
// queue, so everything called in the same tick) and go in one RPC. While an
// RPC is in flight, new callers queue and go together in the next one; at
// most one RPC is in flight, so batches grow with load rather than RPCs.

import { type TimestampBatch, tsoConfig } from '../scheduler/tso';
import { assert } from '../util/assert';

/** The scheduler's RPC (`SchedulerObject.getTimestamps`), injected so the client runs in Node tests. */
export type GetTimestamps = (count: number) => Promise<TimestampBatch>;

/** Runs a task later; when decides how long a batch stays open. */
export type Schedule = (task: () => void) => void;

interface Waiter {
  resolve(ts: bigint): void;
  reject(reason: unknown): void;
}

export class TsoClient {
  /** Callers waiting for a batch that has not been sent yet, in call order. */
  private queue: Waiter[] = [];
  /**
   * The RPC under way, as a promise that settles (never rejects) once its
   * callers have been answered. Invariant: at most one RPC is in flight.
   */
  private inFlight: Promise<void> | undefined;
  /**
   * The greatest timestamp handed out so far. The oracle promises each batch
   * lies above every earlier one; checked here too, because a timestamp that
   * went back would silently break snapshot isolation.
   */
  private last = -1n;
  /** RPCs sent, for benchmarks and tests. */
  rpcCount = 0;
  /** Timestamps handed to callers, for benchmarks and tests. */
  timestampCount = 0;

  constructor(
    private readonly getTimestamps: GetTimestamps,
    // Wrapped: the platform's queueMicrotask throws "Illegal invocation" when called as a method of another object.
    private readonly schedule: Schedule = (task) => queueMicrotask(task),
    private readonly batchCountMax: number = tsoConfig.tsoAllocCountMax,
  ) {
    assert(Number.isSafeInteger(batchCountMax) && batchCountMax >= 1, `invalid TSO batch limit ${batchCountMax}`);
  }

  /** One fresh timestamp, greater than every one this client handed out before it was called. */
  getTimestamp(): Promise<bigint> {
    return new Promise<bigint>((resolve, reject) => {
      this.queue.push({ resolve, reject });
      // The first caller of a batch arms its flush; later callers only join.
      // Armed by a caller of the batch rather than by the previous RPC's
      // completion, so the flush hangs off a caller still waiting for it:
      // in a Worker each request has its own I/O context, and a client
      // shared across requests should not start RPCs from the continuation
      // of a request that may already have answered. (Which context workerd
      // runs such a continuation in is not verified yet; see the report on
      // issue 5.)
      if (this.queue.length === 1) this.armFlush();
    });
  }

  private armFlush(): void {
    const previous = this.inFlight ?? Promise.resolve();
    void previous.then(() => this.schedule(() => this.flush()));
  }

  private flush(): void {
    assert(this.inFlight === undefined, 'a second timestamp RPC while one is in flight');
    const batch = this.queue.splice(0, this.batchCountMax);
    if (batch.length === 0) return;
    this.rpcCount++;
    let reply: Promise<TimestampBatch>;
    try {
      reply = this.getTimestamps(batch.length);
    } catch (err) {
      reply = Promise.reject(err);
    }
    const done = reply
      .then((got) => this.deliver(batch, got))
      // A failed RPC fails exactly the callers of its batch; those queued
      // meanwhile go in the next RPC as usual.
      .catch((err: unknown) => {
        for (const w of batch) w.reject(err);
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    this.inFlight = done;
    // More callers than one batch may carry: the rest go next.
    if (this.queue.length > 0) this.armFlush();
  }

  private deliver(batch: Waiter[], got: TimestampBatch): void {
    // Thrown here, this rejects the batch's callers (see flush).
    assert(
      typeof got.first === 'bigint' && got.count === batch.length && got.first > this.last,
      `the oracle answered ${String(got.count)} from ${String(got.first)} for ${batch.length} after ${this.last}`,
    );
    this.last = got.first + BigInt(got.count - 1);
    this.timestampCount += batch.length;
    // Call order within the batch is timestamp order.
    batch.forEach((w, i) => w.resolve(got.first + BigInt(i)));
  }
}
