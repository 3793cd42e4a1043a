import { describe, expect, it } from 'vitest';
import { type Entry, type Message, MessageType, type Raft, StateType } from '../../../src/raft';
import { utf8 } from '../../../src/util/bytes';
import { Network, entry, msgsOf, newTestRaft } from './network';

function ctxEntry(ctx: string): Entry {
  return entry(0, 0, utf8(ctx));
}

/** The application asks node `r` for a read index. */
function readIndex(r: Raft, ctx: string) {
  return r.step({ type: MessageType.ReadIndex, entries: [ctxEntry(ctx)] });
}

function readStates(r: Raft): { index: number; ctx: string }[] {
  return r.readStates.map((rs) => ({ index: rs.index, ctx: new TextDecoder().decode(rs.requestCtx) }));
}

/** A 3-node network, node 1 elected, one proposal committed everywhere (commit 2). */
function cluster(): Network {
  const nw = new Network([undefined, undefined, undefined]);
  nw.campaign(1);
  nw.propose(1);
  expect(nw.peer(1).raftLog.committed).toBe(2);
  nw.delivered = [];
  return nw;
}

function heartbeatsWithContext(msgs: Message[]): Message[] {
  return msgsOf(msgs, MessageType.Heartbeat).filter((m) => m.context !== undefined && m.context.length > 0);
}

describe('ReadIndex on the leader', () => {
  it('yields a ReadState at the commit index only once a quorum acknowledges a heartbeat', () => {
    const nw = cluster();
    const leader = nw.peer(1);
    expect(readIndex(leader, 'a')).toBe('Ok');
    expect(leader.readStates).toEqual([]);
    const msgs = leader.readMessages();
    const hbs = heartbeatsWithContext(msgs);
    expect(hbs.map((m) => m.to).sort()).toEqual([2, 3]);
    expect(leader.readStates).toEqual([]);

    // Node 2's answer is the second vote of three: a quorum.
    nw.send(hbs.find((m) => m.to === 2)!);
    expect(readStates(leader)).toEqual([{ index: 2, ctx: 'a' }]);
    // The read does not touch the log.
    expect(leader.raftLog.lastIndex()).toBe(2);
  });

  it('needs a quorum of acknowledgements: in five nodes, one follower is not enough', () => {
    const nw = new Network([undefined, undefined, undefined, undefined, undefined]);
    nw.campaign(1);
    const leader = nw.peer(1);
    readIndex(leader, 'q');
    const hbs = heartbeatsWithContext(leader.readMessages());
    expect(hbs).toHaveLength(4);
    nw.send(hbs.find((m) => m.to === 2)!);
    expect(leader.readStates).toEqual([]);
    // The same follower again does not count twice.
    nw.send(hbs.find((m) => m.to === 2)!);
    expect(leader.readStates).toEqual([]);
    nw.send(hbs.find((m) => m.to === 5)!);
    expect(readStates(leader)).toEqual([{ index: 1, ctx: 'q' }]);
  });

  it('a heartbeat answer without the context does not confirm the read', () => {
    const nw = cluster();
    const leader = nw.peer(1);
    readIndex(leader, 'a');
    leader.readMessages();
    leader.step({ type: MessageType.HeartbeatResponse, from: 2, to: 1, term: leader.term });
    leader.step({ type: MessageType.HeartbeatResponse, from: 3, to: 1, term: leader.term, context: utf8('other') });
    expect(leader.readStates).toEqual([]);
  });

  it('confirms several pending reads together, in order, each at its own index', () => {
    const nw = cluster();
    const leader = nw.peer(1);
    readIndex(leader, 'a');
    readIndex(leader, 'b');
    // A write commits between the reads.
    nw.send(...leader.readMessages().filter((m) => m.type !== MessageType.Heartbeat));
    leader.step({ type: MessageType.Propose, from: 1, entries: [entry(0, 0)] });
    nw.send(...leader.readMessages());
    expect(leader.raftLog.committed).toBe(3);
    readIndex(leader, 'c');
    const hbs = heartbeatsWithContext(leader.readMessages());
    expect(leader.readStates).toEqual([]);
    // The acknowledgement of the newest read confirms the older ones too.
    nw.send(hbs.find((m) => m.to === 3 && new TextDecoder().decode(m.context) === 'c')!);
    expect(readStates(leader)).toEqual([
      { index: 2, ctx: 'a' },
      { index: 2, ctx: 'b' },
      { index: 3, ctx: 'c' },
    ]);
  });

  it('a new leader waits to answer until it has committed an entry of its term', () => {
    const nw = cluster();
    nw.ignore(MessageType.AppendResponse);
    nw.campaign(2);
    const leader = nw.peer(2);
    expect(leader.state).toBe(StateType.Leader);
    expect(leader.term).toBe(2);
    // Its committed index (2) is from term 1: it cannot tell whether more is committed.
    expect(leader.raftLog.committed).toBe(2);
    expect(leader.raftLog.lastIndex()).toBe(3);
    nw.delivered = [];
    expect(readIndex(leader, 'x')).toBe('Ok');
    nw.send(...leader.readMessages());
    expect(heartbeatsWithContext(nw.delivered)).toEqual([]);
    expect(leader.readStates).toEqual([]);

    // Once its empty entry commits, the read goes ahead at the new commit index.
    nw.recover();
    nw.send({ type: MessageType.Beat, from: 2, to: 2 });
    expect(leader.raftLog.committed).toBe(3);
    expect(heartbeatsWithContext(nw.delivered).length).toBeGreaterThan(0);
    expect(readStates(leader)).toEqual([{ index: 3, ctx: 'x' }]);
  });

  it('a single node answers at once', () => {
    const r = newTestRaft(1, [1]);
    r.step({ type: MessageType.Hup, from: 1 });
    r.readMessages();
    expect(r.state).toBe(StateType.Leader);
    expect(r.raftLog.committed).toBe(1);
    readIndex(r, 'solo');
    expect(readStates(r)).toEqual([{ index: 1, ctx: 'solo' }]);
    expect(r.readMessages()).toEqual([]);
  });
});

describe('ReadIndex on a follower', () => {
  it('forwards the request and turns the leader response into a ReadState', () => {
    const nw = cluster();
    const follower = nw.peer(2);
    nw.send({ type: MessageType.ReadIndex, from: 2, to: 2, entries: [ctxEntry('f')] });
    expect(msgsOf(nw.delivered, MessageType.ReadIndex)).toMatchObject([{ from: 2, to: 1 }]);
    expect(msgsOf(nw.delivered, MessageType.ReadIndexResponse)).toMatchObject([{ from: 1, to: 2, index: 2 }]);
    expect(readStates(follower)).toEqual([{ index: 2, ctx: 'f' }]);
    // Nothing is recorded on the leader.
    expect(nw.peer(1).readStates).toEqual([]);
  });

  it('drops the request when it knows no leader', () => {
    const r = newTestRaft(2, [1, 2, 3]);
    expect(readIndex(r, 'lost')).toBe('ProposalDropped');
    expect(r.readMessages()).toEqual([]);
    expect(r.readStates).toEqual([]);
  });

  it('a candidate drops the request too', () => {
    const r = newTestRaft(2, [1, 2, 3]);
    r.step({ type: MessageType.Hup, from: 2 });
    expect(r.state).toBe(StateType.Candidate);
    expect(readIndex(r, 'lost')).toBe('ProposalDropped');
  });
});
