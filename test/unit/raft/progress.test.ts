import { describe, expect, it } from 'vitest';
import { Inflights, Progress, ProgressState } from '../../../src/raft';
import { AssertionError } from '../../../src/util/assert';

/** A progress at (match, next) in the given state. */
function progress(match: number, next: number, state: ProgressState = ProgressState.Probe, inflight = 4): Progress {
  const pr = new Progress(next, inflight);
  pr.match = match;
  switch (state) {
    case ProgressState.Probe:
      break;
    case ProgressState.Replicate:
      pr.becomeReplicate();
      pr.next = next;
      break;
    case ProgressState.Snapshot:
      pr.becomeSnapshot(next - 1);
      break;
  }
  return pr;
}

describe('Progress state transitions', () => {
  it('becomeReplicate resumes right after match with an empty window', () => {
    const pr = progress(5, 9);
    pr.probeSent = true;
    pr.becomeReplicate();
    expect(pr.state).toBe(ProgressState.Replicate);
    expect(pr.next).toBe(6);
    expect(pr.probeSent).toBe(false);
    expect(pr.inflights.count).toBe(0);
  });

  it('becomeProbe from Replicate restarts at match + 1 and empties the window', () => {
    const pr = progress(5, 6, ProgressState.Replicate);
    pr.sentEntries(6, 3);
    pr.sentEntries(9, 2);
    expect(pr.next).toBe(11);
    pr.becomeProbe();
    expect(pr.state).toBe(ProgressState.Probe);
    expect(pr.next).toBe(6);
    expect(pr.inflights.count).toBe(0);
  });

  it('becomeProbe from Snapshot resumes after the snapshot, or after match if that is further', () => {
    const pr = progress(1, 2);
    pr.becomeSnapshot(10);
    expect(pr.state).toBe(ProgressState.Snapshot);
    expect(pr.pendingSnapshot).toBe(10);
    pr.becomeProbe();
    expect(pr.next).toBe(11);
    expect(pr.pendingSnapshot).toBe(0);

    const ahead = progress(15, 16);
    ahead.becomeSnapshot(10);
    ahead.becomeProbe();
    expect(ahead.next).toBe(16);
  });

  it('becomeProbe from Snapshot with the snapshot forgotten (failed send) restarts at match + 1', () => {
    const pr = progress(3, 4);
    pr.becomeSnapshot(10);
    pr.pendingSnapshot = 0;
    pr.becomeProbe();
    expect(pr.next).toBe(4);
  });
});

describe('Progress.maybeUpdate', () => {
  it('raises match and next on a newer ack', () => {
    const pr = progress(3, 5);
    pr.probeSent = true;
    expect(pr.maybeUpdate(4)).toBe(true);
    expect(pr.match).toBe(4);
    expect(pr.next).toBe(5);
    expect(pr.probeSent).toBe(false);
    expect(pr.maybeUpdate(8)).toBe(true);
    expect(pr.match).toBe(8);
    expect(pr.next).toBe(9);
  });

  it('reports a stale ack and keeps match; next never goes back', () => {
    const pr = progress(5, 10);
    pr.probeSent = true;
    expect(pr.maybeUpdate(5)).toBe(false);
    expect(pr.maybeUpdate(2)).toBe(false);
    expect(pr.match).toBe(5);
    expect(pr.next).toBe(10);
    // A stale ack proves nothing new: the probe is still outstanding.
    expect(pr.probeSent).toBe(true);
  });
});

describe('Progress.maybeDecrTo', () => {
  describe('in Replicate', () => {
    it('ignores a rejection at or below match as stale', () => {
      const pr = progress(5, 10, ProgressState.Replicate);
      expect(pr.maybeDecrTo(5, 5)).toBe(false);
      expect(pr.maybeDecrTo(4, 2)).toBe(false);
      expect(pr.next).toBe(10);
    });

    it('goes back to match + 1 on a rejection above match', () => {
      const pr = progress(5, 10, ProgressState.Replicate);
      expect(pr.maybeDecrTo(9, 9)).toBe(true);
      expect(pr.next).toBe(6);
    });
  });

  describe('in Probe', () => {
    it('ignores a rejection of anything but the last probe (next - 1) as stale', () => {
      const pr = progress(0, 10);
      expect(pr.maybeDecrTo(8, 3)).toBe(false);
      expect(pr.maybeDecrTo(10, 3)).toBe(false);
      expect(pr.next).toBe(10);
    });

    it('moves next to just after the hint', () => {
      const pr = progress(0, 10);
      pr.probeSent = true;
      expect(pr.maybeDecrTo(9, 4)).toBe(true);
      expect(pr.next).toBe(5);
      expect(pr.probeSent).toBe(false);
    });

    it('never moves next beyond the rejected index, nor below 1', () => {
      const high = progress(0, 10);
      expect(high.maybeDecrTo(9, 20)).toBe(true);
      expect(high.next).toBe(9);
      const low = progress(0, 2);
      expect(low.maybeDecrTo(1, 0)).toBe(true);
      expect(low.next).toBe(1);
    });
  });
});

