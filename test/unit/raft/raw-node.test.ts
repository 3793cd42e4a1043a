import { describe, expect, it } from 'vitest';
import {
  ConfChangeType,
  type Entry,
  EntryType,
  MemoryStorage,
  type Message,
  MessageType,
  RawNode,
  type ReadState,
  type Ready,
  StateType,
  decodeConfChange,
} from '../../../src/raft';
import { AssertionError } from '../../../src/util/assert';
import { utf8 } from '../../../src/util/bytes';

const baseConfig = { electionTick: 10, heartbeatTick: 1 };

function indexes(ents: Entry[]): number[] {
  return ents.map((e) => e.index);
}

/** Persists a Ready the way the application must: snapshot, entries, hard state. */
function persist(s: MemoryStorage, rd: Ready): void {
  if (rd.snapshot) s.applySnapshot(rd.snapshot);
  s.append(rd.entries);
  if (rd.hardState) s.setHardState(rd.hardState);
}

/** RawNodes wired together, each with its MemoryStorage, run by the application loop. */
class Cluster {
  readonly nodes = new Map<number, RawNode>();
  readonly storages = new Map<number, MemoryStorage>();
  /** Every committed entry each node handed to the application, in order. */
  readonly applied = new Map<number, Entry[]>();
  /** Every read state each node handed to the application, in order. */
  readonly reads = new Map<number, ReadState[]>();
  private inbox: Message[] = [];

  constructor(ids: number[]) {
    for (const id of ids) {
      const storage = new MemoryStorage();
      this.storages.set(id, storage);
      this.nodes.set(id, new RawNode({ ...baseConfig, id, peers: ids, storage }));
      this.applied.set(id, []);
    }
  }

  node(id: number): RawNode {
    return this.nodes.get(id)!;
  }

  /** Runs ready loops and delivers messages until nothing is left. */
  pump(): void {
    for (let round = 0; round < 1000; round++) {
      let busy = false;
      for (const [id, n] of this.nodes) {
        if (!n.hasReady()) continue;
        busy = true;
        const rd = n.ready();
        persist(this.storages.get(id)!, rd);
        this.applied.get(id)!.push(...rd.committedEntries);
        this.reads.set(id, [...(this.reads.get(id) ?? []), ...rd.readStates]);
        for (const e of rd.committedEntries) {
          if (e.type === EntryType.ConfChange) n.applyConfChange(decodeConfChange(e.data));
        }
        this.inbox.push(...rd.messages);
        n.advance(rd);
      }
      const msgs = this.inbox;
      this.inbox = [];
      for (const m of msgs) this.nodes.get(m.to)?.step(m);
      if (!busy && msgs.length === 0) return;
    }
    throw new Error('cluster did not quiesce');
  }
}

function singleNode(): { n: RawNode; s: MemoryStorage } {
  const s = new MemoryStorage();
  return { n: new RawNode({ ...baseConfig, id: 1, peers: [1], storage: s }), s };
}

/** A single-node group that elected itself and applied its first entry. */
function singleLeader(): { n: RawNode; s: MemoryStorage } {
  const { n, s } = singleNode();
  n.campaign();
  while (n.hasReady()) {
    const rd = n.ready();
    persist(s, rd);
    n.advance(rd);
  }
  expect(n.raft.state).toBe(StateType.Leader);
  expect(n.raft.raftLog.applied).toBe(1);
  return { n, s };
}

