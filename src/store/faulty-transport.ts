// A Transport that misbehaves on purpose, for tests: it drops, duplicates,
// delays and partitions messages as its FaultSpec says. Randomness and the
// delay timer are injected, so a seeded simulator replays it exactly.

import type { RaftEnvelope, Transport } from './peer';

export interface FaultSpec {
  /** Probability in [0, 1] that a message is lost. */
  dropRate?: number;
  /** Probability in [0, 1] that a message is delivered twice. */
  duplicateRate?: number;
  /** Each message waits a uniform delay in [0, maxDelayMs) before it is sent. */
  maxDelayMs?: number;
  /**
   * Groups of store ids; a message between stores in different groups is
   * lost. A store in no group is cut off from everyone.
   */
  partition?: number[][];
}

export interface FaultEnvironment {
  rand: () => number;
  /** Runs `fn` after `ms` milliseconds of (real or simulated) time. */
  schedule: (fn: () => void, ms: number) => void;
}

export class FaultyTransport implements Transport {
  private spec: FaultSpec = {};

  constructor(
    private readonly inner: Transport,
    private readonly env: FaultEnvironment,
  ) {}

  setFaults(spec: FaultSpec): void {
    this.spec = { ...spec };
  }

  send(envelopes: RaftEnvelope[]): void {
    for (const envelope of envelopes) {
      if (!this.connected(envelope.from.storeId, envelope.to.storeId)) continue;
      if (this.env.rand() < (this.spec.dropRate ?? 0)) continue;
      const copies = this.env.rand() < (this.spec.duplicateRate ?? 0) ? 2 : 1;
      for (let i = 0; i < copies; i++) this.deliver(envelope);
    }
  }

  private deliver(envelope: RaftEnvelope): void {
    const maxDelay = this.spec.maxDelayMs ?? 0;
    if (maxDelay <= 0) {
      this.inner.send([envelope]);
      return;
    }
    this.env.schedule(() => this.inner.send([envelope]), Math.floor(this.env.rand() * maxDelay));
  }

  private connected(fromStore: number, toStore: number): boolean {
    const groups = this.spec.partition;
    if (groups === undefined || fromStore === toStore) return true;
    return groups.some((g) => g.includes(fromStore) && g.includes(toStore));
  }
}
