// Inflights bounds how many append messages may be unacknowledged on the way
// to one follower: the flow-control window of pipelined replication.

import { assert } from '../util/assert';

export class Inflights {
  /** Ring buffer of the last index carried by each message in flight. */
  private readonly buffer: number[];
  private start = 0;
  /** Number of messages in flight. Invariant: 0 <= count <= capacity. */
  count = 0;
  readonly capacity: number;

  constructor(capacity: number) {
    assert(capacity > 0, 'inflight capacity must be positive');
    this.capacity = capacity;
    this.buffer = new Array<number>(capacity).fill(0);
  }

  add(lastIndex: number): void {
    assert(!this.full(), 'cannot add to a full inflights window');
    const slot = (this.start + this.count) % this.capacity;
    this.buffer[slot] = lastIndex;
    this.count++;
  }

  /** Frees every message whose last index is <= to (they were acknowledged). */
  freeLE(to: number): void {
    while (this.count > 0 && this.buffer[this.start]! <= to) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest message; used when a heartbeat shows the follower is alive but acks were lost. */
  freeFirstOne(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
    if (this.count === 0) this.start = 0;
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  reset(): void {
    this.count = 0;
    this.start = 0;
  }
}
