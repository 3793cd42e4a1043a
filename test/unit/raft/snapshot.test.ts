import { describe, expect, it } from 'vitest';
import {
  MemoryStorage,
  type Message,
  MessageType,
  ProgressState,
  RawNode,
  type Snapshot,
  StateType,
} from '../../../src/raft';
import { Network, entry, msgsOf, newTestRaft, persistLog, storageWithTerms, tickNode } from './network';

function snapshotAt(index: number, term: number, voters: number[]): Snapshot {
  return { data: new Uint8Array([index]), metadata: { index, term, confState: { voters } } };
}

/**
 * A 3-node network where node 3 missed entries 2..7 and the leader (1) has
 * compacted its log through 7 into a snapshot: node 3 can only catch up by
 * snapshot. Nothing has been sent to node 3 since.
 */
function laggingBehindSnapshot(): Network {
  const nw = new Network([undefined, undefined, undefined]);
  nw.campaign(1);
  nw.isolate(3);
  for (let i = 0; i < 6; i++) nw.propose(1);
  const leader = nw.peer(1);
  expect(leader.raftLog.committed).toBe(7);
  const s1 = nw.storages.get(1)!;
  persistLog(leader, s1);
  leader.raftLog.appliedTo(7);
  s1.createSnapshot(7, { voters: [1, 2, 3] }, new Uint8Array([7]));
  s1.compact(7);
  expect(leader.raftLog.firstIndex()).toBe(8);
  expect(leader.prs.get(3)!.match).toBe(1);
  nw.recover();
  nw.delivered = [];
  return nw;
}

function snapshotsTo(msgs: Message[], to: number): Message[] {
  return msgsOf(msgs, MessageType.Snapshot, to);
}

describe('sending a snapshot', () => {
  it('sends the snapshot when the follower needs entries below firstIndex, and resumes replication after', () => {
    const nw = laggingBehindSnapshot();
    const leader = nw.peer(1);
    const follower = nw.peer(3);
    // A heartbeat round trip shows the leader where node 3 really is.
    tickNode(nw, 1, 1);
    const sent = snapshotsTo(nw.delivered, 3);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.snapshot!.metadata).toEqual({ index: 7, term: 1, confState: { voters: [1, 2, 3] } });
    // No appends are attempted below the snapshot.
    for (const m of msgsOf(nw.delivered, MessageType.Append, 3)) expect(m.index).toBeGreaterThanOrEqual(7);

    // The follower installed it ...
    expect(follower.raftLog.pendingSnapshot?.metadata.index).toBe(7);
    expect(follower.raftLog.committed).toBe(7);
    expect(follower.raftLog.lastIndex()).toBe(7);
    expect(follower.raftLog.firstIndex()).toBe(8);
    expect([...follower.prs.keys()].sort()).toEqual([1, 2, 3]);
    // ... and acknowledged it with an AppendResponse at the snapshot index.
    const afterSnap = nw.delivered.slice(nw.delivered.indexOf(sent[0]!));
    expect(msgsOf(afterSnap, MessageType.AppendResponse, 1).filter((m) => m.from === 3)[0]).toMatchObject({
      index: 7,
      reject: false,
    });
    const pr = leader.prs.get(3)!;
    expect(pr.match).toBe(7);
    expect(pr.state).toBe(ProgressState.Replicate);

    // New entries flow to it as appends again.
    nw.propose(1);
    expect(follower.raftLog.lastIndex()).toBe(8);
    expect(follower.raftLog.committed).toBe(8);
  });

  it('does not send a snapshot to a follower it has not heard from', () => {
    const nw = laggingBehindSnapshot();
    const leader = nw.peer(1);
    const pr = leader.prs.get(3)!;
    // As after a check-quorum round in which node 3 stayed silent.
    pr.recentActive = false;
    pr.becomeProbe();
    expect(pr.next).toBe(2);
    // A proposal makes the leader try every follower.
    leader.step({ type: MessageType.Propose, from: 1, entries: [entry(0, 0)] });
    const msgs = leader.readMessages();
    expect(msgsOf(msgs, MessageType.Append, 2)).toHaveLength(1);
    expect(msgsOf(msgs, MessageType.Append, 3)).toEqual([]);
    expect(snapshotsTo(msgs, 3)).toEqual([]);
    expect(pr.state).toBe(ProgressState.Probe);
  });
});

