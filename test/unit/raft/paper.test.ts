// Scenario tests for the rules of the Raft paper, §5 (Ongaro & Ousterhout,
// "In Search of an Understandable Consensus Algorithm"): terms and roles
// (§5.1), leader election (§5.2), log replication (§5.3) and safety (§5.4).
// Each test drives one rule either on a single Raft, stepping messages by
// hand, or on the in-memory Network, and fails if the rule is broken.

import { describe, expect, it } from 'vitest';
import {
  EntryType,
  MemoryStorage,
  type Message,
  type MessageInit,
  MessageType,
  None,
  Raft,
  StateType,
} from '../../../src/raft';
import { Network, entry, newTestRaft, seededRandom, storageWithTerms } from './network';

const ids3 = [1, 2, 3];
const ids5 = [1, 2, 3, 4, 5];

function idsUpTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** A rand that always yields r: randomizedElectionTimeout = electionTick + floor(r * electionTick). */
function constRand(r: number): () => number {
  return () => r;
}

function data(n: number): Uint8Array {
  return new Uint8Array([n]);
}

function ofType(msgs: Message[], type: MessageType): Message[] {
  return msgs.filter((m) => m.type === type).sort((a, b) => a.to - b.to);
}

function logTerms(r: Raft): number[] {
  return r.raftLog.allEntries().map((e) => e.term);
}

/** A node whose storage holds entries of `terms` at 1..n and whose hard state is in `term`. */
function nodeWithLog(id: number, peers: number[], terms: number[], term: number): Raft {
  const storage = storageWithTerms(terms);
  storage.setHardState({ term, vote: None, commit: 0 });
  return newTestRaft(id, peers, storage);
}

/** Makes r the leader of its next term without an election, and drains its output. */
function makeLeader(r: Raft): void {
  r.becomeCandidate();
  r.becomeLeader();
  r.readMessages();
}

/** The given followers acknowledge the leader's whole log. */
function ackFrom(r: Raft, followers: number[], index = r.raftLog.lastIndex()): void {
  for (const id of followers) {
    r.step({ type: MessageType.AppendResponse, from: id, to: r.id, term: r.term, index });
  }
}

/** A leader of term 1 whose no-op entry every follower acknowledged (so all are replicating). */
function replicatingLeader(peers: number[]): Raft {
  const r = newTestRaft(1, peers);
  makeLeader(r);
  ackFrom(
    r,
    peers.filter((id) => id !== 1),
  );
  r.readMessages();
  return r;
}

function propose(r: Raft, ...payloads: Uint8Array[]): void {
  const res = r.step({ type: MessageType.Propose, from: r.id, to: r.id, entries: payloads.map((d) => entry(0, 0, d)) });
  expect(res).toBe('Ok');
}

function voteRequest(from: number, term: number, lastIndex: number, lastTerm: number): MessageInit {
  return { type: MessageType.RequestVote, from, to: 1, term, index: lastIndex, logTerm: lastTerm };
}

/** Ticks every node once, delivering what each tick causes before the next node ticks. */
function tickAll(nw: Network): void {
  for (const p of nw.peers.values()) {
    p.tick();
    nw.send(...nw.filter(p.readMessages()));
  }
}

/** Simulates a crash and restart of node id: it comes back as a follower with its log and hard state. */
function restart(nw: Network, id: number, peers: number[]): Raft {
  const old = nw.peer(id);
  const storage = new MemoryStorage();
  storage.append(old.raftLog.allEntries());
  storage.setHardState(old.hardState());
  const r = newTestRaft(id, peers, storage);
  nw.peers.set(id, r);
  return r;
}