describe('Ready contents', () => {
  it('a fresh node has nothing to do', () => {
    const { n } = singleNode();
    expect(n.hasReady()).toBe(false);
  });

  it('carries softState and hardState only when they changed', () => {
    const { n, s } = singleNode();
    n.campaign();
    const rd1 = n.ready();
    expect(rd1.softState).toEqual({ lead: 1, raftState: StateType.Leader });
    expect(rd1.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    persist(s, rd1);
    n.advance(rd1);

    // Only the commit moved.
    const rd2 = n.ready();
    expect(rd2.softState).toBeUndefined();
    expect(rd2.hardState).toEqual({ term: 1, vote: 1, commit: 1 });
    persist(s, rd2);
    n.advance(rd2);
    expect(n.hasReady()).toBe(false);

    // A proposal: new entries, but neither state changed yet.
    n.propose(utf8('x'));
    const rd3 = n.ready();
    expect(rd3.softState).toBeUndefined();
    expect(rd3.hardState).toBeUndefined();
    expect(indexes(rd3.entries)).toEqual([2]);
    persist(s, rd3);
    n.advance(rd3);
  });

  it('reports a role change of a follower', () => {
    const s = new MemoryStorage();
    const n = new RawNode({ ...baseConfig, id: 2, peers: [1, 2], storage: s });
    n.step({ type: MessageType.Heartbeat, from: 1, to: 2, term: 3 });
    const rd = n.ready();
    expect(rd.softState).toEqual({ lead: 1, raftState: StateType.Follower });
    expect(rd.hardState).toEqual({ term: 3, vote: 0, commit: 0 });
    expect(rd.messages).toMatchObject([{ type: MessageType.HeartbeatResponse, to: 1, term: 3 }]);
    n.advance(rd);
    n.step({ type: MessageType.Heartbeat, from: 1, to: 2, term: 3 });
    const again = n.ready();
    expect(again.softState).toBeUndefined();
    expect(again.hardState).toBeUndefined();
    n.advance(again);
  });

  it('entries to persist stay unstable until advance', () => {
    const { n, s } = singleLeader();
    n.propose(utf8('a'));
    n.propose(utf8('b'));
    const rd = n.ready();
    expect(indexes(rd.entries)).toEqual([2, 3]);
    expect(n.raft.raftLog.stabled).toBe(1);
    // Until advanced, the same entries would be handed out again.
    expect(indexes(n.raft.raftLog.unstableEntries())).toEqual([2, 3]);
    persist(s, rd);
    n.advance(rd);
    expect(n.raft.raftLog.stabled).toBe(3);
    expect(n.raft.raftLog.unstableEntries()).toEqual([]);
  });

  it('hands out each committed entry exactly once', () => {
    const { n, s } = singleLeader();
    n.propose(utf8('a'));
    let rd = n.ready();
    persist(s, rd);
    n.advance(rd);
    rd = n.ready();
    expect(indexes(rd.committedEntries)).toEqual([2]);
    expect(rd.committedEntries[0]!.data).toEqual(utf8('a'));
    persist(s, rd);
    n.advance(rd);
    expect(n.raft.raftLog.applied).toBe(2);
    expect(n.hasReady()).toBe(false);
    // Even an explicit ready() has nothing left to apply.
    rd = n.ready();
    expect(rd.committedEntries).toEqual([]);
    n.advance(rd);
  });

  it('while a Ready is outstanding, the committed entries it carries are not reported again', () => {
    const s = new MemoryStorage();
    s.append([{ index: 1, term: 1, type: EntryType.Normal, data: utf8('a') }]);
    s.setHardState({ term: 1, vote: 0, commit: 0 });
    const n = new RawNode({ ...baseConfig, id: 2, peers: [1, 2], storage: s });
    n.step({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1, commit: 1 });
    const rd = n.ready();
    expect(indexes(rd.committedEntries)).toEqual([1]);
    expect(n.hasReady()).toBe(false);
    persist(s, rd);
    n.advance(rd);
    expect(n.raft.raftLog.applied).toBe(1);
  });

  it('refuses ready() twice without advance(), and advance() without ready()', () => {
    const { n } = singleLeader();
    n.propose(utf8('a'));
    const rd = n.ready();
    expect(() => n.ready()).toThrow(AssertionError);
    n.advance(rd);
    expect(() => n.advance(rd)).toThrow(AssertionError);
  });

  it('ignores local message types arriving from the network', () => {
    const { n } = singleNode();
    expect(n.step({ type: MessageType.Hup, from: 2, to: 1 })).toBe('Ok');
    expect(n.raft.state).toBe(StateType.Follower);
    expect(n.hasReady()).toBe(false);
  });
});

describe('a cluster driven through Ready', () => {
  it('elects, replicates and applies every entry once on every node', () => {
    const c = new Cluster([1, 2, 3]);
    c.node(1).campaign();
    c.pump();
    expect(c.node(1).raft.state).toBe(StateType.Leader);
    for (const d of ['a', 'b', 'c']) c.node(1).propose(utf8(d));
    c.pump();
    for (const id of [1, 2, 3]) {
      expect(indexes(c.applied.get(id)!)).toEqual([1, 2, 3, 4]);
      expect(c.storages.get(id)!.lastIndex()).toBe(4);
      expect(c.node(id).raft.raftLog.applied).toBe(4);
    }
  });

  it('a restarted node restores term, vote and commit, and skips what it already applied', () => {
    const c = new Cluster([1, 2, 3]);
    c.node(1).campaign();
    c.pump();
    for (const d of ['a', 'b', 'c']) c.node(1).propose(utf8(d));
    c.pump();
    const s2 = c.storages.get(2)!;
    expect(s2.initialState().hardState).toEqual({ term: 1, vote: 1, commit: 4 });

    // Restart node 2, as if it had applied through 2 before crashing.
    const restarted = new RawNode({ ...baseConfig, id: 2, peers: [1, 2, 3], storage: s2, applied: 2 });
    const r = restarted.raft;
    expect(r.term).toBe(1);
    expect(r.vote).toBe(1);
    expect(r.raftLog.committed).toBe(4);
    expect(r.raftLog.applied).toBe(2);
    expect(r.raftLog.stabled).toBe(4);
    expect(r.state).toBe(StateType.Follower);
    const rd = restarted.ready();
    expect(indexes(rd.committedEntries)).toEqual([3, 4]);
    expect(rd.entries).toEqual([]);
    // Nothing it reloaded counts as changed state.
    expect(rd.hardState).toBeUndefined();
    restarted.advance(rd);
    expect(restarted.hasReady()).toBe(false);

    // Without `applied`, everything committed is handed out again.
    const fromScratch = new RawNode({ ...baseConfig, id: 2, peers: [1, 2, 3], storage: s2 });
    expect(indexes(fromScratch.ready().committedEntries)).toEqual([1, 2, 3, 4]);
  });

  it('a restarted node rejoins and keeps going', () => {
    const c = new Cluster([1, 2, 3]);
    c.node(1).campaign();
    c.pump();
    c.node(1).propose(utf8('a'));
    c.pump();
    const s3 = c.storages.get(3)!;
    c.nodes.set(3, new RawNode({ ...baseConfig, id: 3, peers: [1, 2, 3], storage: s3, applied: 2 }));
    c.node(1).propose(utf8('b'));
    c.pump();
    expect(indexes(c.applied.get(3)!)).toEqual([1, 2, 3]);
    expect(s3.lastIndex()).toBe(3);
  });
});

describe('conf changes through RawNode', () => {
  it('proposeConfChange commits a ConfChange entry; applyConfChange updates the membership', () => {
    const { n, s } = singleLeader();
    expect(n.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 2 })).toBe('Ok');
    let rd = n.ready();
    expect(rd.entries.map((e) => e.type)).toEqual([EntryType.ConfChange]);
    persist(s, rd);
    n.advance(rd);

    rd = n.ready();
    const cc = rd.committedEntries.find((e) => e.type === EntryType.ConfChange);
    expect(cc).toBeDefined();
    const change = decodeConfChange(cc!.data);
    expect(change).toEqual({ type: ConfChangeType.AddNode, nodeId: 2 });
    // Applied entries are reported by advance; until then, a second change waits.
    expect(n.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 3 })).toBe('ProposalDropped');
    expect(n.applyConfChange(change)).toEqual({ voters: [1, 2] });
    persist(s, rd);
    n.advance(rd);
    expect([...n.raft.prs.keys()].sort()).toEqual([1, 2]);
    // The leader reaches out to the new member.
    rd = n.ready();
    expect(rd.messages.filter((m) => m.to === 2 && m.type === MessageType.Append)).toHaveLength(1);
    n.advance(rd);
    expect(n.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 3 })).toBe('Ok');
  });

  it('a cluster adds a node and replicates to it', () => {
    const c = new Cluster([1, 2]);
    c.node(1).campaign();
    c.pump();
    // Node 3 starts empty, knowing only that it belongs to {1, 2, 3}.
    const s3 = new MemoryStorage();
    c.storages.set(3, s3);
    c.applied.set(3, []);
    c.nodes.set(3, new RawNode({ ...baseConfig, id: 3, peers: [1, 2, 3], storage: s3 }));
    c.node(1).proposeConfChange({ type: ConfChangeType.AddNode, nodeId: 3 });
    c.pump();
    expect([...c.node(1).raft.prs.keys()].sort()).toEqual([1, 2, 3]);
    c.node(1).propose(utf8('after'));
    c.pump();
    expect(indexes(c.applied.get(3)!)).toEqual([1, 2, 3]);
  });
});

describe('read index through RawNode', () => {
  it('a confirmed read comes out in Ready.readStates, once', () => {
    const { n } = singleLeader();
    expect(n.readIndex(utf8('r1'))).toBe('Ok');
    expect(n.hasReady()).toBe(true);
    const rd = n.ready();
    expect(rd.readStates).toEqual([{ index: 1, requestCtx: utf8('r1') }]);
    n.advance(rd);
    expect(n.hasReady()).toBe(false);
  });

  it('a follower in a cluster gets its read state after the leader confirms', () => {
    const c = new Cluster([1, 2, 3]);
    c.node(1).campaign();
    c.pump();
    c.node(1).propose(utf8('a'));
    c.pump();
    expect(c.node(3).readIndex(utf8('f'))).toBe('Ok');
    c.pump();
    expect(c.reads.get(3)).toEqual([{ index: 2, requestCtx: utf8('f') }]);
    expect(c.reads.get(1) ?? []).toEqual([]);
  });
});
