// Ids for regions and peers (PD's id allocator). Ids are never reused, even
// across restarts: the allocator durably reserves a batch — it persists the
// batch's upper bound — before it hands out any id from that batch, so after
// a crash it resumes from the bound and skips whatever the batch had left.

import { assert } from '../util/assert';
import { firstAllocatedId, schedulerConfig } from './config';

/** Where the allocator keeps its bound; the Durable Object shell backs it with SQLite. */
export interface IdLimitStore {
  /** The last saved bound, or undefined if none was ever saved. */
  loadIdLimit(): number | undefined;
  /** Saves the bound; it must be durable before any reply the caller sends after it. */
  saveIdLimit(limit: number): void;
}

export class IdAllocator {
  /** The next id to hand out. Invariant: firstAllocatedId <= next <= limit. */
  private next: number;
  /**
   * Every id below the bound may have been handed out; ids from `limit` up
   * never were. Invariant: equals the bound last saved in the store.
   */
  private limit: number;

  constructor(
    private readonly store: IdLimitStore,
    private readonly batchCount: number = schedulerConfig.idBatchCount,
  ) {
    assert(Number.isSafeInteger(batchCount) && batchCount >= 1, `invalid id batch ${batchCount}`);
    const saved = store.loadIdLimit();
    if (saved !== undefined) {
      assert(Number.isSafeInteger(saved) && saved >= firstAllocatedId, `corrupt id limit ${saved}`);
    }
    // After a restart, ids between the old `next` and the bound may have gone
    // out already; resuming at the bound is what makes reuse impossible.
    this.next = saved ?? firstAllocatedId;
    this.limit = this.next;
  }

  /** Hands out `count` fresh ids in increasing order, each greater than any handed out before. */
  alloc(count: number): number[] {
    assert(
      Number.isSafeInteger(count) && count >= 0 && count <= schedulerConfig.idAllocCountMax,
      `id allocation count ${count} outside [0, ${schedulerConfig.idAllocCountMax}]`,
    );
    if (this.next + count > this.limit) {
      const limit = this.next + count + this.batchCount;
      assert(Number.isSafeInteger(limit), 'id space exhausted');
      // Persist first: if the save throws, nothing was handed out from the new batch.
      this.store.saveIdLimit(limit);
      this.limit = limit;
    }
    const ids: number[] = [];
    for (let i = 0; i < count; i++) ids.push(this.next++);
    assert(this.next <= this.limit, 'handed out an id beyond the durable bound');
    return ids;
  }
}

/** An in-memory IdLimitStore, for tests and the simulator. */
export class MemoryIdLimitStore implements IdLimitStore {
  /** Number of saves, so tests can see batching at work. */
  saves = 0;
  private limit: number | undefined;

  loadIdLimit(): number | undefined {
    return this.limit;
  }

  saveIdLimit(limit: number): void {
    this.limit = limit;
    this.saves++;
  }
}
