import { describe, expect, it } from 'vitest';
import { MessageType, None, StateType } from '../../../src/raft';
import { Network, type NodeConfig, msgsOf, newTestRaft, storageWithTerms, tickNode } from './network';

function cluster(config: Partial<NodeConfig>): Network {
  const nw = new Network([undefined, undefined, undefined], config);
  nw.campaign(1);
  expect(nw.peer(1).state).toBe(StateType.Leader);
  nw.delivered = [];
  return nw;
}

describe('pre-vote', () => {
  it('a pre-candidate asks for the next term without taking it, and becomes a candidate when it wins', () => {
    const r = newTestRaft(1, [1, 2, 3], undefined, { preVote: true });
    r.step({ type: MessageType.Hup, from: 1 });
    expect(r.state).toBe(StateType.PreCandidate);
    expect(r.term).toBe(0);
    expect(r.vote).toBe(None);
    const asks = r.readMessages();
    expect(asks.map((m) => [m.type, m.to, m.term])).toEqual([
      [MessageType.RequestPreVote, 2, 1],
      [MessageType.RequestPreVote, 3, 1],
    ]);

    // A granted pre-vote (sent in the future term) makes a quorum with our own.
    r.step({ type: MessageType.RequestPreVoteResponse, from: 2, to: 1, term: 1 });
    expect(r.state).toBe(StateType.Candidate);
    expect(r.term).toBe(1);
    expect(r.vote).toBe(1);
    expect(r.readMessages().map((m) => [m.type, m.to, m.term])).toEqual([
      [MessageType.RequestVote, 2, 1],
      [MessageType.RequestVote, 3, 1],
    ]);
    r.step({ type: MessageType.RequestVoteResponse, from: 3, to: 1, term: 1 });
    expect(r.state).toBe(StateType.Leader);
  });

  it('elects a leader through the network in one term', () => {
    const nw = new Network([undefined, undefined, undefined], { preVote: true });
    nw.campaign(1);
    expect(nw.peer(1).state).toBe(StateType.Leader);
    for (const id of [1, 2, 3]) expect(nw.peer(id).term).toBe(1);
    const types = nw.delivered.map((m) => m.type);
    expect(types.indexOf(MessageType.RequestPreVote)).toBeLessThan(types.indexOf(MessageType.RequestVote));
  });

  it('granting a pre-vote changes neither the voter term nor its vote', () => {
    const r = newTestRaft(2, [1, 2, 3], undefined, { preVote: true });
    r.step({ type: MessageType.RequestPreVote, from: 1, to: 2, term: 1, index: 0, logTerm: 0 });
    expect(r.term).toBe(0);
    expect(r.vote).toBe(None);
    expect(r.readMessages()).toMatchObject([{ type: MessageType.RequestPreVoteResponse, to: 1, term: 1, reject: false }]);
  });

  it('a pre-vote from a node with a stale log is rejected and nobody changes term', () => {
    // Nodes 1 and 2 have entries 1..2 of term 1; node 3 only entry 1.
    const storages = [storageWithTerms([1, 1]), storageWithTerms([1, 1]), storageWithTerms([1])];
    for (const s of storages) s.setHardState({ term: 1, vote: 0, commit: 1 });
    const nw = new Network(storages.map((s, i) => newTestRaft(i + 1, [1, 2, 3], s, { preVote: true })));
    nw.campaign(3);
    expect(msgsOf(nw.delivered, MessageType.RequestPreVoteResponse).map((m) => m.reject)).toEqual([true, true]);
    const node3 = nw.peer(3);
    expect(node3.state).toBe(StateType.Follower);
    for (const id of [1, 2, 3]) expect(nw.peer(id).term).toBe(1);
    // An up-to-date node still wins.
    nw.campaign(1);
    expect(nw.peer(1).state).toBe(StateType.Leader);
    expect(nw.peer(1).term).toBe(2);
  });

  it('a partitioned node that rejoins neither bumps its term nor deposes the leader', () => {
    const nw = cluster({ preVote: true });
    const leader = nw.peer(1);
    const node3 = nw.peer(3);
    nw.isolate(3);
    nw.propose(1);
    // Isolated, node 3 keeps timing out, but only ever runs pre-votes.
    tickNode(nw, 3, node3.electionTimeout * 4);
    expect(node3.state).toBe(StateType.PreCandidate);
    expect(node3.term).toBe(1);

    nw.recover();
    // Its next attempt is turned down (its log is behind) and it falls back to follower.
    nw.campaign(3);
    expect(node3.state).toBe(StateType.Follower);
    expect(node3.term).toBe(1);
    expect(leader.state).toBe(StateType.Leader);
    expect(leader.term).toBe(1);
    // The leader's next heartbeat brings it back in.
    tickNode(nw, 1, 1);
    expect(node3.lead).toBe(1);
    expect(node3.raftLog.committed).toBe(leader.raftLog.committed);
  });

  it('without pre-vote the same rejoin does depose the leader', () => {
    const nw = cluster({});
    const node3 = nw.peer(3);
    nw.isolate(3);
    nw.propose(1);
    tickNode(nw, 3, node3.electionTimeout * 4);
    expect(node3.term).toBeGreaterThan(1);
    nw.recover();
    nw.campaign(3);
    expect(nw.peer(1).state).toBe(StateType.Follower);
    expect(nw.peer(1).term).toBe(node3.term);
  });
});

