// The leader's view of one follower: how much of the log it has (match), what
// to send next (next), and how to send it (probe, replicate or snapshot).

import { assert } from '../util/assert';
import { Inflights } from './inflights';

export const ProgressState = {
  /** Unknown position: send one append per heartbeat until one is accepted. */
  Probe: 'Probe',
  /** Known position: stream appends optimistically, bounded by inflights. */
  Replicate: 'Replicate',
  /** The follower needs a snapshot; appends wait until it is applied. */
  Snapshot: 'Snapshot',
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

export class Progress {
  /** Highest index known to be replicated on the follower. Invariant: match < next. */
  match: number;
  /** Index of the next entry to send. */
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** In Snapshot state: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /**
   * In Snapshot state: set at one check-quorum boundary and acted on at the
   * next, so a snapshot whose fate nobody reported is retried after at most
   * two election timeouts instead of waiting forever.
   */
  snapshotStale = false;
  /** Heard from the follower since the last check-quorum round. */
  recentActive = false;
  /** In Probe state: an append was sent and no answer or heartbeat came back yet. */
  probeSent = false;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number) {
    this.match = 0;
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotStale = false;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, the follower has at least the snapshot's entries.
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** Records an acknowledgement of n. Returns false if it is stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * Handles a rejection of the append at index `rejected`; `matchHint` is the
   * highest index the follower might share with us. Returns false if the
   * rejection is stale (it answers an older append).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    // Never below match + 1 (the invariant): a delayed or duplicated rejection
    // can match `next` by chance after the follower acknowledged more, and
    // probing below what it acknowledged re-sends entries it has, one probe
    // per heartbeat, until `next` climbs back (as in etcd).
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Bookkeeping after sending an append carrying `count` entries from `firstIndex`. */
  sentEntries(firstIndex: number, count: number): void {
    switch (this.state) {
      case ProgressState.Replicate:
        if (count > 0) {
          const last = firstIndex + count - 1;
          // Pipelining: assume it arrives, and send the next batch right away.
          this.next = last + 1;
          this.inflights.add(last);
        }
        break;
      case ProgressState.Probe:
        this.probeSent = true;
        break;
      case ProgressState.Snapshot:
        assert(false, 'sending entries to a follower waiting for a snapshot');
    }
  }

  /** Whether sending appends to this follower should wait. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }
}
