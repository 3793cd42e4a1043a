// A seeded, randomized simulation of one Raft group (TigerBeetle's VOPR idea
// applied to src/raft). A handful of RawNodes, each with its own storage, are
// driven through thousands of random steps: ticks, proposals, delivery of
// in-flight messages in any order, loss, duplication, partitions, crashes,
// membership changes, leadership transfers, log compaction and snapshots.
// Raft's safety properties are checked after every step; at the end the
// faults stop and every member must converge on the same applied sequence.
// One seed reproduces one whole history.
//
// The simulator plays the application, as the peer Durable Object does: it
// persists each Ready (snapshot, entries, hard state), sends its messages,
// applies its committed entries to a state machine, then advances. The state
// machine ("applied sequence") is durable like a peer's data tables, so a
// restarted node resumes with `applied` = what it had applied.
//
// Checked after every step, against the whole history:
// - at most one leader per term; a leader was a voter when it won;
// - log matching: an (index, term) always carries the same data and follows
//   the same term, in every log that ever held it;
// - a committed entry never changes; a leader of term T holds every entry
//   known committed in a term before T (leader completeness);
// - what a leader commits is in the storage of a quorum already;
// - applied sequences are prefixes of one another, each entry applied once;
// - persisted term, vote and commit never go back, a vote never changes
//   within a term, and a vote, candidacy or acknowledgement leaves only after
//   what it promises is persisted;
// - declared invariants: applied <= committed <= last, match < next.
// At the end every committed entry and one last proposal must be applied,
// identically, on every member.

import {
  type ConfChange,
  ConfChangeType,
  type Config,
  type ConfState,
  decodeConfChange,
  encodeConfChange,
  type Entry,
  EntryType,
  type InitialState,
  MemoryStorage,
  type Message,
  MessageType,
  None,
  RawNode,
  type Ready,
  type Snapshot,
  StateType,
} from '../../src/raft';
import { seededRandom } from '../unit/raft/network';

export interface SimOptions {
  seed: number;
  /** Voters at the start: 3 or 5. Membership changes pick ids from 1..nodes+2. */
  nodes: number;
  /** Random steps before the faults stop. */
  steps: number;
  /** Print every event as it happens (replaying one seed). */
  trace?: boolean;
  /** Bound on the rounds of the final convergence (each: one tick everywhere, then deliver everything). */
  settleRounds?: number;
  /** Overrides what the seed would choose (drawn first, so the rest of the history stays seeded). */
  knobs?: Partial<Pick<Knobs, 'bootstrap' | 'preVote' | 'checkQuorum' | 'membershipChanges' | 'earlyAppends'>>;
}

export interface SimStats {
  seed: number;
  nodes: number;
  steps: number;
  /** Knobs the seed chose, for the failure report and for curiosity. */
  knobs: string;
  proposals: number;
  /** Distinct proposals that some node applied. */
  appliedProposals: number;
  /** Highest committed index. */
  committed: number;
  /** Terms that had a leader. */
  leaderTerms: number;
  restarts: number;
  snapshotsCreated: number;
  snapshotsInstalled: number;
  confChangesApplied: number;
  transfers: number;
  partitions: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  /** Voters at the end. */
  members: number[];
  /** Rounds the final convergence took. */
  settleRounds: number;
}

/** A broken invariant; the message names the seed, the step and how to replay it. */
export class SimFailure extends Error {
  override name = 'SimFailure';
}

/**
 * MemoryStorage plus the ConfState of the applied state. MemoryStorage reports
 * the ConfState of its last snapshot, which is stale once conf changes are
 * applied after it; a restarted node resumes at `applied`, past those
 * entries, so like a real peer (which keeps its region's peers with the data)
 * the application keeps the applied ConfState and reports it.
 */
export class SimStorage extends MemoryStorage {
  /** The voters as of the applied index. Durable with the state machine. */
  appliedConfState: ConfState = { voters: [] };

  override initialState(): InitialState {
    return { hardState: super.initialState().hardState, confState: { voters: [...this.appliedConfState.voters] } };
  }

  override applySnapshot(snap: Snapshot): void {
    super.applySnapshot(snap);
    this.appliedConfState = { voters: [...snap.metadata.confState.voters] };
  }
}

/** How a brand-new group gets its initial configuration. */
export type Bootstrap =
  /** etcd's Bootstrap: the log starts with committed AddNode entries, which a new node replays from index 1. */
  | 'log'
  /** TinyKV's: storage starts with a snapshot carrying the ConfState, so a new node always starts from a snapshot. */
  | 'snapshot';

export interface Knobs {
  bootstrap: Bootstrap;
  preVote: boolean;
  checkQuorum: boolean;
  /**
   * Off without preVote. Like etcd, a node ignores a vote request of a lower
   * term without answering (and, without checkQuorum too, a lower-term
   * append). Membership changes leave nodes with stale configurations: one
   * whose configuration no longer reaches the current members can keep
   * raising its term by campaigning, or by being pushed by a removed node
   * that does not know it; the members never hear of that term, and the
   * candidates' terms race (or the group stays stuck) after every fault has
   * healed. preVote keeps a node that cannot win from raising its term.
   */
  membershipChanges: boolean;
  electionTick: number;
  heartbeatTick: number;
  maxSizePerMsg: number;
  maxInflightMsgs: number;
  maxCommittedSizePerReady: number;
  /** Every node id that may ever be a member. */
  universe: number[];
  /** Membership changes never shrink the group below this. */
  minVoters: number;
  /**
   * A leader sends the appends of a Ready before persisting it, and finishes
   * the Ready in a later step (DESIGN.md: "the leader writes its log while the
   * followers do"); acknowledgements may come back first, or the leader may
   * crash before its write.
   */
  earlyAppends: boolean;
  /** With earlyAppends: the chance per step that a leader's pending write completes (a slow disk is low). */
  writeRate: number;
  /** Scales the weights of the fault steps: some seeds are calm, some stormy. */
  storm: number;
}

interface Flight {
  m: Message;
  /** The node that sent it (a forwarded proposal keeps its original `from`). */
  sender: number;
}

