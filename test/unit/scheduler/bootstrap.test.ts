import { describe, expect, it } from 'vitest';
import { planBootstrap } from '../../../src/scheduler/bootstrap';
import { IdAllocator, MemoryIdLimitStore } from '../../../src/scheduler/id-allocator';
import { AssertionError } from '../../../src/util/assert';

describe('planBootstrap', () => {
  it('by default plans region 1 over all keys, epoch 1/1, peers on stores 1-3 with allocated ids', () => {
    const ids = new IdAllocator(new MemoryIdLimitStore());
    expect(planBootstrap(ids)).toEqual({
      id: 1,
      startKey: new Uint8Array(),
      endKey: new Uint8Array(),
      epoch: { version: 1, confVer: 1 },
      peers: [
        { id: 2, storeId: 1 },
        { id: 3, storeId: 2 },
        { id: 4, storeId: 3 },
      ],
    });
    // The peer ids are spent: the next id is above them.
    expect(ids.alloc(1)).toEqual([5]);
  });

  it('takes the first `replicas` of the configured stores', () => {
    const ids = new IdAllocator(new MemoryIdLimitStore());
    ids.alloc(10); // ids handed out before bootstrap do not change the region's id
    const plan = planBootstrap(ids, { storeIds: [7, 3, 9, 1, 4], replicas: 5 });
    expect(plan.id).toBe(1);
    expect(plan.peers.map((p) => p.storeId)).toEqual([7, 3, 9, 1, 4]);
    expect(plan.peers.map((p) => p.id)).toEqual([12, 13, 14, 15, 16]);
  });

  it('asserts when there are fewer stores than replicas, or duplicate stores', () => {
    const ids = new IdAllocator(new MemoryIdLimitStore());
    expect(() => planBootstrap(ids, { storeIds: [1, 2], replicas: 3 })).toThrow(AssertionError);
    expect(() => planBootstrap(ids, { storeIds: [1, 1, 2], replicas: 3 })).toThrow(AssertionError);
    expect(() => planBootstrap(ids, { replicas: 0 })).toThrow(AssertionError);
  });
});