describe('receiving a snapshot', () => {
  it('goes out through Ready.snapshot; installing it and advancing makes applied the snapshot index', () => {
    const s = new MemoryStorage();
    const n = new RawNode({ id: 2, peers: [1, 2], electionTick: 10, heartbeatTick: 1, storage: s });
    const snap = snapshotAt(10, 2, [1, 2]);
    n.step({ type: MessageType.Snapshot, from: 1, to: 2, term: 2, snapshot: snap });
    expect(n.hasReady()).toBe(true);
    const rd = n.ready();
    expect(rd.snapshot).toBe(snap);
    expect(rd.entries).toEqual([]);
    expect(rd.committedEntries).toEqual([]);
    expect(rd.hardState).toEqual({ term: 2, vote: 0, commit: 10 });
    expect(rd.softState).toEqual({ lead: 1, raftState: StateType.Follower });
    expect(rd.messages).toHaveLength(1);
    expect(rd.messages[0]).toMatchObject({ type: MessageType.AppendResponse, to: 1, index: 10, reject: false });

    s.applySnapshot(rd.snapshot!);
    s.setHardState(rd.hardState!);
    n.advance(rd);
    expect(n.raft.raftLog.applied).toBe(10);
    expect(n.raft.raftLog.pendingSnapshot).toBeUndefined();
    expect(n.raft.raftLog.firstIndex()).toBe(11);
    expect(n.hasReady()).toBe(false);

    // The log continues after the snapshot.
    n.step({ type: MessageType.Append, from: 1, to: 2, term: 2, index: 10, logTerm: 2, entries: [entry(11, 2)], commit: 11 });
    const rd2 = n.ready();
    expect(rd2.entries.map((e) => e.index)).toEqual([11]);
    expect(rd2.committedEntries.map((e) => e.index)).toEqual([11]);
    s.append(rd2.entries);
    s.setHardState(rd2.hardState!);
    n.advance(rd2);

    // A restart from that storage picks the group up from the snapshot.
    const restarted = new RawNode({ id: 2, electionTick: 10, heartbeatTick: 1, storage: s, applied: 11 });
    expect([...restarted.raft.prs.keys()].sort()).toEqual([1, 2]);
    expect(restarted.raft.raftLog.firstIndex()).toBe(11);
    expect(restarted.raft.raftLog.applied).toBe(11);
  });

  it('ignores a stale snapshot (index <= committed) and answers with its commit index', () => {
    const s = storageWithTerms([1, 1, 1, 1, 1]);
    s.setHardState({ term: 1, vote: 0, commit: 5 });
    const r = newTestRaft(2, [1, 2], s);
    for (const index of [3, 5]) {
      r.step({ type: MessageType.Snapshot, from: 1, to: 2, term: 1, snapshot: snapshotAt(index, 1, [1, 2]) });
      expect(r.raftLog.pendingSnapshot).toBeUndefined();
      expect(r.raftLog.lastIndex()).toBe(5);
      expect(r.raftLog.committed).toBe(5);
      const resp = r.readMessages();
      expect(resp).toHaveLength(1);
      expect(resp[0]).toMatchObject({ type: MessageType.AppendResponse, to: 1, index: 5, reject: false });
    }
  });

  it('only fast-forwards commit when it already has the snapshot entry', () => {
    const s = storageWithTerms([1, 1, 1, 1, 1]);
    s.setHardState({ term: 1, vote: 0, commit: 2 });
    const r = newTestRaft(2, [1, 2], s);
    r.step({ type: MessageType.Snapshot, from: 1, to: 2, term: 1, snapshot: snapshotAt(4, 1, [1, 2]) });
    expect(r.raftLog.pendingSnapshot).toBeUndefined();
    expect(r.raftLog.committed).toBe(4);
    // The log, including the entry after the snapshot, stays.
    expect(r.raftLog.lastIndex()).toBe(5);
    expect(r.raftLog.firstIndex()).toBe(1);
    expect(r.readMessages()[0]).toMatchObject({ type: MessageType.AppendResponse, index: 4 });
  });

  it('replaces the log when its entry at the snapshot index has another term', () => {
    const s = storageWithTerms([1, 1, 1, 1, 1]);
    s.setHardState({ term: 1, vote: 0, commit: 2 });
    const r = newTestRaft(2, [1, 2], s);
    r.step({ type: MessageType.Snapshot, from: 1, to: 2, term: 2, snapshot: snapshotAt(4, 2, [1, 2, 3]) });
    expect(r.raftLog.pendingSnapshot?.metadata.index).toBe(4);
    expect(r.raftLog.committed).toBe(4);
    expect(r.raftLog.lastIndex()).toBe(4);
    expect(r.raftLog.lastTerm()).toBe(2);
    expect([...r.prs.keys()].sort()).toEqual([1, 2, 3]);
    expect(r.readMessages()[0]).toMatchObject({ type: MessageType.AppendResponse, index: 4 });
  });
});