interface SimNode {
  readonly id: number;
  readonly storage: SimStorage;
  raw: RawNode;
  /** The state machine: seq[i - 1] is the entry applied at index i, as `${term}:${entryKey}`. Durable. */
  seq: string[];
  /** Crash in the middle of the next Ready: after persisting it, before sending or applying. */
  crashAtNextReady: boolean;
  // What the checker last saw of this node, so that it re-checks only what changed.
  /** Lowest log index written since the last check (Infinity: none). */
  dirtyFrom: number;
  seenFirst: number;
  seenLast: number;
  seenLastTerm: number;
  seenCommitted: number;
  seenTerm: number;
  seenVote: number;
  /** The persisted hard state last seen: it never goes back, even across crashes. */
  durableTerm: number;
  durableVote: number;
  durableCommit: number;
  /** Commits through here were checked for durability (or learned from a leader). */
  durableCheckedTo: number;
  /** The voter sets this node went through since the last check, the one in force then first. */
  configs: number[][];
  /** A leader's Ready whose appends went out before it was persisted; the rest waits for a later step. */
  pending: { rd: Ready; late: Message[] } | undefined;
}

interface CommitRecord {
  term: number;
  key: string;
  /** Lowest term a node was in when it reported the entry committed: the commit happened in a term <= this. */
  reportTerm: number;
}

interface LogRecord {
  key: string;
  /** Term of the entry before it, in every log that holds this (index, term). */
  prevTerm: number;
}

/** (index, term) packed into one Map key. */
const termSpan = 1_000_000;
/** While the faults run, the in-flight pool holds no more than this; beyond it a random message is lost. */
const inflightMessagesMax = 400;
/** Rounds of the final convergence, unless SimOptions.settleRounds says otherwise. */
const settleRoundsMax = 600;
/** Deliveries within one settle round; beyond it the messages are not dying down. */
const settleDeliveriesPerRoundMax = 200_000;
/** Ready batches one node may produce in one pass, and passes over all nodes after a step. */
const readiesPerPassMax = 8;
const readyPassesMax = 100;
/** Events kept for the failure report. */
const recentEventsMax = 60;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** What identifies an entry's content: its type and data. */
export function entryKey(e: Entry): string {
  if (e.type === EntryType.Normal) return `N${latin1(e.data)}`;
  const cc = decodeConfChange(e.data);
  return `C${cc.type === ConfChangeType.AddNode ? '+' : '-'}${cc.nodeId}`;
}

function encodeSeq(seq: string[]): Uint8Array {
  return encoder.encode(JSON.stringify(seq));
}

function decodeSeq(data: Uint8Array): string[] {
  const parsed: unknown = JSON.parse(decoder.decode(data));
  if (!Array.isArray(parsed) || !parsed.every((x): x is string => typeof x === 'string')) {
    throw new SimFailure('snapshot data is not an applied sequence');
  }
  return parsed;
}

export function replayHint(seed: number, nodes: number): string {
  return `SIM_SEED=${seed} SIM_NODES=${nodes} npx vitest run --project unit test/sim/raft.test.ts`;
}

export class RaftSim {
  readonly options: SimOptions;
  readonly knobs: Knobs;
  readonly nodes = new Map<number, SimNode>();
  private readonly rng: () => number;
  private inflight: Flight[] = [];
  /** The side of each node while partitioned; undefined when healed. */
  private side: Map<number, number> | undefined = undefined;
  private phase: 'random' | 'settle' = 'random';
  /** In the settle phase: the voters of the most advanced state machine, which must converge. */
  private members = new Set<number>();
  private step = 0;
  private settleRound = 0;
  private nextPayload = 1;
  private readonly recent: string[] = [];
  private readonly actions: [number, () => void][];
  private readonly totalWeight: number;

  // The checker's memory of the whole history.
  private readonly leaderOfTerm = new Map<number, number>();
  private readonly logRecords = new Map<number, LogRecord>();
  private readonly committed = new Map<number, CommitRecord>();
  private maxCommitted = 0;
  /** The voters after the conf change entry at each index, as every node applied it. */
  private readonly confAt = new Map<number, string>();
  private readonly appliedPayloads = new Set<string>();

  private readonly stats: SimStats;

  constructor(options: SimOptions) {
    this.options = options;
    this.rng = seededRandom(options.seed * 2654435761 + options.nodes);
    const n = options.nodes;
    const r = this.rng;
    // The production peer runs with both preVote and checkQuorum; the others are supported options.
    // Half the seeds run both, a fifth each only one, a tenth neither.
    const election = r();
    const preVote = election < 0.7;
    const checkQuorum = election < 0.5 || (election >= 0.7 && election < 0.9);
    this.knobs = {
      bootstrap: r() < 0.5 ? 'log' : 'snapshot',
      preVote,
      checkQuorum,
      membershipChanges: preVote,
      electionTick: 10,
      heartbeatTick: 1 + Math.floor(r() * 3),
      // Small messages make followers catch up in many short appends: stale tails outlive them.
      maxSizePerMsg: pickWeighted(r(), [
        [0.35, 1],
        [0.2, 80],
        [0.45, 4096],
      ]),
      maxInflightMsgs: r() < 0.3 ? 1 + Math.floor(r() * 3) : 64,
      maxCommittedSizePerReady: r() < 0.3 ? 100 : Number.MAX_SAFE_INTEGER,
      universe: Array.from({ length: n + 2 }, (_, i) => i + 1),
      minVoters: n <= 3 ? 2 : 3,
      storm: 0.3 + r() * 2.7,
      earlyAppends: r() < 0.5,
      writeRate: 0.03 + r() * 0.4,
      ...options.knobs,
    };
    const k = this.knobs;
    this.stats = {
      seed: options.seed,
      nodes: n,
      steps: options.steps,
      knobs: `bootstrap=${k.bootstrap} preVote=${k.preVote} checkQuorum=${k.checkQuorum} membershipChanges=${k.membershipChanges} earlyAppends=${k.earlyAppends} writeRate=${k.writeRate.toFixed(2)} heartbeatTick=${k.heartbeatTick} maxSizePerMsg=${k.maxSizePerMsg} maxInflightMsgs=${k.maxInflightMsgs} maxCommittedSizePerReady=${k.maxCommittedSizePerReady} storm=${k.storm.toFixed(2)}`,
      proposals: 0,
      appliedProposals: 0,
      committed: 0,
      leaderTerms: 0,
      restarts: 0,
      snapshotsCreated: 0,
      snapshotsInstalled: 0,
      confChangesApplied: 0,
      transfers: 0,
      partitions: 0,
      delivered: 0,
      dropped: 0,
      duplicated: 0,
      members: [],
      settleRounds: 0,
    };

    const s = k.storm;
    this.actions = [
      [40, () => this.tickOne()],
      [38, () => this.deliverOne()],
      [9, () => this.proposeOne()],
      [2.5 * s, () => this.dropOne()],
      [1.5 * s, () => this.duplicateOne()],
      [0.4 * s, () => this.partition()],
      [0.8, () => this.heal()],
      [0.5 * s, () => this.restartOne()],
      [k.membershipChanges ? 0.7 : 0, () => this.changeMembership()],
      [0.4, () => this.transferLeadership()],
      [0.3 * s, () => this.campaignOne()],
      [1.2, () => this.compactOne()],
    ];
    this.totalWeight = this.actions.reduce((sum, [w]) => sum + w, 0);

    const voters = k.universe.slice(0, n);
    for (const id of voters) this.createNode(id, voters);
  }

