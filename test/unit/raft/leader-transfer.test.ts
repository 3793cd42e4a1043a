import { describe, expect, it } from 'vitest';
import { MessageType, None, StateType } from '../../../src/raft';
import { Network, entry, msgsOf, tickNode } from './network';

/** A 3-node network with node 1 elected and a committed proposal (index 2) everywhere. */
function cluster(): Network {
  const nw = new Network([undefined, undefined, undefined]);
  nw.campaign(1);
  nw.propose(1);
  for (const id of [1, 2, 3]) expect(nw.peer(id).raftLog.committed).toBe(2);
  nw.delivered = [];
  return nw;
}

/** Asks leader 1 to hand leadership to `to` (the application steps it on the leader). */
function transfer(nw: Network, to: number, via = 1): void {
  nw.send({ type: MessageType.TransferLeader, from: to, to: via });
}

function expectLeader(nw: Network, id: number, term: number): void {
  for (const [pid, p] of nw.peers) {
    if (pid === id) expect(p.state).toBe(StateType.Leader);
    else expect(p.state).toBe(StateType.Follower);
    expect(p.term).toBe(term);
  }
}

describe('leadership transfer', () => {
  it('to an up-to-date follower: TimeoutNow, and it wins the next term', () => {
    const nw = cluster();
    transfer(nw, 2);
    expect(msgsOf(nw.delivered, MessageType.TimeoutNow)).toMatchObject([{ from: 1, to: 2, term: 1 }]);
    expectLeader(nw, 2, 2);
    expect(nw.peer(1).lead).toBe(2);
    expect(nw.peer(1).leadTransferee).toBe(None);
    // The new leader works.
    nw.propose(2);
    for (const id of [1, 2, 3]) expect(nw.peer(id).raftLog.committed).toBe(4);
  });

  it('to a lagging follower: catches it up first, then sends TimeoutNow', () => {
    const nw = cluster();
    nw.isolate(3);
    nw.propose(1);
    nw.propose(1);
    nw.recover();
    expect(nw.peer(3).raftLog.lastIndex()).toBe(2);
    nw.delivered = [];

    transfer(nw, 3);
    const timeoutNowAt = nw.delivered.findIndex((m) => m.type === MessageType.TimeoutNow);
    expect(timeoutNowAt).toBeGreaterThan(0);
    // The catch-up appends (carrying entries 3 and 4) went before it.
    const before = msgsOf(nw.delivered.slice(0, timeoutNowAt), MessageType.Append, 3);
    expect(before.flatMap((m) => m.entries.map((e) => e.index))).toEqual(expect.arrayContaining([3, 4]));
    expectLeader(nw, 3, 2);
    expect(nw.peer(3).raftLog.lastIndex()).toBe(5);
  });

  it('drops proposals while a transfer is pending', () => {
    const nw = cluster();
    nw.isolate(3);
    transfer(nw, 3);
    const leader = nw.peer(1);
    expect(leader.leadTransferee).toBe(3);
    expect(leader.step({ type: MessageType.Propose, from: 1, entries: [entry(0, 0)] })).toBe('ProposalDropped');
    expect(leader.raftLog.lastIndex()).toBe(2);
  });

  it('to a partitioned node: aborts after an election timeout and the old leader keeps leading', () => {
    const nw = cluster();
    nw.isolate(3);
    transfer(nw, 3);
    const leader = nw.peer(1);
    expect(msgsOf(nw.delivered, MessageType.TimeoutNow)).toEqual([]);
    tickNode(nw, 1, leader.electionTimeout - 1);
    expect(leader.leadTransferee).toBe(3);
    tickNode(nw, 1, 1);
    expect(leader.leadTransferee).toBe(None);
    expect(leader.state).toBe(StateType.Leader);
    expect(leader.term).toBe(1);
    // Proposals are taken again.
    expect(leader.step({ type: MessageType.Propose, from: 1, entries: [entry(0, 0)] })).toBe('Ok');
    nw.send(...leader.readMessages());
    expect(leader.raftLog.committed).toBe(3);
  });

  it('ignores a transfer to the leader itself', () => {
    const nw = cluster();
    transfer(nw, 1);
    const leader = nw.peer(1);
    expect(leader.leadTransferee).toBe(None);
    expect(msgsOf(nw.delivered, MessageType.TimeoutNow)).toEqual([]);
    expectLeader(nw, 1, 1);
    expect(leader.step({ type: MessageType.Propose, from: 1, entries: [entry(0, 0)] })).toBe('Ok');
  });

  it('ignores a transfer to a node that is not a member', () => {
    const nw = cluster();
    transfer(nw, 4);
    expect(nw.peer(1).leadTransferee).toBe(None);
    expect(nw.delivered.filter((m) => m.type !== MessageType.TransferLeader)).toEqual([]);
    expectLeader(nw, 1, 1);
  });

  it('a follower forwards the request to the leader', () => {
    const nw = cluster();
    transfer(nw, 3, 2);
    expect(msgsOf(nw.delivered, MessageType.TransferLeader)).toMatchObject([{ from: 3, to: 1 }]);
    expectLeader(nw, 3, 2);
  });

  it('a follower without a leader drops the request', () => {
    const nw = new Network([undefined, undefined, undefined]);
    transfer(nw, 3, 2);
    expect(nw.delivered).toEqual([]);
  });

  it('repeating a pending transfer changes nothing, not even its deadline', () => {
    const nw = cluster();
    nw.isolate(3);
    transfer(nw, 3);
    const leader = nw.peer(1);
    tickNode(nw, 1, 4);
    transfer(nw, 3);
    expect(leader.leadTransferee).toBe(3);
    // Still aborted one election timeout after the first request.
    tickNode(nw, 1, leader.electionTimeout - 4);
    expect(leader.leadTransferee).toBe(None);
    expect(leader.state).toBe(StateType.Leader);
  });

  it('a transfer to another node replaces the pending one', () => {
    const nw = cluster();
    nw.isolate(3);
    transfer(nw, 3);
    expect(nw.peer(1).leadTransferee).toBe(3);
    nw.recover();
    nw.isolate(3);
    transfer(nw, 2);
    expect(msgsOf(nw.delivered, MessageType.TimeoutNow)).toMatchObject([{ to: 2 }]);
    expect(nw.peer(2).state).toBe(StateType.Leader);
    expect(nw.peer(2).term).toBe(2);
    expect(nw.peer(1).state).toBe(StateType.Follower);
  });

  it('a new request for another node restarts the deadline', () => {
    const nw = cluster();
    nw.isolate(3);
    nw.isolate(2);
    transfer(nw, 3);
    const leader = nw.peer(1);
    tickNode(nw, 1, 4);
    transfer(nw, 2);
    tickNode(nw, 1, leader.electionTimeout - 1);
    expect(leader.leadTransferee).toBe(2);
    tickNode(nw, 1, 1);
    expect(leader.leadTransferee).toBe(None);
  });
});
