import { describe, expect, it } from 'vitest';
import {
  type ConfChange,
  ConfChangeType,
  EntryType,
  MessageType,
  StateType,
  decodeConfChange,
  encodeConfChange,
} from '../../../src/raft';
import { AssertionError } from '../../../src/util/assert';
import { Network, confChangeEntry, entry, msgsOf, newTestRaft, storageWithTerms } from './network';

const addNode = (nodeId: number): ConfChange => ({ type: ConfChangeType.AddNode, nodeId });
const removeNode = (nodeId: number): ConfChange => ({ type: ConfChangeType.RemoveNode, nodeId });

function elected(n: number): Network {
  const nw = new Network(new Array<undefined>(n).fill(undefined));
  nw.campaign(1);
  expect(nw.peer(1).state).toBe(StateType.Leader);
  return nw;
}

function ids(keys: Iterable<number>): number[] {
  return [...keys].sort((a, b) => a - b);
}

describe('conf change encoding', () => {
  it('round-trips each type, with and without context', () => {
    const cases: ConfChange[] = [
      addNode(4),
      removeNode(2),
      { type: ConfChangeType.AddNode, nodeId: Number.MAX_SAFE_INTEGER, context: new Uint8Array([1, 2, 3]) },
      { type: ConfChangeType.RemoveNode, nodeId: 1, context: new Uint8Array([0xff]) },
    ];
    for (const cc of cases) expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
  });

  it('decodes from a view into a larger buffer', () => {
    const encoded = encodeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 7, context: new Uint8Array([5]) });
    const big = new Uint8Array(encoded.length + 6);
    big.set(encoded, 3);
    expect(decodeConfChange(big.subarray(3, 3 + encoded.length))).toEqual({
      type: ConfChangeType.RemoveNode,
      nodeId: 7,
      context: new Uint8Array([5]),
    });
  });

  it('rejects invalid input', () => {
    expect(() => encodeConfChange({ type: ConfChangeType.AddNode, nodeId: 0 })).toThrow(AssertionError);
    expect(() => decodeConfChange(new Uint8Array(5))).toThrow(AssertionError);
    const bad = encodeConfChange(addNode(3));
    bad[0] = 9;
    expect(() => decodeConfChange(bad)).toThrow(AssertionError);
  });
});

describe('proposing and applying conf changes', () => {
  it('AddNode: the entry commits in the old config; applying it adds a progress for the node', () => {
    const nw = elected(3);
    const leader = nw.peer(1);
    nw.send({ type: MessageType.Propose, from: 1, to: 1, entries: [confChangeEntry(addNode(4))] });
    const ent = leader.raftLog.slice(2, 3)[0]!;
    expect(ent.type).toBe(EntryType.ConfChange);
    expect(decodeConfChange(ent.data)).toEqual(addNode(4));
    expect(leader.raftLog.committed).toBe(2);
    // Not a member until applied.
    expect(leader.prs.has(4)).toBe(false);
    leader.raftLog.appliedTo(2);
    expect(leader.applyConfChange(addNode(4)).voters).toEqual([1, 2, 3, 4]);
    const pr = leader.prs.get(4)!;
    expect(pr.match).toBe(0);
    expect(pr.next).toBe(leader.raftLog.lastIndex() + 1);
    // The leader starts probing the new node.
    expect(msgsOf(leader.readMessages(), MessageType.Append, 4)).toHaveLength(1);
  });

  it('RemoveNode: applying it drops the progress, and the quorum shrinks', () => {
    const nw = elected(3);
    const leader = nw.peer(1);
    nw.send({ type: MessageType.Propose, from: 1, to: 1, entries: [confChangeEntry(removeNode(3))] });
    leader.raftLog.appliedTo(2);
    expect(leader.applyConfChange(removeNode(3)).voters).toEqual([1, 2]);
    expect(ids(leader.prs.keys())).toEqual([1, 2]);
    // With {1, 2}, both are needed: node 2 down means nothing commits.
    nw.isolate(2);
    nw.propose(1);
    expect(leader.raftLog.committed).toBe(2);
  });

  it('applying an AddNode for an existing member keeps its progress', () => {
    const nw = elected(3);
    const leader = nw.peer(1);
    const before = leader.prs.get(2)!;
    leader.applyConfChange(addNode(2));
    expect(leader.prs.get(2)).toBe(before);
  });

  it('refuses a second conf change until the first is applied', () => {
    const nw = elected(3);
    const leader = nw.peer(1);
    expect(leader.step({ type: MessageType.Propose, from: 1, entries: [confChangeEntry(addNode(4))] })).toBe('Ok');
    expect(leader.pendingConfIndex).toBe(2);
    nw.send(...leader.readMessages());
    expect(leader.raftLog.committed).toBe(2);
    // Committed is not enough: it must be applied.
    expect(leader.step({ type: MessageType.Propose, from: 1, entries: [confChangeEntry(addNode(5))] })).toBe(
      'ProposalDropped',
    );
    // Ordinary proposals still go through.
    expect(leader.step({ type: MessageType.Propose, from: 1, entries: [entry(0, 0)] })).toBe('Ok');
    leader.raftLog.appliedTo(2);
    expect(leader.step({ type: MessageType.Propose, from: 1, entries: [confChangeEntry(addNode(5))] })).toBe('Ok');
    expect(leader.pendingConfIndex).toBe(4);
  });

  it('refuses two conf changes in one proposal', () => {
    const nw = elected(3);
    const leader = nw.peer(1);
    const result = leader.step({
      type: MessageType.Propose,
      from: 1,
      entries: [confChangeEntry(addNode(4)), entry(0, 0), confChangeEntry(addNode(5))],
    });
    expect(result).toBe('ProposalDropped');
    expect(leader.raftLog.lastIndex()).toBe(1);
  });

  it('a new leader refuses conf changes until it has applied everything in its log at election', () => {
    const s = storageWithTerms([1, 1, 1]);
    s.setHardState({ term: 1, vote: 0, commit: 3 });
    const r = newTestRaft(1, [1, 2, 3], s);
    r.becomeCandidate();
    r.becomeLeader();
    expect(r.pendingConfIndex).toBe(3);
    expect(r.step({ type: MessageType.Propose, from: 1, entries: [confChangeEntry(addNode(4))] })).toBe(
      'ProposalDropped',
    );
    r.raftLog.appliedTo(3);
    expect(r.step({ type: MessageType.Propose, from: 1, entries: [confChangeEntry(addNode(4))] })).toBe('Ok');
  });
});

