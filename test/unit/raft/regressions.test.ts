// One test per classic Raft implementation mistake, each named for the
// mistake it guards against. They pin down small rules that scenario tests
// cover only in passing, so a regression points straight at its cause.

import { describe, expect, it } from 'vitest';
import {
  CompactedError,
  EntryType,
  MemoryStorage,
  type Message,
  MessageType,
  None,
  ProgressState,
  Raft,
  RaftLog,
  StateType,
} from '../../../src/raft';
import { Network, entry, newTestRaft, storageWithTerms } from './network';

const ids3 = [1, 2, 3];

function constRand(r: number): () => number {
  return () => r;
}

function data(n: number): Uint8Array {
  return new Uint8Array([n]);
}

function ofType(msgs: Message[], type: MessageType): Message[] {
  return msgs.filter((m) => m.type === type).sort((a, b) => a.to - b.to);
}

function makeLeader(r: Raft): void {
  r.becomeCandidate();
  r.becomeLeader();
  r.readMessages();
}

function hup(r: Raft): void {
  r.step({ type: MessageType.Hup, from: r.id, to: r.id });
}

/** Storage with entries of `terms` at 1..n, compacted through `compactIndex` behind a snapshot of voters `voters`. */
function compactedStorage(terms: number[], compactIndex: number, voters: number[]): MemoryStorage {
  const storage = storageWithTerms(terms);
  storage.createSnapshot(compactIndex, { voters }, data(9));
  storage.compact(compactIndex);
  return storage;
}