describe('§5.1 terms and roles', () => {
  it('a node starts as a follower in term 0 with no vote and no leader', () => {
    const r = newTestRaft(1, ids3);
    expect(r.state).toBe(StateType.Follower);
    expect(r.term).toBe(0);
    expect(r.vote).toBe(None);
    expect(r.lead).toBe(None);
  });

  // Every role is in term 1; each message comes from term 2.
  const roles: { role: string; make: () => Raft }[] = [
    {
      role: 'follower',
      make: () => {
        const r = newTestRaft(1, ids3);
        r.becomeFollower(1, 3);
        return r;
      },
    },
    {
      role: 'pre-candidate',
      make: () => {
        const r = newTestRaft(1, ids3, new MemoryStorage(), { preVote: true });
        r.becomeFollower(1, None);
        r.step({ type: MessageType.Hup, from: 1, to: 1 });
        expect(r.state).toBe(StateType.PreCandidate);
        return r;
      },
    },
    {
      role: 'candidate',
      make: () => {
        const r = newTestRaft(1, ids3);
        r.becomeCandidate();
        return r;
      },
    },
    {
      role: 'leader',
      make: () => {
        const r = newTestRaft(1, ids3);
        makeLeader(r);
        return r;
      },
    },
  ];
  const carriers: { type: MessageType; lead: number }[] = [
    { type: MessageType.Append, lead: 2 },
    { type: MessageType.Heartbeat, lead: 2 },
    { type: MessageType.AppendResponse, lead: None },
    { type: MessageType.RequestVote, lead: None },
    { type: MessageType.RequestVoteResponse, lead: None },
  ];
  const matrix = roles.flatMap((role) => carriers.map((c) => ({ ...role, ...c })));

  it.each(matrix)('a $role that sees term 2 in a $type adopts the term and becomes a follower', ({ make, type, lead }) => {
    const r = make();
    expect(r.term).toBe(1);
    r.readMessages();
    r.step({ type, from: 2, to: 1, term: 2, reject: type === MessageType.RequestVoteResponse });
    expect(r.state).toBe(StateType.Follower);
    expect(r.term).toBe(2);
    // Only a message from the leader of the new term tells who leads it.
    expect(r.lead).toBe(lead);
  });

  it.each([false, true])('a follower rejects an Append from an older term (checkQuorum: %s)', (checkQuorum) => {
    const r = newTestRaft(1, ids3, new MemoryStorage(), { checkQuorum });
    r.becomeFollower(2, 3);
    r.step({ type: MessageType.Append, from: 2, to: 1, term: 1, index: 0, logTerm: 0, entries: [entry(1, 1)] });
    expect(r.raftLog.lastIndex()).toBe(0);
    expect(r.lead).toBe(3);
    expect(r.term).toBe(2);
    // Any answer carries the newer term, so the stale leader steps down
    // rather than counting it as an acknowledgement.
    const resps = r.readMessages();
    for (const m of resps) expect(m.term).toBe(2);
    // With check-quorum our elections may never reach that leader: the answer is required.
    if (checkQuorum) expect(resps.map((m) => [m.type, m.to])).toEqual([[MessageType.AppendResponse, 2]]);
  });

  it('a candidate does not count a vote granted in an older term', () => {
    const r = newTestRaft(1, ids3);
    r.becomeFollower(1, None);
    r.step({ type: MessageType.Hup, from: 1, to: 1 });
    expect(r.term).toBe(2);
    // In term 1 this grant would make a quorum with our own vote.
    r.step({ type: MessageType.RequestVoteResponse, from: 2, to: 1, term: 1 });
    expect(r.state).toBe(StateType.Candidate);
  });
});