  /** Runs the random steps, then stops the faults and checks that the group converges. */
  run(): SimStats {
    try {
      for (this.step = 1; this.step <= this.options.steps; this.step++) {
        this.randomStep();
        // Before anything of this step is persisted: what a leader just committed must be durable already.
        for (const node of this.nodes.values()) this.checkCommitDurable(node);
        for (const node of this.nodes.values()) {
          if (node.pending !== undefined && this.rng() < this.knobs.writeRate) this.finishPending(node);
        }
        this.processReadies();
        this.check();
      }
      this.settleAndCheck();
    } catch (e) {
      throw this.failure(e);
    }
    this.stats.committed = this.maxCommitted;
    this.stats.leaderTerms = this.leaderOfTerm.size;
    this.stats.appliedProposals = this.appliedPayloads.size;
    return this.stats;
  }

  // ---------------------------------------------------------------------------
  // Nodes

  /** No `peers`: a node learns its configuration from its storage, its log or a snapshot. */
  private nodeConfig(id: number, storage: SimStorage, applied: number): Config {
    const k = this.knobs;
    return {
      id,
      storage,
      applied,
      electionTick: k.electionTick,
      heartbeatTick: k.heartbeatTick,
      preVote: k.preVote,
      checkQuorum: k.checkQuorum,
      maxSizePerMsg: k.maxSizePerMsg,
      maxInflightMsgs: k.maxInflightMsgs,
      maxCommittedSizePerReady: k.maxCommittedSizePerReady,
      // Each incarnation draws its own generator from the one seeded generator.
      rand: seededRandom(Math.floor(this.rng() * 0x100000000)),
    };
  }

  /**
   * `initialVoters` bootstraps one of the group's first members; without it
   * the node is a new one added by a conf change: empty storage, no peers,
   * so it cannot campaign until it learns its membership from the leader.
   */
  private createNode(id: number, initialVoters?: number[]): SimNode {
    const storage = new SimStorage();
    let seq: string[] = [];
    if (initialVoters !== undefined) {
      if (this.knobs.bootstrap === 'log') {
        // As etcd's RawNode.Bootstrap: one committed AddNode per voter, applied like any entry.
        storage.append(
          initialVoters.map((v, i): Entry => {
            const cc: ConfChange = { type: ConfChangeType.AddNode, nodeId: v };
            return { term: 1, index: i + 1, type: EntryType.ConfChange, data: encodeConfChange(cc) };
          }),
        );
        storage.setHardState({ term: 1, vote: None, commit: initialVoters.length });
      } else {
        // As TinyKV: the group starts from a snapshot at a small index that holds the configuration.
        const index = 5;
        seq = Array.from({ length: index }, () => '1:boot');
        storage.applySnapshot({
          data: encodeSeq(seq),
          metadata: { index, term: 1, confState: { voters: [...initialVoters] } },
        });
        storage.setHardState({ term: 1, vote: None, commit: index });
        for (let i = 1; i <= index; i++) this.committed.set(i, { term: 1, key: 'boot', reportTerm: 0 });
        this.maxCommitted = Math.max(this.maxCommitted, index);
      }
    }
    const raw = new RawNode(this.nodeConfig(id, storage, seq.length));
    const node: SimNode = {
      id,
      storage,
      raw,
      seq,
      crashAtNextReady: false,
      dirtyFrom: 0,
      seenFirst: 0,
      seenLast: 0,
      seenLastTerm: 0,
      seenCommitted: 0,
      seenTerm: raw.raft.term,
      seenVote: raw.raft.vote,
      durableTerm: 0,
      durableVote: None,
      durableCommit: 0,
      durableCheckedTo: raw.raft.raftLog.committed,
      configs: [[...raw.raft.prs.keys()]],
      pending: undefined,
    };
    this.nodes.set(id, node);
    this.note(`create node ${id}${initialVoters ? ` (bootstrap ${this.knobs.bootstrap})` : ''}`);
    return node;
  }

  /** A crash: memory and in-flight messages from the node are lost, storage and the state machine are kept. */
  private restart(node: SimNode, how: string): void {
    this.inflight = this.inflight.filter((f) => f.sender !== node.id);
    node.raw = new RawNode(this.nodeConfig(node.id, node.storage, node.seq.length));
    node.crashAtNextReady = false;
    node.pending = undefined;
    node.dirtyFrom = 0;
    node.durableCheckedTo = node.raw.raft.raftLog.committed;
    node.configs = [[...node.raw.raft.prs.keys()]];
    // Memory starts over from storage; what storage holds is checked against durableTerm etc.
    node.seenTerm = node.raw.raft.term;
    node.seenVote = node.raw.raft.vote;
    node.seenCommitted = node.raw.raft.raftLog.committed;
    this.stats.restarts++;
    this.note(`restart node ${node.id} (${how}) applied=${node.seq.length} ${hardStateText(node)}`);
  }