describe('snapshot status', () => {
  /** The leader sent the snapshot, but it vanished on the way. */
  function snapshotInFlight(): Network {
    const nw = laggingBehindSnapshot();
    nw.ignore(MessageType.Snapshot);
    tickNode(nw, 1, 1);
    nw.recover();
    const pr = nw.peer(1).prs.get(3)!;
    expect(pr.state).toBe(ProgressState.Snapshot);
    expect(pr.pendingSnapshot).toBe(7);
    expect(nw.peer(3).raftLog.lastIndex()).toBe(1);
    return nw;
  }

  it('Failure: probes again from match + 1, after the next heartbeat response', () => {
    const nw = snapshotInFlight();
    const leader = nw.peer(1);
    const pr = leader.prs.get(3)!;
    leader.step({ type: MessageType.SnapshotStatus, from: 3, reject: true });
    expect(pr.state).toBe(ProgressState.Probe);
    expect(pr.next).toBe(2);
    expect(pr.isPaused()).toBe(true);
    expect(leader.readMessages()).toEqual([]);
    // The next heartbeat round trip retries, and this time it arrives.
    nw.delivered = [];
    tickNode(nw, 1, 1);
    expect(snapshotsTo(nw.delivered, 3)).toHaveLength(1);
    expect(nw.peer(3).raftLog.committed).toBe(7);
    expect(pr.match).toBe(7);
  });

  it('Finish: probes from after the snapshot', () => {
    const nw = snapshotInFlight();
    const leader = nw.peer(1);
    const pr = leader.prs.get(3)!;
    leader.step({ type: MessageType.SnapshotStatus, from: 3, reject: false });
    expect(pr.state).toBe(ProgressState.Probe);
    expect(pr.next).toBe(8);
    expect(pr.isPaused()).toBe(true);
  });

  it('a status for a follower not waiting for a snapshot changes nothing', () => {
    const nw = laggingBehindSnapshot();
    const leader = nw.peer(1);
    const pr = leader.prs.get(2)!;
    const before = { state: pr.state, next: pr.next, match: pr.match };
    leader.step({ type: MessageType.SnapshotStatus, from: 2, reject: true });
    expect({ state: pr.state, next: pr.next, match: pr.match }).toEqual(before);
  });

  it('an unreported snapshot is sent again after at most two election timeouts', () => {
    const nw = laggingBehindSnapshot();
    const leader = nw.peer(1);
    const pr = leader.prs.get(3)!;
    // The snapshot goes out on the first tick and is lost; then node 3 stays unreachable.
    nw.ignore(MessageType.Snapshot);
    tickNode(nw, 1, 1);
    nw.recover();
    nw.isolate(3);
    expect(pr.state).toBe(ProgressState.Snapshot);
    // One election-timeout boundary passes: the snapshot is only marked as overdue.
    tickNode(nw, 1, leader.electionTimeout - 1);
    expect(pr.state).toBe(ProgressState.Snapshot);
    // The second boundary gives up on it.
    tickNode(nw, 1, leader.electionTimeout);
    expect(pr.state).toBe(ProgressState.Probe);
    expect(leader.state).toBe(StateType.Leader);

    nw.recover();
    nw.delivered = [];
    tickNode(nw, 1, 1);
    expect(snapshotsTo(nw.delivered, 3)).toHaveLength(1);
    expect(nw.peer(3).raftLog.committed).toBe(7);
    expect(pr.state).toBe(ProgressState.Replicate);
  });
});

describe('campaigning with an unapplied snapshot', () => {
  it('a node holding a received snapshot it has not applied yet does not campaign', () => {
    const nw = laggingBehindSnapshot();
    const leader = nw.peer(1);
    const node3 = nw.peer(3);
    tickNode(nw, 1, 1);
    expect(node3.raftLog.pendingSnapshot?.metadata.index).toBe(7);
    // Neither an election timeout nor a transfer makes it campaign (nor crash).
    for (let i = 0; i < node3.electionTimeout * 2; i++) node3.tick();
    node3.step({ type: MessageType.TimeoutNow, from: 1, to: 3, term: leader.term });
    expect(node3.state).toBe(StateType.Follower);
    expect(node3.term).toBe(1);
    expect(msgsOf(node3.readMessages(), MessageType.RequestVote)).toEqual([]);
  });

  it('through RawNode: it campaigns once the snapshot is applied', () => {
    const s = new MemoryStorage();
    const n = new RawNode({ id: 2, peers: [1, 2], electionTick: 10, heartbeatTick: 1, storage: s });
    n.step({ type: MessageType.Snapshot, from: 1, to: 2, term: 2, snapshot: snapshotAt(10, 2, [1, 2]) });
    n.step({ type: MessageType.TimeoutNow, from: 1, to: 2, term: 2 });
    expect(n.raft.state).toBe(StateType.Follower);
    const rd = n.ready();
    s.applySnapshot(rd.snapshot!);
    s.setHardState(rd.hardState!);
    n.advance(rd);
    n.step({ type: MessageType.TimeoutNow, from: 1, to: 2, term: 2 });
    expect(n.raft.state).toBe(StateType.Candidate);
    expect(n.raft.term).toBe(3);
  });
});