describe('quorum changes', () => {
  it('removing an unreachable node lets a pending entry commit with the smaller quorum (2 nodes)', () => {
    const nw = elected(2);
    const leader = nw.peer(1);
    nw.isolate(2);
    nw.propose(1);
    expect(leader.raftLog.lastIndex()).toBe(2);
    expect(leader.raftLog.committed).toBe(1);
    leader.applyConfChange(removeNode(2));
    expect(leader.raftLog.committed).toBe(2);
  });

  it('removing one of two down nodes of four lets a pending entry commit (quorum 3 -> 2)', () => {
    const nw = elected(4);
    const leader = nw.peer(1);
    nw.isolate(3);
    nw.isolate(4);
    nw.propose(1);
    expect(leader.raftLog.committed).toBe(1);
    expect(leader.prs.get(2)!.match).toBe(2);
    leader.applyConfChange(removeNode(4));
    expect(leader.raftLog.committed).toBe(2);
    // Node 2 hears of the new commit.
    nw.send(...leader.readMessages());
    expect(nw.peer(2).raftLog.committed).toBe(2);
  });

  it('a leader that removes itself steps down and takes no proposals', () => {
    const nw = elected(3);
    const leader = nw.peer(1);
    leader.applyConfChange(removeNode(1));
    expect(leader.state).toBe(StateType.Follower);
    expect(leader.step({ type: MessageType.Propose, from: 1, entries: [entry(0, 0)] })).toBe('ProposalDropped');
    // Nor does it campaign again.
    leader.step({ type: MessageType.Hup, from: 1 });
    expect(leader.state).toBe(StateType.Follower);
    expect(leader.term).toBe(1);
  });
});

describe('campaign eligibility', () => {
  it('a node outside the configuration never campaigns', () => {
    const r = newTestRaft(4, [1, 2, 3]);
    for (let i = 0; i < r.electionTimeout * 3; i++) r.tick();
    expect(r.state).toBe(StateType.Follower);
    expect(r.term).toBe(0);
    expect(r.readMessages()).toEqual([]);
    r.step({ type: MessageType.Hup, from: 4 });
    expect(r.state).toBe(StateType.Follower);
    expect(r.readMessages()).toEqual([]);
  });

  it('a node with a committed but unapplied conf change does not campaign until it applies it', () => {
    const s = storageWithTerms([1]);
    s.append([{ index: 2, term: 1, type: EntryType.ConfChange, data: encodeConfChange(addNode(4)) }, entry(3, 1)]);
    s.setHardState({ term: 1, vote: 0, commit: 3 });
    const r = newTestRaft(1, [1, 2, 3], s);
    for (let i = 0; i < r.electionTimeout * 3; i++) r.tick();
    r.step({ type: MessageType.Hup, from: 1 });
    expect(r.state).toBe(StateType.Follower);
    expect(r.term).toBe(1);
    expect(r.readMessages()).toEqual([]);

    // Once the conf change is applied, it campaigns.
    r.raftLog.appliedTo(2);
    r.step({ type: MessageType.Hup, from: 1 });
    expect(r.state).toBe(StateType.Candidate);
    expect(r.term).toBe(2);
  });

  it('an unapplied but uncommitted conf change does not stop a campaign', () => {
    const s = storageWithTerms([1]);
    s.append([{ index: 2, term: 1, type: EntryType.ConfChange, data: encodeConfChange(addNode(4)) }]);
    s.setHardState({ term: 1, vote: 0, commit: 1 });
    const r = newTestRaft(1, [1, 2, 3], s);
    r.step({ type: MessageType.Hup, from: 1 });
    expect(r.state).toBe(StateType.Candidate);
  });
});
