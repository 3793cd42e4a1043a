// The simulated network. Raft traffic between peers goes through the
// production FaultyTransport (drops, duplicates, random delay, partitions by
// store), whose randomness and timer are the simulation's, so a seed replays
// it exactly; every message also pays a base latency. Calls from the worker
// (the router) to peers and to the scheduler cross the same network: they pay
// latency too and, when the test says so, may be lost or find a store
// unreachable, which the caller only notices through its RPC timeout.

import { type FaultSpec, FaultyTransport } from '../../../src/store/faulty-transport';
import type { RaftEnvelope, Transport } from '../../../src/store/peer';
import type { SimClock } from './clock';
import { deepCopy } from './copy';

export interface NetworkFaults {
  /** Probability that a Raft message is lost. */
  dropRate: number;
  /** Probability that a Raft message is delivered twice. */
  duplicateRate: number;
  /** Each message (Raft or RPC) waits baseLatencyMs plus a uniform [0, jitterMs) on top. */
  jitterMs: number;
  /**
   * Probability that a Raft message is held up for 0.5–3 s more (a stuck
   * connection): it arrives terms later, among much newer messages.
   */
  longDelayRate: number;
  /**
   * Groups of store ids; Raft messages between groups are lost. Undefined:
   * everyone reaches everyone.
   */
  partition: number[][] | undefined;
  /** Probability that a worker-to-peer request or its answer is lost. */
  rpcDropRate: number;
  /** Stores the worker can reach; undefined: all of them. */
  workerReach: number[] | undefined;
}

export const reliableNetwork: NetworkFaults = {
  dropRate: 0,
  duplicateRate: 0,
  jitterMs: 4,
  longDelayRate: 0,
  partition: undefined,
  rpcDropRate: 0,
  workerReach: undefined,
};

/** Every message takes at least this long: nothing in the cluster is instantaneous. */
export const baseLatencyMs = 1;

export interface NetworkStats {
  raftDelivered: number;
  rpcLost: number;
}

export class SimNetwork {
  readonly transport: Transport;
  readonly stats: NetworkStats = { raftDelivered: 0, rpcLost: 0 };
  private readonly faulty: FaultyTransport;
  private faults: NetworkFaults = { ...reliableNetwork };

  constructor(
    private readonly clock: SimClock,
    private readonly rand: () => number,
    /** Hands a message that arrived to its addressee (the cluster knows who is up). */
    deliver: (envelope: RaftEnvelope) => void,
  ) {
    const wire: Transport = {
      send: (envelopes) => {
        for (const envelope of envelopes) {
          // A copy, as RPC serializes: the receiver must not share objects with the sender.
          const copy = deepCopy(envelope);
          const stuck = this.rand() < this.faults.longDelayRate ? 500 + Math.floor(this.rand() * 2_500) : 0;
          this.clock.setTimer(baseLatencyMs + stuck, () => {
            this.stats.raftDelivered++;
            deliver(copy);
          });
        }
      },
    };
    this.faulty = new FaultyTransport(wire, { rand, schedule: (fn, ms) => this.clock.setTimer(ms, fn) });
    this.transport = this.faulty;
    this.setFaults(reliableNetwork);
  }

  setFaults(faults: Partial<NetworkFaults>): void {
    this.faults = { ...this.faults, ...faults };
    const spec: FaultSpec = {
      dropRate: this.faults.dropRate,
      duplicateRate: this.faults.duplicateRate,
      maxDelayMs: this.faults.jitterMs,
    };
    if (this.faults.partition !== undefined) spec.partition = this.faults.partition;
    this.faulty.setFaults(spec);
  }

  /** Removes partitions and loss; latency stays, as it does on a healthy network. */
  heal(): void {
    this.setFaults({
      dropRate: 0,
      duplicateRate: 0,
      longDelayRate: 0,
      partition: undefined,
      rpcDropRate: 0,
      workerReach: undefined,
    });
  }

  /** One message's latency, drawn from the seeded generator. */
  latency(): number {
    return baseLatencyMs + Math.floor(this.rand() * this.faults.jitterMs);
  }

  /**
   * Whether one worker-to-store message (a request or an answer) gets
   * through. Always draws, so that the random stream does not depend on
   * which faults are on.
   */
  rpcGetsThrough(storeId: number): boolean {
    const lost = this.rand() < this.faults.rpcDropRate;
    const reachable = this.faults.workerReach === undefined || this.faults.workerReach.includes(storeId);
    if (lost || !reachable) {
      this.stats.rpcLost++;
      return false;
    }
    return true;
  }

}
