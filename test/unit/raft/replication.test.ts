import { describe, expect, it } from 'vitest';
import {
  type Entry,
  MemoryStorage,
  type Message,
  MessageType,
  ProgressState,
  type Raft,
  RawNode,
  StateType,
  entrySize,
} from '../../../src/raft';
import { Network, entry, msgsOf, newTestRaft, storageWithTerms } from './network';

/** Terms for a log: `counts[i]` entries of term `terms[i]`, in order. */
function runs(...spec: [term: number, count: number][]): number[] {
  return spec.flatMap(([term, count]) => new Array<number>(count).fill(term));
}

function pairs(ents: Entry[]): [number, number][] {
  return ents.map((e) => [e.index, e.term]);
}

/** A two-node network: node 1 has `leaderTerms` and will win; node 2 has `followerTerms`. */
function divergedPair(leaderTerms: number[], followerTerms: number[]): Network {
  const s1 = storageWithTerms(leaderTerms);
  s1.setHardState({ term: Math.max(...leaderTerms), vote: 0, commit: 0 });
  const s2 = storageWithTerms(followerTerms);
  s2.setHardState({ term: Math.max(...followerTerms), vote: 0, commit: 0 });
  return new Network([newTestRaft(1, [1, 2], s1), newTestRaft(2, [1, 2], s2)]);
}

function rejections(nw: Network, from: number): Message[] {
  return nw.delivered.filter((m) => m.type === MessageType.AppendResponse && m.from === from && m.reject);
}

/** A 3-node network with node 1 elected and everything delivered. */
function electedNetwork(config: Parameters<typeof newTestRaft>[3] = {}): Network {
  const nw = new Network([undefined, undefined, undefined], config);
  nw.campaign(1);
  expect(nw.peer(1).state).toBe(StateType.Leader);
  nw.delivered = [];
  return nw;
}

function proposal(data = new Uint8Array([1])): Entry {
  return entry(0, 0, data);
}

describe('log conflict backtracking with reject hints', () => {
  it('skips a whole run of conflicting entries in one round trip', () => {
    // index:    1..3 | 4..15 | 16..30
    // leader:     1  |   4 (4..20)
    // follower:   1  |   2   |   3
    const nw = divergedPair(runs([1, 3], [4, 17]), runs([1, 3], [2, 12], [3, 15]));
    nw.campaign(1);
    const leader = nw.peer(1);
    const follower = nw.peer(2);
    expect(leader.state).toBe(StateType.Leader);
    // 27 conflicting entries, one rejection.
    expect(rejections(nw, 2)).toHaveLength(1);
    expect(pairs(follower.raftLog.allEntries())).toEqual(pairs(leader.raftLog.allEntries()));
    expect(follower.raftLog.lastIndex()).toBe(21);
    expect(leader.raftLog.committed).toBe(21);
    expect(leader.prs.get(2)!.match).toBe(21);
  });

  it('takes about one round trip per conflicting term, not per entry', () => {
    // index:    1..3 | 4..13 | 14..23 | 24..33
    // leader:     1  |   2   |   4    |   6
    // follower:   1  |   3   |   5
    const nw = divergedPair(runs([1, 3], [2, 10], [4, 10], [6, 10]), runs([1, 3], [3, 10], [5, 10]));
    nw.campaign(1);
    const leader = nw.peer(1);
    const follower = nw.peer(2);
    expect(leader.state).toBe(StateType.Leader);
    const rejected = rejections(nw, 2);
    // One per term boundary the probe crosses (6→5, 4→3, 2→1); walking one
    // entry at a time would take 30.
    expect(rejected).toHaveLength(3);
    // Every hint names a term boundary of the follower's log.
    expect(rejected.map((m) => [m.rejectHint, m.logTerm])).toEqual([
      [23, 5],
      [13, 3],
      [3, 1],
    ]);
    expect(pairs(follower.raftLog.allEntries())).toEqual(pairs(leader.raftLog.allEntries()));
    expect(follower.raftLog.committed).toBe(34);
  });

  it('a follower with a short log hints its last index', () => {
    const nw = divergedPair(runs([1, 3], [2, 20]), runs([1, 3]));
    nw.campaign(1);
    const rejected = rejections(nw, 2);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.rejectHint).toBe(3);
    expect(nw.peer(2).raftLog.lastIndex()).toBe(24);
  });
});