  private existing(): SimNode[] {
    return [...this.nodes.values()];
  }

  /** Nodes that believe they lead, newest term first. */
  private leaders(): SimNode[] {
    return this.existing()
      .filter((n) => n.raw.raft.state === StateType.Leader)
      .sort((a, b) => b.raw.raft.term - a.raw.raft.term);
  }

  // ---------------------------------------------------------------------------
  // Random steps

  private randomStep(): void {
    let x = this.rng() * this.totalWeight;
    for (const [weight, act] of this.actions) {
      x -= weight;
      if (x < 0) {
        act();
        return;
      }
    }
    this.tickOne();
  }

  private pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.rng() * items.length)];
    if (item === undefined) throw new SimFailure('pick from an empty list');
    return item;
  }

  private tickOne(): void {
    const node = this.pick(this.existing());
    node.raw.tick();
  }

  /** Mostly on a node that believes it leads, including a deposed one: its uncommitted tail must be overwritten. */
  private proposeOne(): void {
    const leaders = this.leaders();
    const node = leaders.length > 0 && this.rng() < 0.8 ? this.pick(leaders) : this.pick(this.existing());
    if (this.rng() < 0.15) {
      const payloads = Array.from({ length: 2 + Math.floor(this.rng() * 3) }, () => `p${this.nextPayload++}`);
      this.stats.proposals += payloads.length;
      const res = node.raw.proposeBatch(payloads.map((p) => encoder.encode(p)));
      this.note(`propose ${payloads.join(',')} on ${node.id}: ${res}`);
    } else {
      const payload = `p${this.nextPayload++}`;
      this.stats.proposals++;
      const res = node.raw.propose(encoder.encode(payload));
      this.note(`propose ${payload} on ${node.id}: ${res}`);
    }
  }

  private takeAt(i: number): Flight {
    const f = this.inflight[i]!;
    const last = this.inflight.pop()!;
    if (i < this.inflight.length) this.inflight[i] = last;
    return f;
  }

  private deliverOne(): void {
    if (this.inflight.length === 0) {
      this.tickOne();
      return;
    }
    this.deliver(this.takeAt(Math.floor(this.rng() * this.inflight.length)));
  }

  private deliver(f: Flight): void {
    const m = f.m;
    const target = this.nodes.get(m.to);
    if (target === undefined) return;
    if (this.side !== undefined && (this.side.get(f.sender) ?? 0) !== (this.side.get(m.to) ?? 0)) {
      this.stats.dropped++;
      return;
    }
    this.stats.delivered++;
    if (this.options.trace) this.note(`deliver ${messageText(m)}`);
    target.raw.step(m);
  }

  private dropOne(): void {
    if (this.inflight.length === 0) return;
    const f = this.takeAt(Math.floor(this.rng() * this.inflight.length));
    this.stats.dropped++;
    this.note(`drop ${messageText(f.m)}`);
  }

  private duplicateOne(): void {
    if (this.inflight.length === 0) return;
    const f = this.pick(this.inflight);
    this.inflight.push({ m: f.m, sender: f.sender });
    this.stats.duplicated++;
    this.note(`duplicate ${messageText(f.m)}`);
  }

  private partition(): void {
    const side = new Map<number, number>();
    for (const id of this.knobs.universe) side.set(id, this.rng() < 0.5 ? 0 : 1);
    this.side = side;
    this.stats.partitions++;
    const group = (s: number) => this.knobs.universe.filter((id) => side.get(id) === s).join(',');
    this.note(`partition {${group(0)}} | {${group(1)}}`);
  }

  private heal(): void {
    if (this.side === undefined) return;
    this.side = undefined;
    this.note('heal');
  }

  private restartOne(): void {
    const node = this.pick(this.existing());
    if (this.rng() < 0.3) {
      node.crashAtNextReady = true;
      this.note(`node ${node.id} will crash in its next Ready`);
    } else {
      this.restart(node, 'between steps');
    }
  }

  /**
   * Proposed on a leader, checked against its applied configuration (which is
   * the latest: a leader takes no conf change while one is unapplied), as an
   * application does. Never below minVoters (at least 2): removing a voter
   * from a 2-voter group can strand it (etcd's README warns of the same) if
   * the leader removes itself, steps down, and the other has not heard the
   * removal commit: it still needs the old leader's vote, which that node
   * refuses if its log is longer.
   */
  private changeMembership(): void {
    const node = this.leaders()[0];
    if (node === undefined) return;
    const voters = node.storage.appliedConfState.voters;
    const canAdd = this.knobs.universe.filter((id) => !voters.includes(id));
    const canRemove = voters.length > this.knobs.minVoters ? voters : [];
    let cc: ConfChange;
    if (canAdd.length > 0 && (canRemove.length === 0 || this.rng() < 0.5)) {
      cc = { type: ConfChangeType.AddNode, nodeId: this.pick(canAdd) };
    } else if (canRemove.length > 0) {
      cc = { type: ConfChangeType.RemoveNode, nodeId: this.pick(canRemove) };
    } else {
      return;
    }
    const res = node.raw.proposeConfChange(cc);
    this.note(`propose ${cc.type} ${cc.nodeId} on ${node.id} (voters ${voters.join(',')}): ${res}`);
  }

  /** An election timeout fires early on some node: more elections, more terms. */
  private campaignOne(): void {
    const node = this.pick(this.existing());
    node.raw.campaign();
    this.note(`campaign on ${node.id}`);
  }

  private transferLeadership(): void {
    const leaders = this.leaders();
    const node = leaders.length > 0 && this.rng() < 0.85 ? leaders[0]! : this.pick(this.existing());
    const to = this.pick(this.knobs.universe);
    node.raw.transferLeader(to);
    this.stats.transfers++;
    this.note(`transfer leadership on ${node.id} to ${to}`);
  }

  /** The application snapshots its applied state and discards the log below (keeping a few entries, sometimes). */
  private compactOne(): void {
    this.takeSnapshot(this.pick(this.existing()), true);
  }

  private takeSnapshot(node: SimNode, compact: boolean): void {
    const storage = node.storage;
    const applied = node.seq.length;
    if (applied <= storage.snapshot().metadata.index || applied > storage.lastIndex()) return;
    storage.createSnapshot(applied, { voters: [...storage.appliedConfState.voters] }, encodeSeq(node.seq));
    this.stats.snapshotsCreated++;
    let compacted = '';
    if (compact) {
      const compactTo = this.rng() < 0.6 ? applied - Math.floor(this.rng() * 8) : applied;
      if (compactTo >= storage.firstIndex()) {
        storage.compact(compactTo);
        compacted = `, compact through ${compactTo}`;
      }
    }
    this.note(`snapshot node ${node.id} at ${applied}${compacted}`);
  }

  // ---------------------------------------------------------------------------
  // The application's Ready loop

  private processReadies(): void {
    for (let round = 0; ; round++) {
      let worked = false;
      // A Map iterates over nodes added while iterating (conf changes create them).
      for (const node of this.nodes.values()) {
        for (let i = 0; i < readiesPerPassMax && node.pending === undefined && node.raw.hasReady(); i++) {
          this.handleReady(node);
          worked = true;
        }
      }
      if (!worked) return;
      if (round > readyPassesMax) throw new SimFailure('Ready processing does not quiesce');
    }
  }

  private handleReady(node: SimNode): void {
    const raw = node.raw;
    const rd: Ready = raw.ready();
    if (
      this.phase === 'random' &&
      this.knobs.earlyAppends &&
      raw.raft.state === StateType.Leader &&
      rd.entries.length > 0 &&
      this.rng() < 0.5
    ) {
      const late: Message[] = [];
      for (const m of rd.messages) {
        if (m.type === MessageType.Append) this.send(node.id, m);
        else late.push(m);
      }
      node.pending = { rd, late };
      return;
    }
    this.finishReady(node, rd, rd.messages);
  }

  private finishPending(node: SimNode): void {
    const pending = node.pending;
    if (pending === undefined) return;
    node.pending = undefined;
    this.finishReady(node, pending.rd, pending.late);
  }

  private finishReady(node: SimNode, rd: Ready, messages: Message[]): void {
    const raw = node.raw;
    // 1. Persist: snapshot (with the state machine it carries: one atomic unit), entries, hard state.
    if (rd.snapshot !== undefined) this.installSnapshot(node, rd.snapshot);
    const first = rd.entries[0];
    if (first !== undefined) {
      node.storage.append(rd.entries);
      node.dirtyFrom = Math.min(node.dirtyFrom, first.index);
    }
    if (rd.hardState !== undefined) node.storage.setHardState(rd.hardState);
    if (node.crashAtNextReady) {
      this.restart(node, 'mid-Ready, after persisting');
      return;
    }
    // 2. Send.
    for (const m of messages) this.send(node.id, m);
    // 3. Apply.
    this.apply(node, rd.committedEntries);
    // 4. Advance.
    raw.advance(rd);
  }

  private installSnapshot(node: SimNode, snap: Snapshot): void {
    const { index, term, confState } = snap.metadata;
    node.storage.applySnapshot(snap);
    const seq = decodeSeq(snap.data);
    if (seq.length !== index) {
      throw new SimFailure(`snapshot at ${index} carries an applied sequence of length ${seq.length}`);
    }
    if (index < node.seq.length) {
      throw new SimFailure(`node ${node.id} installed a snapshot at ${index} below its applied index ${node.seq.length}`);
    }
    for (let i = 1; i <= index; i++) this.checkApplied(node, i, seq[i - 1]!, 'snapshot');
    const tail = seq[index - 1];
    if (tail !== undefined && !tail.startsWith(`${term}:`)) {
      throw new SimFailure(`snapshot metadata term ${term} at ${index} disagrees with its data ${tail}`);
    }
    node.seq = seq;
    node.dirtyFrom = 0;
    this.stats.snapshotsInstalled++;
    this.note(`node ${node.id} installs snapshot ${index}/${term} voters ${confState.voters.join(',')}`);
  }

  private send(from: number, m: Message): void {
    this.checkPersistedBeforeSend(from, m);
    if (!this.nodes.has(m.to)) return;
    this.inflight.push({ m, sender: from });
    // Once the faults stop the network loses nothing.
    if (this.phase === 'random' && this.inflight.length > inflightMessagesMax) {
      this.takeAt(Math.floor(this.rng() * this.inflight.length));
      this.stats.dropped++;
    }
  }

  private apply(node: SimNode, ents: Entry[]): void {
    for (const e of ents) {
      const expected = node.seq.length + 1;
      if (e.index !== expected) {
        throw new SimFailure(`node ${node.id} was handed entry ${e.index} to apply, expected ${expected}`);
      }
      const key = entryKey(e);
      const item = `${e.term}:${key}`;
      this.checkApplied(node, e.index, item, 'apply');
      if (e.type === EntryType.ConfChange) {
        const cc = decodeConfChange(e.data);
        const cs = node.raw.applyConfChange(cc);
        node.storage.appliedConfState = { voters: [...cs.voters] };
        node.configs.push([...cs.voters]);
        const voters = cs.voters.join(',');
        const canonical = this.confAt.get(e.index);
        if (canonical === undefined) {
          this.confAt.set(e.index, voters);
          this.stats.confChangesApplied++;
        } else if (canonical !== voters) {
          throw new SimFailure(`node ${node.id} has voters {${voters}} after conf change ${e.index}, others {${canonical}}`);
        }
        this.note(`node ${node.id} applies ${cc.type} ${cc.nodeId} at ${e.index}: voters {${voters}}`);
        if (cc.type === ConfChangeType.AddNode && !this.nodes.has(cc.nodeId)) this.createNode(cc.nodeId);
      } else if (e.data.length > 0) {
        this.appliedPayloads.add(key);
      }
      node.seq.push(item);
    }
  }

  // ---------------------------------------------------------------------------
  // Invariants

  /** A committed (or applied) entry at `index` must be the one every node committed there. */
  private recordCommitted(node: SimNode, index: number, term: number, key: string, who: string): void {
    const reportTerm = node.raw.raft.term;
    const rec = this.committed.get(index);
    if (rec === undefined) {
      this.committed.set(index, { term, key, reportTerm });
      if (index > this.maxCommitted) this.maxCommitted = index;
      return;
    }
    if (rec.term !== term || rec.key !== key) {
      throw new SimFailure(`committed entry ${index} changed: it was ${rec.term}:${rec.key}, ${who} has ${term}:${key}`);
    }
    if (reportTerm < rec.reportTerm) rec.reportTerm = reportTerm;
  }

  /**
   * What a leader newly committed is already in the storage of a quorum of a
   * configuration it was in since the last check (the leader counts itself
   * only once its own copy is durable). Also called right after each random
   * step, before the step's Readies are persisted, so that a commit counting
   * an unpersisted copy is seen before the write covers it up.
   */
  private checkCommitDurable(node: SimNode): void {
    const r = node.raw.raft;
    const committed = r.raftLog.committed;
    if (committed <= node.durableCheckedTo) return;
    if (r.state !== StateType.Leader) {
      // Learned from a leader, whose own check covered it.
      node.durableCheckedTo = committed;
      return;
    }
    const ents = r.raftLog.slice(Math.max(node.durableCheckedTo + 1, r.raftLog.firstIndex()), committed + 1);
    for (const e of ents) {
      const counts = node.configs.map((voters) => {
        let durable = 0;
        for (const id of voters) {
          const storage = this.nodes.get(id)?.storage;
          if (storage === undefined) continue;
          if (e.index < storage.firstIndex() || (e.index <= storage.lastIndex() && storage.term(e.index) === e.term)) durable++;
        }
        return { voters, durable };
      });
      if (!counts.some((c) => c.durable >= Math.floor(c.voters.length / 2) + 1)) {
        const seen = counts.map((c) => `${c.durable} of {${c.voters.join(',')}}`).join(', ');
        throw new SimFailure(`leader ${node.id} committed ${e.index}/${e.term} but only ${seen} have it in storage`);
      }
    }
    node.durableCheckedTo = committed;
  }

  /**
   * A message may promise only what its sender has persisted: a granted vote
   * or a vote request its term and vote (or a later term, in which it can no
   * longer vote in this one), an acknowledgement the entries it acknowledges
   * (Raft §5.1/§5.3; the thesis's "respond after persisting"). Only a
   * leader's appends may leave before its own write.
   */
  private checkPersistedBeforeSend(from: number, m: Message): void {
    const node = this.nodes.get(from)!;
    const hs = node.storage.initialState().hardState;
    const fail = (what: string) => {
      throw new SimFailure(`node ${from} sent ${messageText(m)} before persisting ${what} (term ${hs.term} vote ${hs.vote})`);
    };
    switch (m.type) {
      case MessageType.RequestVote:
        if (hs.term < m.term || (hs.term === m.term && hs.vote !== from)) fail('its candidacy');
        break;
      case MessageType.RequestVoteResponse:
        if (!m.reject && (hs.term < m.term || (hs.term === m.term && hs.vote !== m.to))) fail('its vote');
        break;
      case MessageType.AppendResponse: {
        if (m.reject || m.from === m.to) break;
        const storage = node.storage;
        const log = node.raw.raft.raftLog;
        if (m.index >= storage.firstIndex() && (m.index > storage.lastIndex() || storage.term(m.index) !== log.term(m.index))) {
          fail(`the entries through ${m.index}`);
        }
        break;
      }
      default:
        break;
    }
  }

  /** The applied sequences are prefixes of one another: every applied entry is the committed one. */
  private checkApplied(node: SimNode, index: number, item: string, how: string): void {
    const colon = item.indexOf(':');
    const term = Number(item.slice(0, colon));
    this.recordCommitted(node, index, term, item.slice(colon + 1), `node ${node.id} (${how})`);
  }

  private check(): void {
    for (const node of this.nodes.values()) this.checkNode(node);
  }

  private checkNode(node: SimNode): void {
    const r = node.raw.raft;
    const log = r.raftLog;
    // Term, vote and commit never go back, nor does a vote change within a
    // term: in memory while the node runs, and in storage even across crashes.
    // Memory is never behind storage. (It may be ahead and die in a crash: a
    // leader's Ready whose appends went out early, lost before it was written;
    // nothing that depends on it was sent.)
    if (r.term < node.seenTerm) throw new SimFailure(`node ${node.id} term went back from ${node.seenTerm} to ${r.term}`);
    if (r.term === node.seenTerm && node.seenVote !== None && r.vote !== node.seenVote) {
      throw new SimFailure(`node ${node.id} changed its vote in term ${r.term} from ${node.seenVote} to ${r.vote}`);
    }
    node.seenTerm = r.term;
    node.seenVote = r.vote;
    const committed = log.committed;
    if (committed < node.seenCommitted) {
      throw new SimFailure(`node ${node.id} commit went back from ${node.seenCommitted} to ${committed}`);
    }
    const hs = node.storage.initialState().hardState;
    if (hs.term < node.durableTerm || hs.commit < node.durableCommit) {
      throw new SimFailure(
        `node ${node.id} persisted term/commit went back from ${node.durableTerm}/${node.durableCommit} to ${hs.term}/${hs.commit}`,
      );
    }
    if (hs.term === node.durableTerm && node.durableVote !== None && hs.vote !== node.durableVote) {
      throw new SimFailure(`node ${node.id} persisted vote changed in term ${hs.term} from ${node.durableVote} to ${hs.vote}`);
    }
    node.durableTerm = hs.term;
    node.durableVote = hs.vote;
    node.durableCommit = hs.commit;
    if (r.term < hs.term || (r.term === hs.term && hs.vote !== None && r.vote !== hs.vote) || committed < hs.commit) {
      throw new SimFailure(
        `node ${node.id} memory (term ${r.term} vote ${r.vote} commit ${committed}) is behind storage (${hs.term} ${hs.vote} ${hs.commit})`,
      );
    }
    if (log.applied !== node.seq.length) {
      throw new SimFailure(`node ${node.id} raft applied ${log.applied}, state machine applied ${node.seq.length}`);
    }
    const first = log.firstIndex();
    const last = log.lastIndex();
    if (!(log.applied <= committed && committed <= last)) {
      throw new SimFailure(`node ${node.id}: applied ${log.applied} <= committed ${committed} <= last ${last} broken`);
    }
    if (node.pending === undefined && (log.stabled !== last || log.pendingSnapshot !== undefined)) {
      throw new SimFailure(`node ${node.id} has unpersisted state after its Ready was processed`);
    }

    // At most one leader per term, over the whole history.
    if (r.state === StateType.Leader) {
      for (const [id, pr] of r.prs) {
        // Progress: "Invariant: match < next", and nothing beyond the leader's log.
        if (!(pr.match < pr.next && pr.next <= last + 1)) {
          throw new SimFailure(`leader ${node.id} progress of ${id}: match ${pr.match}, next ${pr.next}, last ${last}`);
        }
      }
      const known = this.leaderOfTerm.get(r.term);
      if (known === undefined) {
        // A leader may outlive its own removal, but it must have been a voter to win.
        if (!node.configs.some((voters) => voters.includes(node.id))) {
          throw new SimFailure(`node ${node.id} leads term ${r.term} without being a voter`);
        }
        this.leaderOfTerm.set(r.term, node.id);
        this.note(`node ${node.id} leads term ${r.term}`);
        this.checkLeaderCompleteness(node);
      } else if (known !== node.id) {
        throw new SimFailure(`two leaders in term ${r.term}: ${known} and ${node.id}`);
      }
    }

    // Log matching and committed entries: re-check what changed since the last step.
    const lastTerm = log.term(last);
    if (lastTerm === undefined) throw new SimFailure(`node ${node.id} does not know the term of its last index ${last}`);
    let from = node.dirtyFrom;
    if (from === Infinity && (first !== node.seenFirst || last !== node.seenLast || lastTerm !== node.seenLastTerm)) {
      // The log changed without a Ready saying so (compaction does that, harmlessly): check it all.
      from = first;
    }
    if (committed > node.seenCommitted) from = Math.min(from, node.seenCommitted + 1);
    from = Math.max(from, first);
    if (from <= last) this.checkLogRange(node, from, last, committed);
    node.dirtyFrom = Infinity;
    node.seenFirst = first;
    node.seenLast = last;
    node.seenLastTerm = lastTerm;
    node.seenCommitted = committed;
    this.checkCommitDurable(node);
    node.configs = [[...r.prs.keys()]];
  }

  /**
   * Log matching, checked against every log that ever existed: an entry with
   * a given index and term always has the same data and follows an entry of
   * the same term. By induction, two logs holding (index, term) agree on
   * every entry before it that both still have.
   */
  private checkLogRange(node: SimNode, lo: number, hi: number, committed: number): void {
    const log = node.raw.raft.raftLog;
    const ents = log.slice(lo, hi + 1);
    let prevTerm = log.term(lo - 1);
    if (prevTerm === undefined) throw new SimFailure(`node ${node.id} does not know the term of ${lo - 1}`);
    let expected = lo;
    for (const e of ents) {
      if (e.index !== expected) throw new SimFailure(`node ${node.id} log has entry ${e.index} where ${expected} belongs`);
      if (e.term < prevTerm) throw new SimFailure(`node ${node.id} log term decreases at ${e.index}: ${prevTerm} -> ${e.term}`);
      if (e.term >= termSpan) throw new SimFailure(`term ${e.term} too large for the checker`);
      const key = entryKey(e);
      const id = e.index * termSpan + e.term;
      const rec = this.logRecords.get(id);
      if (rec === undefined) {
        this.logRecords.set(id, { key, prevTerm });
      } else if (rec.key !== key) {
        throw new SimFailure(`log matching: entry ${e.index}/${e.term} is ${rec.key} in one log, ${key} on node ${node.id}`);
      } else if (rec.prevTerm !== prevTerm) {
        throw new SimFailure(
          `log matching: entry ${e.index}/${e.term} follows term ${rec.prevTerm} in one log, ${prevTerm} on node ${node.id}`,
        );
      }
      if (e.index <= committed) this.recordCommitted(node, e.index, e.term, key, `node ${node.id} log`);
      prevTerm = e.term;
      expected++;
    }
    if (expected !== hi + 1) throw new SimFailure(`node ${node.id} log slice [${lo}, ${hi}] came back short`);
  }

  /** A leader of term T holds every entry committed in a term before T (Raft §5.4, Leader Completeness). */
  private checkLeaderCompleteness(node: SimNode): void {
    const r = node.raw.raft;
    const log = r.raftLog;
    const first = log.firstIndex();
    const last = log.lastIndex();
    const ents = first <= Math.min(last, this.maxCommitted) ? log.slice(first, Math.min(last, this.maxCommitted) + 1) : [];
    for (const [index, rec] of this.committed) {
      if (rec.reportTerm >= r.term || index < first) continue;
      const e = ents[index - first];
      if (e === undefined || e.term !== rec.term || entryKey(e) !== rec.key) {
        const has = e === undefined ? 'nothing' : `${e.term}:${entryKey(e)}`;
        throw new SimFailure(
          `leader completeness: node ${node.id} leads term ${r.term} with ${has} at ${index}, committed ${rec.term}:${rec.key}`,
        );
      }
    }
  }

  // ---------------------------------------------------------------------------
  // The end: faults stop, the members must converge

  private settleAndCheck(): void {
    this.phase = 'settle';
    this.side = undefined;
    for (const node of this.nodes.values()) {
      this.finishPending(node);
      if (node.crashAtNextReady) this.restart(node, 'before settling');
    }
    this.processReadies();
    this.check();
    this.note('settle: faults stop');
    let leader = this.settle(`after ${this.options.steps} steps`);
    // Liveness: one more proposal must commit and reach every member.
    const payload = `final${this.options.seed}`;
    for (let tries = 0; ; tries++) {
      if (tries > 20) throw new SimFailure(`the settled leader ${leader.id} keeps dropping the final proposal`);
      const res = leader.raw.propose(encoder.encode(payload));
      this.processReadies();
      this.check();
      if (res === 'Ok') break;
      leader = this.settle('after a dropped final proposal');
    }
    leader = this.settle('after the final proposal');

    const members = [...this.members].sort((a, b) => a - b).map((id) => this.nodes.get(id)!);
    const reference = members[0]!.seq;
    for (const m of members) {
      if (m.seq.length !== reference.length || m.seq.some((item, i) => item !== reference[i])) {
        throw new SimFailure(`applied sequences differ between members ${members[0]!.id} and ${m.id}`);
      }
    }
    for (const [index, rec] of this.committed) {
      if (reference[index - 1] !== `${rec.term}:${rec.key}`) {
        throw new SimFailure(`committed entry ${index} (${rec.term}:${rec.key}) is not applied on the members`);
      }
    }
    if (!reference.some((item) => item.endsWith(`:N${payload}`))) {
      throw new SimFailure(`the final proposal is not applied on the members`);
    }
    this.stats.members = members.map((m) => m.id);
  }

  /**
   * Ticks every node and delivers everything until the members agree on one
   * leader and one applied log. Removed nodes keep running: one that has not
   * applied its removal may be needed to commit it, and must do no harm.
   */
  private settle(when: string): SimNode {
    const maxRounds = this.options.settleRounds ?? settleRoundsMax;
    for (let round = 1; round <= maxRounds; round++) {
      this.stats.settleRounds++;
      this.settleRound = round;
      for (const node of this.nodes.values()) node.raw.tick();
      this.processReadies();
      this.check();
      for (let delivered = 0; this.inflight.length > 0; delivered++) {
        if (delivered > settleDeliveriesPerRoundMax) throw new SimFailure('messages keep flowing while settling');
        // In order: the network is now well behaved.
        const batch = this.inflight;
        this.inflight = [];
        for (const f of batch) {
          this.deliver(f);
          this.processReadies();
          this.check();
        }
        delivered += batch.length;
      }
      this.members = this.currentMembers();
      const leader = this.quietLeader();
      if (leader !== undefined) return leader;
      // A follower added after the leader's last snapshot cannot use it (it is
      // not in its ConfState); a real application snapshots periodically.
      if (round % 20 === 0) {
        const leaders = this.leaders().filter((n) => this.members.has(n.id));
        if (leaders[0] !== undefined) this.takeSnapshot(leaders[0], false);
      }
    }
    const status = this.existing().map((n) => {
      const r = n.raw.raft;
      const member = this.members.has(n.id) ? '' : '(removed)';
      return `${n.id}${member}:${r.state}/t${r.term}/lead${r.lead}/last${r.raftLog.lastIndex()}/commit${r.raftLog.committed}/applied${n.seq.length}/voters{${n.storage.appliedConfState.voters.join(',')}}`;
    });
    throw new SimFailure(`the group did not converge within ${maxRounds} rounds ${when}: ${status.join(' ')}`);
  }

  /** The voters as of the most advanced state machine. */
  private currentMembers(): Set<number> {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) if (best === undefined || n.seq.length > best.seq.length) best = n;
    return new Set(best!.storage.appliedConfState.voters);
  }

  private quietLeader(): SimNode | undefined {
    const members = [...this.members].map((id) => this.nodes.get(id)!);
    const maxTerm = Math.max(...members.map((n) => n.raw.raft.term));
    const leaders = members.filter((n) => n.raw.raft.state === StateType.Leader && n.raw.raft.term === maxTerm);
    const leader = leaders[0];
    if (leaders.length !== 1 || leader === undefined) return undefined;
    const last = leader.raw.raft.raftLog.lastIndex();
    if (leader.raw.raft.raftLog.committed !== last) return undefined;
    for (const n of members) {
      const r = n.raw.raft;
      if (r.term !== maxTerm || r.lead !== leader.id || r.raftLog.lastIndex() !== last || n.seq.length !== last) return undefined;
    }
    return leader;
  }

  // ---------------------------------------------------------------------------
  // Reporting

  private note(event: string): void {
    const line = this.phase === 'settle' ? `[settle ${this.settleRound}] ${event}` : `[${this.step}] ${event}`;
    if (this.options.trace) console.log(line);
    this.recent.push(line);
    if (this.recent.length > recentEventsMax) this.recent.shift();
  }

  private failure(e: unknown): SimFailure {
    const { seed, nodes } = this.options;
    const cause = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    const where =
      this.phase === 'settle' ? `settle round ${this.settleRound} (after ${this.options.steps} steps)` : `step ${this.step}`;
    const stack = e instanceof Error && !(e instanceof SimFailure) && e.stack ? `\n${e.stack}` : '';
    const failure = new SimFailure(
      `seed ${seed} (${nodes} nodes), ${where}: ${cause}\n` +
        `replay: ${replayHint(seed, nodes)}  (SIM_TRACE=1 prints every event)\n` +
        `knobs: ${this.stats.knobs}\n` +
        `recent events:\n  ${this.recent.join('\n  ')}${stack}`,
    );
    return failure;
  }
}

/** The value whose cumulative weight first exceeds x (x in [0, 1)). */
function pickWeighted<T>(x: number, choices: [number, T][]): T {
  for (const [weight, value] of choices) {
    if (x < weight) return value;
    x -= weight;
  }
  return choices[choices.length - 1]![1];
}

function hardStateText(node: SimNode): string {
  const r = node.raw.raft;
  return `term=${r.term} vote=${r.vote} commit=${r.raftLog.committed} last=${r.raftLog.lastIndex()}`;
}

function messageText(m: Message): string {
  let s = `${m.type} ${m.from}->${m.to} t${m.term}`;
  if (m.entries.length > 0) s += ` idx${m.index}/${m.logTerm} +${m.entries.length}`;
  if (m.commit > 0) s += ` c${m.commit}`;
  if (m.reject) s += ` reject(hint ${m.rejectHint}/${m.logTerm})`;
  if (m.snapshot !== undefined) s += ` snap${m.snapshot.metadata.index}/${m.snapshot.metadata.term}`;
  return s;
}

export function runSim(options: SimOptions): SimStats {
  return new RaftSim(options).run();
}