describe('§5.2 leader election', () => {
  it('a leader sends a heartbeat to every follower each heartbeatTick ticks', () => {
    const r = newTestRaft(1, ids3, new MemoryStorage(), { heartbeatTick: 3 });
    makeLeader(r);
    for (let tick = 1; tick <= 7; tick++) {
      r.tick();
      const beats = ofType(r.readMessages(), MessageType.Heartbeat);
      if (tick % 3 === 0) {
        expect(beats.map((m) => [m.to, m.term])).toEqual([
          [2, 1],
          [3, 1],
        ]);
      } else {
        expect(beats, `tick ${tick}`).toEqual([]);
      }
    }
  });

  it('a follower that hears from no leader for its election timeout becomes a candidate, votes for itself and asks every peer', () => {
    const r = newTestRaft(1, ids3, storageWithTerms([1, 1]), { rand: constRand(0) });
    r.becomeFollower(1, 2);
    for (let i = 0; i < 9; i++) r.tick();
    expect(r.state).toBe(StateType.Follower);
    r.tick();
    expect(r.state).toBe(StateType.Candidate);
    expect(r.term).toBe(2);
    expect(r.vote).toBe(1);
    const reqs = ofType(r.readMessages(), MessageType.RequestVote);
    // §5.4.1: the request carries the candidate's last log index and term.
    expect(reqs.map((m) => [m.to, m.term, m.index, m.logTerm])).toEqual([
      [2, 2, 2, 1],
      [3, 2, 2, 1],
    ]);
  });

  it('a candidate whose election times out starts a new election in the next term', () => {
    const r = newTestRaft(1, ids3, new MemoryStorage(), { rand: constRand(0) });
    r.step({ type: MessageType.Hup, from: 1, to: 1 });
    expect(r.state).toBe(StateType.Candidate);
    expect(r.term).toBe(1);
    r.readMessages();
    for (let i = 0; i < 9; i++) r.tick();
    expect(r.term).toBe(1);
    expect(r.readMessages()).toEqual([]);
    r.tick();
    expect(r.state).toBe(StateType.Candidate);
    expect(r.term).toBe(2);
    expect(r.vote).toBe(1);
    expect(ofType(r.readMessages(), MessageType.RequestVote).map((m) => [m.to, m.term])).toEqual([
      [2, 2],
      [3, 2],
    ]);
  });

  const outcomes: { size: number; votes: [number, boolean][]; want: StateType }[] = [
    { size: 1, votes: [], want: StateType.Leader },
    { size: 3, votes: [[2, true]], want: StateType.Leader },
    { size: 3, votes: [[2, true], [3, true]], want: StateType.Leader },
    { size: 3, votes: [[2, false], [3, true]], want: StateType.Leader },
    { size: 5, votes: [[2, true], [3, true]], want: StateType.Leader },
    { size: 5, votes: [[2, false], [3, true], [4, false], [5, true]], want: StateType.Leader },
    // An even group needs more than half: 3 of 4.
    { size: 4, votes: [[2, true], [3, true]], want: StateType.Leader },
    { size: 4, votes: [[2, true]], want: StateType.Candidate },
    { size: 3, votes: [], want: StateType.Candidate },
    { size: 5, votes: [[2, true]], want: StateType.Candidate },
    { size: 5, votes: [[2, true], [3, false], [4, false]], want: StateType.Candidate },
    { size: 3, votes: [[2, false], [3, false]], want: StateType.Follower },
    { size: 5, votes: [[2, false], [3, false], [4, false]], want: StateType.Follower },
    { size: 5, votes: [[2, true], [3, false], [4, false], [5, false]], want: StateType.Follower },
    { size: 4, votes: [[2, false], [3, false]], want: StateType.Follower },
  ];

  it.each(outcomes)('a candidate in a $size-node group with votes $votes ends as $want', ({ size, votes, want }) => {
    const r = newTestRaft(1, idsUpTo(size));
    r.step({ type: MessageType.Hup, from: 1, to: 1 });
    for (const [from, granted] of votes) {
      r.step({ type: MessageType.RequestVoteResponse, from, to: 1, term: r.term, reject: !granted });
    }
    expect(r.state).toBe(want);
    // Winning or losing an election does not change the term.
    expect(r.term).toBe(1);
  });

  it('a split vote elects nobody, and a later election in a new term does', () => {
    const nw = new Network([undefined, undefined, undefined, undefined, undefined]);
    nw.isolate(5);
    for (const a of [1, 2]) for (const b of [3, 4]) nw.cut(a, b);
    nw.campaign(1);
    nw.campaign(3);
    for (const id of [1, 3]) {
      expect(nw.peer(id).state).toBe(StateType.Candidate);
      expect(nw.peer(id).term).toBe(1);
    }
    expect(nw.peer(2).vote).toBe(1);
    expect(nw.peer(4).vote).toBe(3);

    nw.recover();
    nw.campaign(1);
    expect(nw.peer(1).state).toBe(StateType.Leader);
    expect(nw.peer(1).term).toBe(2);
    for (const id of [2, 3, 4, 5]) {
      expect(nw.peer(id).state).toBe(StateType.Follower);
      expect(nw.peer(id).lead).toBe(1);
    }
  });

  it('a voter grants at most one vote per term, first come first served', () => {
    const r = newTestRaft(1, ids3);
    r.becomeFollower(1, None);
    r.step(voteRequest(2, 1, 0, 0));
    r.step(voteRequest(3, 1, 0, 0));
    // A repeated request from the candidate we chose gets the same answer.
    r.step(voteRequest(2, 1, 0, 0));
    const resps = r.readMessages();
    expect(resps.map((m) => [m.type, m.to, m.term, m.reject])).toEqual([
      [MessageType.RequestVoteResponse, 2, 1, false],
      [MessageType.RequestVoteResponse, 3, 1, true],
      [MessageType.RequestVoteResponse, 2, 1, false],
    ]);
    expect(r.vote).toBe(2);
    expect(r.hardState()).toEqual({ term: 1, vote: 2, commit: 0 });
  });

  it('the vote survives a restart: the restarted voter still refuses another candidate in that term', () => {
    const storage = new MemoryStorage();
    const r = newTestRaft(1, ids3, storage);
    r.step(voteRequest(2, 1, 0, 0));
    storage.setHardState(r.hardState());

    const restarted = newTestRaft(1, ids3, storage);
    expect(restarted.term).toBe(1);
    expect(restarted.vote).toBe(2);
    restarted.step(voteRequest(3, 1, 0, 0));
    expect(restarted.vote).toBe(2);
    expect(restarted.readMessages().map((m) => [m.to, m.reject])).toEqual([[3, true]]);
  });

  it('of two dueling candidates in one term, the one asking second gets no vote from the voter already taken', () => {
    const nw = new Network([undefined, undefined, undefined]);
    nw.cut(1, 3);
    nw.campaign(1);
    nw.campaign(3);
    expect(nw.peer(1).state).toBe(StateType.Leader);
    // Node 2 voted for 1 in term 1; 3 cannot reach 1, so it stays a candidate.
    expect(nw.peer(3).state).toBe(StateType.Candidate);
    expect(nw.peer(3).term).toBe(1);
    expect(nw.peer(2).vote).toBe(1);
  });

  it.each([
    { which: 'same', term: 1 },
    { which: 'a higher', term: 2 },
  ])('a candidate that receives an Append from a leader of $which term becomes its follower', ({ term }) => {
    const r = newTestRaft(1, ids3);
    r.step({ type: MessageType.Hup, from: 1, to: 1 });
    r.readMessages();
    r.step({ type: MessageType.Append, from: 2, to: 1, term, index: 0, logTerm: 0, entries: [entry(1, term)] });
    expect(r.state).toBe(StateType.Follower);
    expect(r.term).toBe(term);
    expect(r.lead).toBe(2);
    expect(r.raftLog.lastIndex()).toBe(1);
    expect(r.readMessages().map((m) => [m.type, m.to, m.reject, m.index])).toEqual([
      [MessageType.AppendResponse, 2, false, 1],
    ]);
  });

  it('a candidate ignores an Append from a leader of an older term', () => {
    const r = newTestRaft(1, ids3);
    r.becomeFollower(1, None);
    r.step({ type: MessageType.Hup, from: 1, to: 1 });
    expect(r.term).toBe(2);
    r.step({ type: MessageType.Append, from: 2, to: 1, term: 1, index: 0, logTerm: 0, entries: [entry(1, 1)] });
    expect(r.state).toBe(StateType.Candidate);
    expect(r.raftLog.lastIndex()).toBe(0);
  });

  describe('randomized election timeouts', () => {
    it.each([
      { r: 0, want: 10 },
      { r: 0.1, want: 11 },
      { r: 0.55, want: 15 },
      { r: 0.999999, want: 19 },
    ])('with rand() = $r and electionTick 10 the timeout is $want', ({ r: value, want }) => {
      const r = newTestRaft(1, ids3, new MemoryStorage(), { electionTick: 10, rand: constRand(value) });
      expect(r.randomizedElectionTimeout).toBe(want);
      r.becomeCandidate();
      expect(r.randomizedElectionTimeout).toBe(want);
    });

    it.each(['follower', 'candidate'])(
      'over many draws a %s timeout covers [electionTick, 2*electionTick) and never leaves it',
      (role) => {
        const r = newTestRaft(1, ids3, new MemoryStorage(), { electionTick: 10, rand: seededRandom(42) });
        const seen = new Set<number>();
        for (let i = 0; i < 2000; i++) {
          if (role === 'follower') r.becomeFollower(r.term + 1, None);
          else r.becomeCandidate();
          seen.add(r.randomizedElectionTimeout);
        }
        expect([...seen].sort((a, b) => a - b)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
      },
    );

    it('a follower campaigns after exactly its randomized timeout, which changes from one term to the next', () => {
      const r = newTestRaft(1, ids3, new MemoryStorage(), { electionTick: 10, rand: seededRandom(7) });
      const timeouts = new Set<number>();
      for (let round = 0; round < 30; round++) {
        r.becomeFollower(r.term + 1, 2);
        const timeout = r.randomizedElectionTimeout;
        timeouts.add(timeout);
        for (let i = 1; i < timeout; i++) r.tick();
        expect(r.state).toBe(StateType.Follower);
        r.tick();
        expect(r.state).toBe(StateType.Candidate);
        r.readMessages();
      }
      expect(timeouts.size).toBeGreaterThan(1);
    });

    it('a group driven only by ticks elects exactly one leader, whom everyone follows', () => {
      for (let seed = 1; seed <= 20; seed++) {
        const nodes = ids5.map((id) =>
          newTestRaft(id, ids5, new MemoryStorage(), { rand: seededRandom(seed * 10 + id) }),
        );
        const nw = new Network(nodes, {}, seed);
        let ticks = 0;
        while (![...nw.peers.values()].some((p) => p.state === StateType.Leader)) {
          expect(ticks++, `seed ${seed}`).toBeLessThan(100);
          tickAll(nw);
        }
        const leaders = [...nw.peers.values()].filter((p) => p.state === StateType.Leader);
        expect(leaders).toHaveLength(1);
        const leader = leaders[0]!;
        for (const p of nw.peers.values()) {
          expect(p.term).toBe(leader.term);
          expect(p.lead).toBe(leader.id);
        }
      }
    });
  });
});

describe('§5.3 log replication', () => {
  it('the leader appends a proposal to its log and sends it to every follower', () => {
    const r = replicatingLeader(ids3);
    expect(r.raftLog.committed).toBe(1);
    propose(r, data(7));
    expect(r.raftLog.lastIndex()).toBe(2);
    expect(r.raftLog.term(2)).toBe(1);
    const appends = ofType(r.readMessages(), MessageType.Append);
    expect(appends.map((m) => m.to)).toEqual([2, 3]);
    for (const m of appends) {
      expect(m.term).toBe(1);
      expect(m.index).toBe(1);
      expect(m.logTerm).toBe(1);
      expect(m.commit).toBe(1);
      expect(m.entries).toEqual([{ index: 2, term: 1, type: EntryType.Normal, data: data(7) }]);
    }
    // Stored on the leader alone: not committed yet.
    expect(r.raftLog.committed).toBe(1);
  });

  it('the leader commits an entry once a majority stores it, and tells the followers', () => {
    const r = replicatingLeader(ids3);
    propose(r, data(7));
    r.readMessages();
    ackFrom(r, [2]);
    const msgs = r.readMessages();
    expect(r.raftLog.committed).toBe(2);
    const appends = ofType(msgs, MessageType.Append);
    expect(appends.map((m) => [m.to, m.commit])).toEqual([
      [2, 2],
      [3, 2],
    ]);
    expect(r.raftLog.nextEnts().map((e) => e.data)).toEqual([new Uint8Array(0), data(7)]);
  });

  const acks: { size: number; ackers: number[]; commits: boolean }[] = [
    { size: 1, ackers: [], commits: true },
    { size: 3, ackers: [], commits: false },
    { size: 3, ackers: [2], commits: true },
    { size: 3, ackers: [2, 3], commits: true },
    { size: 4, ackers: [2], commits: false },
    { size: 4, ackers: [2, 3], commits: true },
    { size: 5, ackers: [2], commits: false },
    { size: 5, ackers: [2, 5], commits: true },
    { size: 5, ackers: [2, 3, 4, 5], commits: true },
  ];

  it.each(acks)('in a $size-node group with acks from $ackers the entry commits: $commits', ({ size, ackers, commits }) => {
    const r = newTestRaft(1, idsUpTo(size));
    makeLeader(r);
    propose(r, data(1));
    r.readMessages();
    const last = r.raftLog.lastIndex();
    expect(last).toBe(2);
    ackFrom(r, ackers, last);
    r.readMessages();
    expect(r.raftLog.committed).toBe(commits ? last : 0);
  });

  it('committing an entry commits every entry before it', () => {
    const r = replicatingLeader(ids3);
    propose(r, data(1));
    propose(r, data(2));
    propose(r, data(3));
    r.readMessages();
    // A single ack of the last index covers the ones before it.
    ackFrom(r, [3], 4);
    r.readMessages();
    expect(r.raftLog.committed).toBe(4);
    expect(r.raftLog.nextEnts().map((e) => e.index)).toEqual([1, 2, 3, 4]);
  });

  it('followers commit up to the leader commit index and apply entries in log order', () => {
    const nw = new Network([undefined, undefined, undefined]);
    nw.campaign(1);
    for (const n of [1, 2, 3]) nw.propose(1, data(n));
    // A proposal through a follower is forwarded to the leader.
    nw.propose(2, data(4));
    const want = [new Uint8Array(0), data(1), data(2), data(3), data(4)];
    for (const id of ids3) {
      const log = nw.peer(id).raftLog;
      expect(log.committed, `node ${id}`).toBe(5);
      expect(log.nextEnts().map((e) => e.data)).toEqual(want);
    }
  });

  it('a follower learns the commit index from a heartbeat', () => {
    const r = newTestRaft(2, ids3);
    r.step({
      type: MessageType.Append,
      from: 1,
      to: 2,
      term: 1,
      index: 0,
      logTerm: 0,
      entries: [entry(1, 1), entry(2, 1)],
      commit: 0,
    });
    expect(r.raftLog.committed).toBe(0);
    r.readMessages();
    r.step({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1, commit: 2 });
    expect(r.raftLog.committed).toBe(2);
    expect(r.readMessages().map((m) => [m.type, m.to])).toEqual([[MessageType.HeartbeatResponse, 1]]);
  });

  it('a heartbeat carries the commit index, bounded by what the follower is known to have', () => {
    const r = replicatingLeader(ids3);
    propose(r, data(1));
    r.readMessages();
    ackFrom(r, [2]);
    r.readMessages();
    expect(r.raftLog.committed).toBe(2);
    r.step({ type: MessageType.Beat, from: 1, to: 1 });
    const beats = ofType(r.readMessages(), MessageType.Heartbeat);
    // Node 3 has only acknowledged index 1: it may not hold entry 2 yet.
    expect(beats.map((m) => [m.to, m.commit])).toEqual([
      [2, 2],
      [3, 1],
    ]);
  });

  describe('the consistency check on Append', () => {
    // The follower's log: terms 1, 1, 2, 2 at indexes 1..4; the leader is in term 3.
    const cases: { prev: [number, number]; reject: boolean; index: number; hint?: [number, number] }[] = [
      { prev: [0, 0], reject: false, index: 0 },
      { prev: [2, 1], reject: false, index: 2 },
      { prev: [4, 2], reject: false, index: 4 },
      // The term at the previous index differs: the hint is the last entry
      // whose term is at most the leader's, with that term.
      { prev: [4, 1], reject: true, index: 4, hint: [2, 1] },
      { prev: [3, 3], reject: true, index: 3, hint: [3, 2] },
      // The previous index is beyond our log.
      { prev: [6, 2], reject: true, index: 6, hint: [4, 2] },
    ];

    it.each(cases)('with previous (index, term) $prev the follower rejects: $reject', ({ prev, reject, index, hint }) => {
      const r = nodeWithLog(2, ids3, [1, 1, 2, 2], 2);
      const [prevIndex, prevTerm] = prev;
      const sent = { type: MessageType.Append, from: 1, to: 2, term: 3, index: prevIndex, logTerm: prevTerm };
      r.step(sent);
      const resps = r.readMessages();
      expect(resps).toHaveLength(1);
      const resp = resps[0]!;
      expect(resp.type).toBe(MessageType.AppendResponse);
      expect(resp.term).toBe(3);
      expect(resp.reject).toBe(reject);
      expect(resp.index).toBe(index);
      if (hint !== undefined) expect([resp.rejectHint, resp.logTerm]).toEqual(hint);
      expect(logTerms(r)).toEqual([1, 1, 2, 2]);
    });
  });

  describe('a follower appends, truncating only a conflicting suffix', () => {
    // The follower's stable log: terms 1, 2 at indexes 1..2.
    const cases: { name: string; prev: [number, number]; ents: [number, number][]; want: number[]; stabled: number }[] =
      [
        { name: 'new entries after the last', prev: [2, 2], ents: [[3, 3]], want: [1, 2, 3], stabled: 2 },
        { name: 'a conflict at 2', prev: [1, 1], ents: [[2, 3], [3, 4]], want: [1, 3, 4], stabled: 1 },
        { name: 'a conflict at 1', prev: [0, 0], ents: [[1, 3]], want: [3], stabled: 0 },
        { name: 'a shorter, older append', prev: [0, 0], ents: [[1, 1]], want: [1, 2], stabled: 2 },
        { name: 'entries it already has', prev: [0, 0], ents: [[1, 1], [2, 2]], want: [1, 2], stabled: 2 },
        { name: 'a partial overlap', prev: [0, 0], ents: [[1, 1], [2, 2], [3, 4]], want: [1, 2, 4], stabled: 2 },
      ];

    it.each(cases)('$name', ({ prev, ents, want, stabled }) => {
      const r = nodeWithLog(2, ids3, [1, 2], 2);
      r.step({
        type: MessageType.Append,
        from: 1,
        to: 2,
        term: 4,
        index: prev[0],
        logTerm: prev[1],
        entries: ents.map(([i, t]) => entry(i, t)),
      });
      expect(logTerms(r)).toEqual(want);
      // What was rewritten must be persisted again.
      expect(r.raftLog.stabled).toBe(stabled);
      expect(r.raftLog.unstableEntries().map((e) => e.term)).toEqual(want.slice(stabled));
      const resp = r.readMessages()[0]!;
      expect(resp.reject).toBe(false);
      expect(resp.index).toBe(prev[0] + ents.length);
    });
  });

  describe('the leader brings a divergent follower log into line (figure 7)', () => {
    const leaderTerms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers: { name: string; terms: number[] }[] = [
      { name: '(a) missing one entry', terms: [1, 1, 1, 4, 4, 5, 5, 6, 6] },
      { name: '(b) missing many entries', terms: [1, 1, 1, 4] },
      { name: '(c) one extra entry of the leader term', terms: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6] },
      { name: '(d) extra entries of a later term', terms: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7] },
      { name: '(e) missing entries, extra entries of an older term', terms: [1, 1, 1, 4, 4, 4, 4] },
      { name: '(f) a long run of entries from terms 2 and 3', terms: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3] },
    ];

    it.each(followers)('$name', ({ terms }) => {
      const leader = nodeWithLog(1, ids3, leaderTerms, 7);
      const follower = nodeWithLog(2, ids3, terms, Math.max(...terms));
      // Node 3 has the leader's log and gives it the vote it needs when the
      // follower's log is more up to date than the leader's.
      const witness = nodeWithLog(3, ids3, leaderTerms, 7);
      const nw = new Network([leader, follower, witness]);
      nw.campaign(1);
      expect(leader.state).toBe(StateType.Leader);
      expect(leader.term).toBe(8);
      nw.propose(1, data(1));

      const want = [...leaderTerms, 8, 8];
      expect(logTerms(leader)).toEqual(want);
      expect(logTerms(follower)).toEqual(want);
      for (const p of [leader, follower, witness]) expect(p.raftLog.committed).toBe(12);
    });
  });
});

