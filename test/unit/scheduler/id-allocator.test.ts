import { describe, expect, it } from 'vitest';
import { firstAllocatedId } from '../../../src/scheduler/config';
import { IdAllocator, MemoryIdLimitStore } from '../../../src/scheduler/id-allocator';
import { AssertionError } from '../../../src/util/assert';

function isIncreasing(ids: number[]): boolean {
  return ids.every((id, i) => i === 0 || id > ids[i - 1]!);
}

describe('IdAllocator', () => {
  it('starts above the bootstrap region id and counts up', () => {
    const ids = new IdAllocator(new MemoryIdLimitStore(), 10);
    expect(ids.alloc(3)).toEqual([firstAllocatedId, firstAllocatedId + 1, firstAllocatedId + 2]);
    expect(ids.alloc(1)).toEqual([firstAllocatedId + 3]);
    expect(ids.alloc(0)).toEqual([]);
  });

  it('saves its bound once per batch, before handing out ids from it', () => {
    const store = new MemoryIdLimitStore();
    const ids = new IdAllocator(store, 10);
    ids.alloc(1);
    expect(store.saves).toBe(1);
    const bound = store.loadIdLimit()!;
    const out = [...ids.alloc(5), ...ids.alloc(4)];
    expect(store.saves).toBe(1);
    expect(Math.max(...out)).toBeLessThan(bound);
    ids.alloc(20); // larger than a batch: one save covers it
    expect(store.saves).toBe(2);
  });

  it('never repeats an id across restarts, skipping the rest of each saved batch', () => {
    const store = new MemoryIdLimitStore();
    const seen: number[] = [];
    for (let life = 0; life < 5; life++) {
      // Each life is a fresh allocator over the same store: the scheduler restarted.
      const ids = new IdAllocator(store, 7);
      for (const count of [1, 3, 6, 2]) seen.push(...ids.alloc(count));
    }
    expect(isIncreasing(seen)).toBe(true);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('also when a save fails: nothing from the unsaved batch goes out', () => {
    const store = new MemoryIdLimitStore();
    const ids = new IdAllocator(store, 2);
    const first = ids.alloc(2);
    const failing = {
      loadIdLimit: () => store.loadIdLimit(),
      saveIdLimit: () => {
        throw new Error('disk full');
      },
    };
    const broken = new IdAllocator(failing, 2);
    expect(() => broken.alloc(1)).toThrow('disk full');
    const after = new IdAllocator(store, 2).alloc(1);
    expect(after[0]).toBeGreaterThan(Math.max(...first));
  });

  it('asserts on a bad count or a corrupt saved bound', () => {
    const ids = new IdAllocator(new MemoryIdLimitStore());
    expect(() => ids.alloc(-1)).toThrow(AssertionError);
    expect(() => ids.alloc(1.5)).toThrow(AssertionError);
    expect(() => ids.alloc(1_000_000)).toThrow(AssertionError);
    const corrupt = { loadIdLimit: () => 0, saveIdLimit: () => undefined };
    expect(() => new IdAllocator(corrupt)).toThrow(AssertionError);
  });
});