describe('flow control', () => {
  it('caps the bytes of one append, but always sends at least one entry', () => {
    const data = new Uint8Array(10);
    const size = entrySize(entry(0, 0, data));
    const nw = electedNetwork({ maxSizePerMsg: size * 2 });
    const leader = nw.peer(1);
    leader.step({ type: MessageType.Propose, from: 1, entries: [1, 2, 3, 4, 5].map(() => proposal(data)) });
    const appends = msgsOf(leader.readMessages(), MessageType.Append, 2);
    expect(appends.map((m) => pairs(m.entries).map(([i]) => i))).toEqual([[2, 3], [4, 5], [6]]);
    for (const m of appends) expect(m.entries.reduce((n, e) => n + entrySize(e), 0)).toBeLessThanOrEqual(size * 2);

    const tiny = electedNetwork({ maxSizePerMsg: 1 });
    tiny.peer(1).step({ type: MessageType.Propose, from: 1, entries: [proposal(data), proposal(data)] });
    const one = msgsOf(tiny.peer(1).readMessages(), MessageType.Append, 2);
    expect(one.map((m) => m.entries.length)).toEqual([1, 1]);
  });

  it('keeps at most maxInflightMsgs appends in flight to a follower that does not ack', () => {
    const nw = electedNetwork({ maxInflightMsgs: 3 });
    const leader = nw.peer(1);
    const pr = leader.prs.get(2)!;
    expect(pr.state).toBe(ProgressState.Replicate);
    nw.ignore(MessageType.AppendResponse);
    for (let i = 0; i < 5; i++) nw.propose(1);
    const sent = msgsOf(nw.delivered, MessageType.Append, 2);
    expect(sent.map((m) => m.index)).toEqual([1, 2, 3]);
    expect(pr.inflights.full()).toBe(true);
    expect(pr.isPaused()).toBe(true);
    expect(pr.match).toBe(1);
    expect(pr.next).toBe(5);
    expect(leader.raftLog.lastIndex()).toBe(6);
    // Nothing more goes out until a slot frees up.
    leader.step({ type: MessageType.Propose, from: 1, entries: [proposal()] });
    expect(msgsOf(leader.readMessages(), MessageType.Append, 2)).toEqual([]);

    // A heartbeat response shows the follower is alive: one slot is freed.
    leader.step({ type: MessageType.HeartbeatResponse, from: 2, to: 1, term: leader.term });
    const resumed = msgsOf(leader.readMessages(), MessageType.Append, 2);
    expect(resumed).toHaveLength(1);
    expect(resumed[0]!.index).toBe(4);
    expect(pairs(resumed[0]!.entries).map(([i]) => i)).toEqual([5, 6, 7]);
    expect(pr.inflights.full()).toBe(true);
  });

  it('an ack frees the slots of every append it covers', () => {
    const nw = electedNetwork({ maxInflightMsgs: 3 });
    const leader = nw.peer(1);
    const pr = leader.prs.get(2)!;
    nw.ignore(MessageType.AppendResponse);
    for (let i = 0; i < 4; i++) nw.propose(1);
    expect(pr.inflights.full()).toBe(true);
    leader.step({ type: MessageType.AppendResponse, from: 2, to: 1, term: leader.term, index: 3 });
    expect(pr.match).toBe(3);
    // Two slots freed (the appends ending at 2 and 3); entry 5 goes out in one of them.
    const more = msgsOf(leader.readMessages(), MessageType.Append, 2).filter((m) => m.entries.length > 0);
    expect(more.map((m) => [m.index, m.entries.length])).toEqual([[4, 1]]);
    expect(pr.inflights.count).toBe(2);
    expect(pr.next).toBe(6);
  });
});