describe('check-quorum', () => {
  it('a leader that hears from nobody steps down after one election timeout', () => {
    const r = newTestRaft(1, [1, 2, 3], undefined, { checkQuorum: true });
    r.becomeCandidate();
    r.becomeLeader();
    for (let i = 0; i < r.electionTimeout - 1; i++) r.tick();
    expect(r.state).toBe(StateType.Leader);
    r.tick();
    expect(r.state).toBe(StateType.Follower);
    expect(r.lead).toBe(None);
    expect(r.term).toBe(1);
  });

  it('an isolated leader steps down at the first check that finds no quorum active', () => {
    const nw = cluster({ checkQuorum: true });
    const leader = nw.peer(1);
    // Connected, it stays leader across many checks.
    tickNode(nw, 1, leader.electionTimeout * 3);
    expect(leader.state).toBe(StateType.Leader);

    nw.isolate(1);
    // The followers answered the heartbeat of the last check round, so one
    // more full round passes before the leader can tell they are gone.
    tickNode(nw, 1, leader.electionTimeout);
    expect(leader.state).toBe(StateType.Leader);
    tickNode(nw, 1, leader.electionTimeout);
    expect(leader.state).toBe(StateType.Follower);
    expect(leader.term).toBe(1);
  });

  it('one silent follower of three is not enough to step down', () => {
    const nw = cluster({ checkQuorum: true });
    const leader = nw.peer(1);
    nw.isolate(3);
    tickNode(nw, 1, leader.electionTimeout * 4);
    expect(leader.state).toBe(StateType.Leader);
  });

  it('a follower in its lease ignores a higher-term vote request', () => {
    const nw = cluster({ checkQuorum: true });
    nw.campaign(3);
    const node3 = nw.peer(3);
    expect(node3.state).toBe(StateType.Candidate);
    expect(node3.term).toBe(2);
    // No answers at all, and nobody's term moved.
    expect(msgsOf(nw.delivered, MessageType.RequestVoteResponse)).toEqual([]);
    expect(nw.peer(1).state).toBe(StateType.Leader);
    expect(nw.peer(1).term).toBe(1);
    expect(nw.peer(2).term).toBe(1);
    expect(nw.peer(2).lead).toBe(1);
  });

  it('after the lease runs out, the vote request is considered', () => {
    const nw = cluster({ checkQuorum: true });
    const node2 = nw.peer(2);
    // A full election timeout without hearing from the leader (set directly:
    // ticking might make node 2 campaign itself).
    node2.electionElapsed = node2.electionTimeout;
    nw.campaign(3);
    expect(msgsOf(nw.delivered, MessageType.RequestVoteResponse).filter((m) => m.from === 2)).toHaveLength(1);
    expect(nw.peer(3).state).toBe(StateType.Leader);
  });

  it('a leadership transfer campaign is granted despite the lease', () => {
    const nw = cluster({ checkQuorum: true });
    nw.send({ type: MessageType.TransferLeader, from: 2, to: 1 });
    expect(msgsOf(nw.delivered, MessageType.TimeoutNow)).toHaveLength(1);
    expect(nw.peer(2).state).toBe(StateType.Leader);
    expect(nw.peer(2).term).toBe(2);
    expect(nw.peer(1).state).toBe(StateType.Follower);
    expect(nw.peer(3).lead).toBe(2);
  });
});

describe('a leader at a stale term', () => {
  it('learns of the newer term from the AppendResponse a follower sends to its heartbeat (check-quorum)', () => {
    const nw = cluster({ checkQuorum: true });
    const leader = nw.peer(1);
    const node3 = nw.peer(3);
    // Node 3 loses touch and campaigns alone: its term climbs.
    nw.isolate(3);
    tickNode(nw, 3, node3.electionTimeout * 2);
    expect(node3.term).toBeGreaterThan(1);
    nw.recover();
    nw.delivered = [];
    // The others' leases ignore node 3's requests, so only the old leader's heartbeat reaches it.
    tickNode(nw, 1, 1);
    const answer = msgsOf(nw.delivered, MessageType.AppendResponse).find((m) => m.from === 3);
    expect(answer?.term).toBe(node3.term);
    expect(leader.state).toBe(StateType.Follower);
    expect(leader.term).toBe(node3.term);
  });

  it('learns of it from a stale Append too (pre-vote)', () => {
    const s = storageWithTerms([1]);
    s.setHardState({ term: 5, vote: 0, commit: 0 });
    const follower = newTestRaft(2, [1, 2], s, { preVote: true });
    follower.step({ type: MessageType.Append, from: 1, to: 2, term: 3, index: 1, logTerm: 1 });
    expect(follower.readMessages()).toMatchObject([{ type: MessageType.AppendResponse, to: 1, term: 5 }]);
    follower.step({ type: MessageType.Heartbeat, from: 1, to: 2, term: 3 });
    expect(follower.readMessages()).toMatchObject([{ type: MessageType.AppendResponse, to: 1, term: 5 }]);
    expect(follower.term).toBe(5);

    const oldLeader = newTestRaft(1, [1, 2]);
    oldLeader.becomeCandidate();
    oldLeader.becomeLeader();
    oldLeader.step({ type: MessageType.AppendResponse, from: 2, to: 1, term: 5 });
    expect(oldLeader.state).toBe(StateType.Follower);
    expect(oldLeader.term).toBe(5);
  });

  it('without check-quorum or pre-vote, stale heartbeats are ignored silently', () => {
    const s = storageWithTerms([1]);
    s.setHardState({ term: 5, vote: 0, commit: 0 });
    const follower = newTestRaft(2, [1, 2], s);
    follower.step({ type: MessageType.Heartbeat, from: 1, to: 2, term: 3 });
    follower.step({ type: MessageType.Append, from: 1, to: 2, term: 3, index: 1, logTerm: 1 });
    expect(follower.readMessages()).toEqual([]);
  });
});