describe('Progress.sentEntries and isPaused', () => {
  it('a probe pauses after one append until an answer or heartbeat unpauses it', () => {
    const pr = progress(0, 5);
    expect(pr.isPaused()).toBe(false);
    pr.sentEntries(5, 3);
    expect(pr.isPaused()).toBe(true);
    // A probe does not move next optimistically.
    expect(pr.next).toBe(5);
    pr.maybeUpdate(7);
    expect(pr.isPaused()).toBe(false);
  });

  it('an empty probe also pauses', () => {
    const pr = progress(0, 5);
    pr.sentEntries(5, 0);
    expect(pr.isPaused()).toBe(true);
  });

  it('replicate advances next per append and pauses only when the window is full', () => {
    const pr = progress(2, 3, ProgressState.Replicate, 2);
    pr.sentEntries(3, 2);
    expect(pr.next).toBe(5);
    expect(pr.isPaused()).toBe(false);
    // An empty append (commit only) takes no slot.
    pr.sentEntries(5, 0);
    expect(pr.inflights.count).toBe(1);
    pr.sentEntries(5, 1);
    expect(pr.next).toBe(6);
    expect(pr.isPaused()).toBe(true);
    pr.inflights.freeLE(4);
    expect(pr.isPaused()).toBe(false);
  });

  it('a follower waiting for a snapshot is always paused and takes no entries', () => {
    const pr = progress(2, 3);
    pr.becomeSnapshot(10);
    expect(pr.isPaused()).toBe(true);
    expect(() => pr.sentEntries(3, 1)).toThrow(AssertionError);
  });
});

describe('Inflights', () => {
  it('fills up to capacity and refuses more', () => {
    const inf = new Inflights(3);
    inf.add(1);
    inf.add(2);
    expect(inf.full()).toBe(false);
    inf.add(3);
    expect(inf.full()).toBe(true);
    expect(inf.count).toBe(3);
    expect(() => inf.add(4)).toThrow(AssertionError);
  });

  it('freeLE frees every message whose last index is <= to, oldest first', () => {
    const inf = new Inflights(10);
    for (const i of [2, 4, 6, 8, 10]) inf.add(i);
    inf.freeLE(1);
    expect(inf.count).toBe(5);
    inf.freeLE(5);
    expect(inf.count).toBe(3);
    inf.freeLE(6);
    expect(inf.count).toBe(2);
    inf.freeLE(20);
    expect(inf.count).toBe(0);
  });

  it('freeFirstOne frees exactly the oldest message, and nothing when empty', () => {
    const inf = new Inflights(4);
    inf.freeFirstOne();
    expect(inf.count).toBe(0);
    inf.add(3);
    inf.add(7);
    inf.freeFirstOne();
    expect(inf.count).toBe(1);
    // The one left is 7: freeing <= 6 keeps it, <= 7 frees it.
    inf.freeLE(6);
    expect(inf.count).toBe(1);
    inf.freeLE(7);
    expect(inf.count).toBe(0);
  });

  it('keeps order across the end of the ring buffer', () => {
    const inf = new Inflights(4);
    for (const i of [1, 2, 3, 4]) inf.add(i);
    inf.freeLE(2);
    // The next two slots wrap around to the front of the buffer.
    inf.add(5);
    inf.add(6);
    expect(inf.full()).toBe(true);
    inf.freeLE(3);
    expect(inf.count).toBe(3);
    inf.add(7);
    expect(inf.full()).toBe(true);
    inf.freeLE(5);
    expect(inf.count).toBe(2);
    inf.freeLE(6);
    expect(inf.count).toBe(1);
    inf.freeLE(7);
    expect(inf.count).toBe(0);
    // Usable again from empty.
    for (const i of [8, 9, 10, 11]) inf.add(i);
    expect(inf.full()).toBe(true);
  });

  it('reset empties the window', () => {
    const inf = new Inflights(2);
    inf.add(1);
    inf.add(2);
    inf.reset();
    expect(inf.count).toBe(0);
    inf.add(3);
    inf.freeLE(2);
    expect(inf.count).toBe(1);
  });

  it('needs a positive capacity', () => {
    expect(() => new Inflights(0)).toThrow(AssertionError);
  });
});