describe('pipelining', () => {
  it('streams appends back to back without waiting for acks, advancing next optimistically', () => {
    const nw = electedNetwork();
    const leader = nw.peer(1);
    const pr = leader.prs.get(2)!;
    nw.ignore(MessageType.AppendResponse);
    nw.propose(1);
    nw.propose(1);
    nw.propose(1);
    const sent = msgsOf(nw.delivered, MessageType.Append, 2);
    expect(sent.map((m) => [m.index, m.entries.length])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    expect(pr.match).toBe(1);
    expect(pr.next).toBe(5);
    expect(pr.inflights.count).toBe(3);
    // The follower did get them all.
    expect(nw.peer(2).raftLog.lastIndex()).toBe(4);
  });

  it('falls back to probing from match + 1 on a rejection', () => {
    const nw = electedNetwork();
    const leader = nw.peer(1);
    const pr = leader.prs.get(2)!;
    nw.ignore(MessageType.AppendResponse);
    nw.propose(1);
    nw.propose(1);
    nw.propose(1);
    // The follower rejects the third append (the one after index 3).
    leader.step({ type: MessageType.AppendResponse, from: 2, to: 1, term: leader.term, index: 3, reject: true, rejectHint: 1, logTerm: 1 });
    expect(pr.state).toBe(ProgressState.Probe);
    expect(pr.inflights.count).toBe(0);
    const probe = msgsOf(leader.readMessages(), MessageType.Append, 2);
    expect(probe).toHaveLength(1);
    expect(probe[0]!.index).toBe(1);
    expect(pairs(probe[0]!.entries).map(([i]) => i)).toEqual([2, 3, 4]);
    // One probe at a time: the next proposal waits for its answer.
    expect(pr.isPaused()).toBe(true);
    leader.step({ type: MessageType.Propose, from: 1, entries: [proposal()] });
    expect(msgsOf(leader.readMessages(), MessageType.Append, 2)).toEqual([]);
  });

  it('a stale rejection (at or below match) does not disturb replication', () => {
    const nw = electedNetwork();
    const leader = nw.peer(1);
    const pr = leader.prs.get(2)!;
    nw.propose(1);
    expect(pr.match).toBe(2);
    leader.step({ type: MessageType.AppendResponse, from: 2, to: 1, term: leader.term, index: 1, reject: true, rejectHint: 0 });
    expect(pr.state).toBe(ProgressState.Replicate);
    expect(pr.next).toBe(3);
    expect(leader.readMessages()).toEqual([]);
  });
});

describe('batching', () => {
  it('many proposals stepped in a row leave in one append per follower', () => {
    const nw = electedNetwork();
    const leader = nw.peer(1);
    for (let i = 0; i < 5; i++) {
      expect(leader.step({ type: MessageType.Propose, from: 1, entries: [proposal(new Uint8Array([i]))] })).toBe('Ok');
    }
    const msgs = leader.readMessages();
    for (const id of [2, 3]) {
      const appends = msgsOf(msgs, MessageType.Append, id);
      expect(appends).toHaveLength(1);
      expect(pairs(appends[0]!.entries).map(([i]) => i)).toEqual([2, 3, 4, 5, 6]);
    }
    nw.send(...msgs);
    for (const id of [1, 2, 3]) expect(nw.peer(id).raftLog.committed).toBe(6);
  });
});

describe('the leader counts itself only for what it persisted', () => {
  function readyLoop(n: RawNode, s: MemoryStorage): void {
    while (n.hasReady()) {
      const rd = n.ready();
      s.append(rd.entries);
      if (rd.hardState) s.setHardState(rd.hardState);
      n.advance(rd);
    }
  }

  it('single node: a proposal commits only after advance() reports it durable', () => {
    const s = new MemoryStorage();
    const n = new RawNode({ id: 1, peers: [1], electionTick: 10, heartbeatTick: 1, storage: s });
    n.campaign();
    readyLoop(n, s);
    expect(n.raft.state).toBe(StateType.Leader);
    expect(n.raft.raftLog.committed).toBe(1);

    expect(n.propose(new Uint8Array([42]))).toBe('Ok');
    const rd = n.ready();
    expect(pairs(rd.entries)).toEqual([[2, 1]]);
    expect(rd.committedEntries).toEqual([]);
    expect(n.raft.raftLog.committed).toBe(1);
    s.append(rd.entries);
    n.advance(rd);
    expect(n.raft.raftLog.committed).toBe(2);
    const next = n.ready();
    expect(next.hardState?.commit).toBe(2);
    expect(pairs(next.committedEntries)).toEqual([[2, 1]]);
    n.advance(next);
  });

  it('three nodes: one follower ack plus an unpersisted leader entry is not a quorum', () => {
    const s1 = new MemoryStorage();
    const n1 = new RawNode({ id: 1, peers: [1, 2, 3], electionTick: 10, heartbeatTick: 1, storage: s1 });
    const f2: Raft = newTestRaft(2, [1, 2, 3]);
    n1.campaign();
    let rd = n1.ready();
    if (rd.hardState) s1.setHardState(rd.hardState);
    n1.advance(rd);
    for (const m of rd.messages) if (m.to === 2) f2.step(m);
    for (const m of f2.readMessages()) n1.step(m);
    expect(n1.raft.state).toBe(StateType.Leader);

    // The leader sends its appends before persisting its own copy.
    rd = n1.ready();
    expect(pairs(rd.entries)).toEqual([[1, 1]]);
    const append = msgsOf(rd.messages, MessageType.Append, 2);
    expect(append).toHaveLength(1);
    f2.step(append[0]!);
    for (const m of f2.readMessages()) n1.step(m);
    expect(n1.raft.prs.get(2)!.match).toBe(1);
    expect(n1.raft.raftLog.committed).toBe(0);

    s1.append(rd.entries);
    n1.advance(rd);
    expect(n1.raft.raftLog.committed).toBe(1);
  });
});

describe('a new leader and its own unpersisted entries', () => {
  it('starts its own match at what it persisted, not at its last index', () => {
    const r = newTestRaft(1, [1, 2, 3]);
    // Entries 1..2 arrive from a leader of term 1 and are not persisted yet.
    r.step({ type: MessageType.Append, from: 2, to: 1, term: 1, index: 0, logTerm: 0, entries: [entry(1, 1), entry(2, 1)] });
    r.readMessages();
    expect(r.raftLog.stabled).toBe(0);
    r.becomeCandidate();
    r.becomeLeader();
    expect(r.raftLog.lastIndex()).toBe(3);
    expect(r.prs.get(1)!.match).toBe(0);
    // Once durable (readMessages treats the log as persisted), it counts.
    r.readMessages();
    expect(r.prs.get(1)!.match).toBe(3);
  });
});

describe('heartbeats', () => {
  it('carry commit = min(match, committed) for each follower', () => {
    const nw = electedNetwork();
    const leader = nw.peer(1);
    nw.isolate(3);
    nw.propose(1);
    nw.propose(1);
    expect(leader.raftLog.committed).toBe(3);
    expect(leader.prs.get(3)!.match).toBe(1);
    leader.step({ type: MessageType.Beat, from: 1 });
    const msgs = leader.readMessages();
    expect(msgsOf(msgs, MessageType.Heartbeat, 2).map((m) => m.commit)).toEqual([3]);
    expect(msgsOf(msgs, MessageType.Heartbeat, 3).map((m) => m.commit)).toEqual([1]);
    // A follower that has the entries commits them from a heartbeat.
    nw.recover();
    const follower3 = nw.peer(3);
    follower3.step(msgsOf(msgs, MessageType.Heartbeat, 3)[0]!);
    expect(follower3.raftLog.committed).toBe(1);
  });
});