describe('§5.4 safety', () => {
  describe('§5.4.1 a vote goes only to a candidate whose log is at least as up to date', () => {
    // The voter's log: terms 1, 1, 2 (last index 3, last term 2).
    const cases: { lastTerm: number; lastIndex: number; grant: boolean }[] = [
      { lastTerm: 1, lastIndex: 3, grant: false },
      { lastTerm: 1, lastIndex: 9, grant: false },
      { lastTerm: 2, lastIndex: 2, grant: false },
      { lastTerm: 2, lastIndex: 3, grant: true },
      { lastTerm: 2, lastIndex: 4, grant: true },
      { lastTerm: 3, lastIndex: 1, grant: true },
      { lastTerm: 3, lastIndex: 3, grant: true },
    ];

    it.each(cases)('candidate with last term $lastTerm, last index $lastIndex: granted $grant', ({ lastTerm, lastIndex, grant }) => {
      const r = nodeWithLog(1, ids3, [1, 1, 2], 2);
      r.step(voteRequest(2, 3, lastIndex, lastTerm));
      const resps = r.readMessages();
      expect(resps.map((m) => [m.type, m.to, m.reject])).toEqual([[MessageType.RequestVoteResponse, 2, !grant]]);
      expect(r.vote).toBe(grant ? 2 : None);
    });
  });

  describe('§5.4.2 a leader commits entries from earlier terms only by committing one of its own', () => {
    // The leader's log: terms 1, 2; it leads term 3 and appends its no-op at 3.
    it.each([
      { acked: 1, committed: 0 },
      { acked: 2, committed: 0 },
      { acked: 3, committed: 3 },
    ])('a majority holding index $acked commits through $committed', ({ acked, committed }) => {
      const r = nodeWithLog(1, ids3, [1, 2], 2);
      makeLeader(r);
      expect(r.term).toBe(3);
      expect(r.raftLog.lastIndex()).toBe(3);
      ackFrom(r, [2], acked);
      r.readMessages();
      expect(r.raftLog.committed).toBe(committed);
    });

    it('once an entry of the current term commits, the earlier-term entries before it commit too', () => {
      const r = nodeWithLog(1, ids5, [1, 2], 2);
      makeLeader(r);
      // Every follower holds index 2: still not committed by counting.
      ackFrom(r, [2, 3, 4, 5], 2);
      r.readMessages();
      expect(r.raftLog.committed).toBe(0);
      ackFrom(r, [2, 3], 3);
      const msgs = r.readMessages();
      expect(r.raftLog.committed).toBe(3);
      expect(r.raftLog.nextEnts().map((e) => [e.index, e.term])).toEqual([
        [1, 1],
        [2, 2],
        [3, 3],
      ]);
      for (const m of ofType(msgs, MessageType.Append)) expect(m.commit).toBe(3);
    });

    /**
     * Figure 8, steps (a) to (c): S1 leads term 1 and gets index 2 only onto
     * S2; S5 wins term 2 without it and appends its own entry at 2; S1 wins
     * term 3 and puts its term-1 entry at 2 onto a majority (S1, S2, S3)
     * while its term-3 entry at 3 reaches nobody. Appends are sent by hand
     * to shape exactly that.
     */
    function figure8UpToC(): Network {
      const nw = new Network([undefined, undefined, undefined, undefined, undefined]);
      nw.campaign(1);
      for (const id of ids5) expect(nw.peer(id).raftLog.committed).toBe(1);

      // (a)
      for (const id of [3, 4, 5]) nw.cut(1, id);
      nw.propose(1, data(1));
      expect(nw.peer(2).raftLog.term(2)).toBe(1);
      expect(nw.peer(1).raftLog.committed).toBe(1);

      // (b): S1 and S2 refuse S5 (their logs are longer); S3 and S4 elect it.
      nw.recover();
      nw.ignore(MessageType.Append);
      nw.campaign(5);
      const s5 = nw.peer(5);
      expect(s5.state).toBe(StateType.Leader);
      expect(s5.term).toBe(2);
      expect(s5.raftLog.term(2)).toBe(2);

      // (c): S5 is down; S1 is elected for term 3.
      nw.isolate(5);
      nw.campaign(1);
      const s1 = nw.peer(1);
      expect(s1.state).toBe(StateType.Leader);
      expect(s1.term).toBe(3);
      expect(s1.raftLog.term(3)).toBe(3);
      const base = { type: MessageType.Append, from: 1, term: 3, commit: 1 };
      nw.send({ ...base, to: 2, index: 2, logTerm: 1, entries: [] });
      nw.send({ ...base, to: 3, index: 1, logTerm: 1, entries: [entry(2, 1, data(1))] });
      for (const id of [1, 2, 3]) expect(nw.peer(id).raftLog.term(2)).toBe(1);
      expect(s1.prs.get(2)!.match).toBe(2);
      expect(s1.prs.get(3)!.match).toBe(2);
      return nw;
    }

    it('figure 8 (c)-(d): an earlier-term entry stored on a majority is not committed, and may rightly be overwritten', () => {
      const nw = figure8UpToC();
      // Index 2 is on a majority, but it is from term 1: counting does not commit it.
      expect(nw.peer(1).raftLog.committed).toBe(1);

      // (d): S1 goes down; S5 restarts and is elected with votes from S2, S3, S4.
      nw.recover();
      nw.isolate(1);
      const s5 = restart(nw, 5, ids5);
      nw.campaign(5); // term 3: everyone already voted for S1
      expect(s5.state).toBe(StateType.Follower);
      nw.campaign(5);
      expect(s5.state).toBe(StateType.Leader);
      expect(s5.term).toBe(4);
      for (const id of [2, 3, 4, 5]) {
        expect(nw.peer(id).raftLog.term(2), `node ${id}`).toBe(2);
        expect(nw.peer(id).raftLog.committed).toBe(3);
      }
    });

    it('figure 8 (e): once S1 commits an entry of term 3, the term-1 entry before it is committed and S5 can no longer win', () => {
      const nw = figure8UpToC();
      nw.recover();
      nw.isolate(5);
      nw.propose(1, data(2));
      const s1 = nw.peer(1);
      expect(s1.raftLog.committed).toBe(4);
      expect(s1.raftLog.term(2)).toBe(1);

      nw.recover();
      nw.isolate(1);
      const s5 = restart(nw, 5, ids5);
      nw.campaign(5);
      nw.campaign(5);
      expect(s5.state).not.toBe(StateType.Leader);
      for (const id of [2, 3]) expect(nw.peer(id).raftLog.term(2)).toBe(1);
    });
  });

  describe('§5.4.3 leader completeness', () => {
    it('a node missing committed entries cannot win; the new leader has every committed entry', () => {
      const nw = new Network([undefined, undefined, undefined, undefined, undefined]);
      nw.campaign(1);
      nw.isolate(4);
      nw.isolate(5);
      nw.propose(1, data(1));
      nw.propose(1, data(2));
      for (const id of [1, 2, 3]) expect(nw.peer(id).raftLog.committed).toBe(3);
      for (const id of [4, 5]) expect(nw.peer(id).raftLog.lastIndex()).toBe(1);
      const committed = nw.peer(1).raftLog.slice(1, 4);

      nw.recover();
      nw.isolate(1);
      nw.campaign(4);
      expect(nw.peer(4).state).not.toBe(StateType.Leader);
      nw.campaign(2);
      const leader = nw.peer(2);
      expect(leader.state).toBe(StateType.Leader);
      expect(leader.raftLog.slice(1, 4)).toEqual(committed);
      for (const id of [2, 3, 4, 5]) {
        expect(nw.peer(id).raftLog.slice(1, 4)).toEqual(committed);
        expect(nw.peer(id).raftLog.committed).toBe(4);
      }
    });

    it('holds over randomized histories with partitions and message loss, with one leader per term', () => {
      for (let seed = 1; seed <= 20; seed++) {
        const nodes = ids5.map((id) =>
          newTestRaft(id, ids5, new MemoryStorage(), { rand: seededRandom(seed * 100 + id) }),
        );
        const nw = new Network(nodes, {}, seed);
        const pick = seededRandom(seed + 1000);
        const leaderOfTerm = new Map<number, number>();
        // What is known committed at each index, and the lowest term a node was in when it saw it committed.
        const committed = new Map<number, { key: string; term: number }>();
        const problems: string[] = [];
        for (let step = 0; step < 300 && problems.length === 0; step++) {
          if (step % 40 === 0) {
            nw.recover();
            if (step < 240) {
              if (pick() < 0.5) nw.isolate(1 + Math.floor(pick() * 5));
              for (const a of ids5) for (const b of ids5) if (a !== b && pick() < 0.2) nw.drop(a, b, 0.5);
            }
          }
          tickAll(nw);
          if (step % 5 === 0) {
            const leader = [...nw.peers.values()]
              .filter((p) => p.state === StateType.Leader)
              .sort((a, b) => b.term - a.term)[0];
            if (leader !== undefined) nw.propose(leader.id, data(step % 256));
          }
          for (const p of nw.peers.values()) {
            for (let i = 1; i <= p.raftLog.committed; i++) {
              const e = p.raftLog.slice(i, i + 1)[0]!;
              const key = `${e.term}/${e.data.join(',')}`;
              const known = committed.get(i);
              if (known === undefined) committed.set(i, { key, term: p.term });
              else if (known.key !== key) problems.push(`seed ${seed}: node ${p.id} committed ${key} at ${i}, not ${known.key}`);
              else if (p.term < known.term) known.term = p.term;
            }
            if (p.state !== StateType.Leader) continue;
            const other = leaderOfTerm.get(p.term);
            if (other !== undefined && other !== p.id) problems.push(`seed ${seed}: term ${p.term} has leaders ${other} and ${p.id}`);
            leaderOfTerm.set(p.term, p.id);
          }
          for (const p of nw.peers.values()) {
            if (p.state !== StateType.Leader) continue;
            for (const [i, c] of committed) {
              if (c.term > p.term) continue;
              const e = i <= p.raftLog.lastIndex() ? p.raftLog.slice(i, i + 1)[0] : undefined;
              const key = e === undefined ? 'nothing' : `${e.term}/${e.data.join(',')}`;
              if (key !== c.key) problems.push(`seed ${seed}: leader ${p.id} of term ${p.term} has ${key} at ${i}, committed ${c.key}`);
            }
          }
        }
        expect(problems).toEqual([]);
        // The history made progress: more than the first no-op got committed.
        expect(committed.size, `seed ${seed}`).toBeGreaterThan(2);
      }
    });
  });
});