describe('regressions', () => {
  describe('handling a network message that has no sender (from = None)', () => {
    const roles: { role: string; make: () => Raft }[] = [
      {
        role: 'follower',
        make: () => {
          const r = newTestRaft(1, ids3);
          r.becomeFollower(1, 2);
          return r;
        },
      },
      {
        role: 'candidate',
        make: () => {
          const r = newTestRaft(1, ids3);
          hup(r);
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
    const types = [
      MessageType.Append,
      MessageType.AppendResponse,
      MessageType.Heartbeat,
      MessageType.HeartbeatResponse,
      MessageType.RequestVote,
      MessageType.RequestVoteResponse,
      MessageType.RequestPreVote,
      MessageType.RequestPreVoteResponse,
      MessageType.Snapshot,
      MessageType.TimeoutNow,
    ];
    const matrix = roles.flatMap((role) => types.map((type) => ({ ...role, type })));

    it.each(matrix)('a $role ignores a $type without a sender: no crash, no state change, no reply', ({ make, type }) => {
      const r = make();
      r.readMessages();
      const before = { term: r.term, vote: r.vote, state: r.state, lead: r.lead, hs: r.hardState(), last: r.raftLog.lastIndex() };
      // A higher term and content, so that processing it at all would show.
      const res = r.step({
        type,
        to: 1,
        term: r.term + 1,
        index: 0,
        logTerm: 0,
        entries: [entry(1, r.term + 1)],
        commit: 1,
      });
      expect(res).toBe('Ok');
      expect({ term: r.term, vote: r.vote, state: r.state, lead: r.lead, hs: r.hardState(), last: r.raftLog.lastIndex() }).toEqual(
        before,
      );
      expect(r.readMessages()).toEqual([]);
    });
  });

  it('election timer compared with > instead of >=: a follower with timeout N campaigns on tick N, not N+1', () => {
    const r = newTestRaft(1, ids3, new MemoryStorage(), { electionTick: 10, rand: constRand(0.5) });
    expect(r.randomizedElectionTimeout).toBe(15);
    for (let i = 0; i < 14; i++) r.tick();
    expect(r.state).toBe(StateType.Follower);
    r.tick();
    expect(r.state).toBe(StateType.Candidate);
    expect(r.term).toBe(1);
    // Same for a candidate waiting out its election.
    r.readMessages();
    for (let i = 0; i < 14; i++) r.tick();
    expect(r.term).toBe(1);
    r.tick();
    expect(r.term).toBe(2);
  });

  it.each([false, true])('a single-node group not becoming leader (preVote: %s): it wins at once', (preVote) => {
    const r = newTestRaft(1, [1], new MemoryStorage(), { preVote });
    hup(r);
    expect(r.state).toBe(StateType.Leader);
    expect(r.term).toBe(1);
    expect(ofType(r.readMessages(), MessageType.RequestVote)).toEqual([]);

    // And by its own election timer, with nobody to ask.
    const ticked = newTestRaft(1, [1], new MemoryStorage(), { preVote, rand: constRand(0) });
    for (let i = 0; i < 10; i++) ticked.tick();
    expect(ticked.state).toBe(StateType.Leader);
  });

  describe('vote replies handled outside candidacy', () => {
    it('a follower ignores vote grants', () => {
      const r = newTestRaft(1, ids3);
      r.becomeFollower(1, None);
      for (const from of [2, 3]) r.step({ type: MessageType.RequestVoteResponse, from, to: 1, term: 1 });
      expect(r.state).toBe(StateType.Follower);
      expect(r.readMessages()).toEqual([]);
    });

    it('a candidate that lost ignores grants arriving late', () => {
      const r = newTestRaft(1, ids3);
      hup(r);
      for (const from of [2, 3]) r.step({ type: MessageType.RequestVoteResponse, from, to: 1, term: 1, reject: true });
      expect(r.state).toBe(StateType.Follower);
      for (const from of [2, 3]) r.step({ type: MessageType.RequestVoteResponse, from, to: 1, term: 1 });
      expect(r.state).toBe(StateType.Follower);
      expect(r.term).toBe(1);
    });

    it('a leader ignores vote rejections of its term', () => {
      const r = newTestRaft(1, ids3);
      makeLeader(r);
      for (const from of [2, 3]) r.step({ type: MessageType.RequestVoteResponse, from, to: 1, term: 1, reject: true });
      expect(r.state).toBe(StateType.Leader);
      expect(r.term).toBe(1);
    });

    it('a pre-candidate counts only pre-vote responses', () => {
      const r = newTestRaft(1, ids3, new MemoryStorage(), { preVote: true });
      r.becomeFollower(1, None);
      hup(r);
      expect(r.state).toBe(StateType.PreCandidate);
      expect(r.term).toBe(1);
      r.step({ type: MessageType.RequestVoteResponse, from: 2, to: 1, term: 1 });
      expect(r.state).toBe(StateType.PreCandidate);
      // A pre-vote granted for term 2 makes a quorum and starts the real election.
      r.step({ type: MessageType.RequestPreVoteResponse, from: 2, to: 1, term: 2 });
      expect(r.state).toBe(StateType.Candidate);
      expect(r.term).toBe(2);
    });
  });

  it('up-to-date check off by one: equal last term and index is granted, one index less is refused', () => {
    const log = new RaftLog(storageWithTerms([1, 2, 2]));
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);

    for (const [lastIndex, granted] of [
      [3, true],
      [2, false],
    ] as const) {
      const storage = storageWithTerms([1, 2, 2]);
      storage.setHardState({ term: 2, vote: None, commit: 0 });
      const r = newTestRaft(1, ids3, storage);
      r.step({ type: MessageType.RequestVote, from: 2, to: 1, term: 3, index: lastIndex, logTerm: 2 });
      expect(r.readMessages().map((m) => m.reject)).toEqual([!granted]);
      expect(r.vote).toBe(granted ? 2 : None);
    }
  });

  it('timeouts compared with the fixed electionTick instead of the randomized one', () => {
    const r = newTestRaft(1, ids3, new MemoryStorage(), { electionTick: 10, rand: constRand(0.95) });
    expect(r.randomizedElectionTimeout).toBe(19);
    for (let i = 0; i < 18; i++) {
      r.tick();
      expect(r.state, `tick ${i + 1}`).toBe(StateType.Follower);
    }
    r.tick();
    expect(r.state).toBe(StateType.Candidate);
  });

  it('a term bump that keeps the old vote', () => {
    const r = newTestRaft(1, ids3);
    r.step({ type: MessageType.RequestVote, from: 2, to: 1, term: 1 });
    expect(r.vote).toBe(2);
    r.becomeFollower(2, None);
    expect(r.term).toBe(2);
    expect(r.vote).toBe(None);
    // Free to vote in the new term, also when the term arrives with the request.
    r.step({ type: MessageType.RequestVote, from: 3, to: 1, term: 2 });
    expect(r.vote).toBe(3);
    r.step({ type: MessageType.RequestVote, from: 2, to: 1, term: 3 });
    expect(r.hardState()).toEqual({ term: 3, vote: 2, commit: 0 });
  });

  describe('an index loop running below the first index of a compacted log', () => {
    it('findConflictByTerm stops where terms become unknown and reports term 0', () => {
      // Terms 1,1,2,2,3,3,4,4,5,5; compacted through 5 (term 3), so firstIndex is 6.
      const log = new RaftLog(compactedStorage([1, 1, 2, 2, 3, 3, 4, 4, 5, 5], 5, [1]));
      expect(log.firstIndex()).toBe(6);
      expect(log.findConflictByTerm(10, 4)).toEqual({ index: 8, term: 4 });
      expect(log.findConflictByTerm(10, 3)).toEqual({ index: 6, term: 3 });
      // The compacted entry 5 still has a known term (the snapshot's); 4 does not.
      expect(log.findConflictByTerm(10, 2)).toEqual({ index: 4, term: 0 });
      expect(log.findConflictByTerm(10, 1)).toEqual({ index: 4, term: 0 });
    });

    it.each([1, 0])('a compacted leader answers a hint below its first index (hint term %s) with a snapshot', (hintTerm) => {
      const storage = compactedStorage([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 5, [1, 2]);
      storage.setHardState({ term: 1, vote: 1, commit: 10 });
      const r = newTestRaft(1, [1, 2], storage);
      makeLeader(r);
      expect(r.raftLog.lastIndex()).toBe(11);
      // The follower has only entries 1..3.
      r.step({
        type: MessageType.AppendResponse,
        from: 2,
        to: 1,
        term: r.term,
        index: 10,
        reject: true,
        rejectHint: 3,
        logTerm: hintTerm,
      });
      const msgs = r.readMessages();
      expect(msgs.map((m) => [m.type, m.to])).toEqual([[MessageType.Snapshot, 2]]);
      expect(msgs[0]!.snapshot!.metadata.index).toBe(5);
      expect(r.prs.get(2)!.state).toBe(ProgressState.Snapshot);
    });
  });

  it('a leader campaigning again on Hup', () => {
    const r = newTestRaft(1, ids3);
    makeLeader(r);
    hup(r);
    expect(r.state).toBe(StateType.Leader);
    expect(r.term).toBe(1);
    expect(r.readMessages()).toEqual([]);
  });

  it('a missing no-op on election: the new leader appends an empty entry of its term', () => {
    const nw = new Network([undefined, undefined, undefined]);
    nw.campaign(1);
    const leader = nw.peer(1);
    expect(leader.raftLog.lastIndex()).toBe(1);
    expect(leader.raftLog.slice(1, 2)).toEqual([{ index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array(0) }]);
    for (const id of ids3) expect(nw.peer(id).raftLog.committed).toBe(1);

    // Also after earlier terms: the no-op comes after the inherited log.
    const storage = storageWithTerms([1, 2]);
    storage.setHardState({ term: 2, vote: None, commit: 0 });
    const r = newTestRaft(1, ids3, storage);
    makeLeader(r);
    expect(r.raftLog.lastIndex()).toBe(3);
    expect(r.raftLog.term(3)).toBe(3);
  });

  it('a single-node proposal not advancing commit', () => {
    const r = newTestRaft(1, [1]);
    hup(r);
    r.readMessages();
    expect(r.raftLog.committed).toBe(1);
    r.step({ type: MessageType.Propose, from: 1, to: 1, entries: [entry(0, 0, data(1))] });
    r.readMessages();
    expect(r.raftLog.committed).toBe(2);
    expect(r.raftLog.nextEnts().map((e) => e.data)).toEqual([new Uint8Array(0), data(1)]);
  });

  it('appended entries stamped with the message term instead of the leader term', () => {
    const r = newTestRaft(1, ids3);
    makeLeader(r);
    r.step({ type: MessageType.Propose, from: 1, to: 1, entries: [entry(77, 99, data(1)), entry(78, 99, data(2))] });
    expect(r.raftLog.slice(2, 4).map((e) => [e.index, e.term])).toEqual([
      [2, 1],
      [3, 1],
    ]);
  });

  it('log slicing off by firstIndex after compaction', () => {
    const log = new RaftLog(compactedStorage([1, 1, 2, 2, 3, 3, 4, 4, 5, 5], 5, [1]));
    log.append([entry(11, 6), entry(12, 6)]);
    expect(log.firstIndex()).toBe(6);
    expect(log.slice(6, 8).map((e) => e.index)).toEqual([6, 7]);
    expect(log.slice(6, 6)).toEqual([]);
    expect(log.entries(6).map((e) => e.index)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    // Across the stable/unstable boundary.
    expect(log.slice(9, 12).map((e) => [e.index, e.term])).toEqual([
      [9, 5],
      [10, 5],
      [11, 6],
    ]);
    expect(log.term(5)).toBe(3);
    expect(log.term(4)).toBeUndefined();
    expect(() => log.slice(5, 7)).toThrow(CompactedError);
    expect(() => log.entries(5)).toThrow(CompactedError);
  });

  it('stabled not lowered after a truncation', () => {
    const log = new RaftLog(storageWithTerms([1, 1, 1, 1, 1]));
    expect(log.stabled).toBe(5);
    expect(log.unstableEntries()).toEqual([]);
    log.append([entry(3, 2)]);
    expect(log.stabled).toBe(2);
    expect(log.unstableEntries().map((e) => [e.index, e.term])).toEqual([[3, 2]]);
    expect(log.lastIndex()).toBe(3);
    // The overwritten stable entries are gone from the log's view.
    expect(log.term(3)).toBe(2);
    expect(log.term(4)).toBeUndefined();
  });

  it('committing an older term entry by counting replicas (figure 8)', () => {
    const storage = storageWithTerms([1, 2]);
    storage.setHardState({ term: 2, vote: None, commit: 0 });
    const r = newTestRaft(1, [1, 2, 3, 4, 5], storage);
    makeLeader(r);
    expect(r.term).toBe(3);
    // Every follower holds index 2 (term 2): unanimity still does not commit it.
    for (const from of [2, 3, 4, 5]) r.step({ type: MessageType.AppendResponse, from, to: 1, term: 3, index: 2 });
    r.readMessages();
    expect(r.raftLog.committed).toBe(0);
    // A majority holding the term-3 no-op commits it and everything before.
    for (const from of [2, 3]) r.step({ type: MessageType.AppendResponse, from, to: 1, term: 3, index: 3 });
    r.readMessages();
    expect(r.raftLog.committed).toBe(3);
  });

  it('commit set to leaderCommit instead of min(leaderCommit, last new entry) on an empty Append', () => {
    // The follower's entries 3..5 are from term 2 and stale: the leader of term 3 has other entries there.
    const storage = storageWithTerms([1, 1, 2, 2, 2]);
    storage.setHardState({ term: 2, vote: None, commit: 0 });
    const r = newTestRaft(2, ids3, storage);
    r.step({ type: MessageType.Append, from: 1, to: 2, term: 3, index: 2, logTerm: 1, entries: [], commit: 5 });
    expect(r.raftLog.committed).toBe(2);
    const resp = r.readMessages();
    expect(resp.map((m) => [m.type, m.reject, m.index])).toEqual([[MessageType.AppendResponse, false, 2]]);
    expect(r.raftLog.lastIndex()).toBe(5);
  });

  it('heartbeats not advancing the follower commit', () => {
    const r = newTestRaft(2, ids3);
    r.step({
      type: MessageType.Append,
      from: 1,
      to: 2,
      term: 1,
      index: 0,
      logTerm: 0,
      entries: [entry(1, 1), entry(2, 1), entry(3, 1)],
      commit: 0,
    });
    expect(r.raftLog.committed).toBe(0);
    r.step({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1, commit: 3 });
    expect(r.raftLog.committed).toBe(3);
    // A delayed heartbeat with an older commit never moves it back.
    r.step({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1, commit: 1 });
    expect(r.raftLog.committed).toBe(3);
  });
});
