// The Raft state machine (Ongaro & Ousterhout, "In Search of an Understandable
// Consensus Algorithm", and the Raft thesis), shaped after etcd/raft. It does
// no I/O: messages go out through `msgs`, entries wait in the unstable log,
// and the application persists and sends them (see RawNode and Ready).
//
// Roles change only in becomeFollower/becomePreCandidate/becomeCandidate/
// becomeLeader, which also set the role's step and tick functions. `step`
// handles what every role shares (terms and votes) and then dispatches.

import { assert } from '../util/assert';
import { bytesEqual, utf8 } from '../util/bytes';
import { type ConfChange } from './conf-change';
import { Progress, ProgressState } from './progress';
import { RaftLog } from './raft-log';
import { ReadOnly } from './read-only';
import { CompactedError, SnapshotTemporarilyUnavailableError, type Storage } from './storage';
import {
  ConfChangeType,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  type MessageInit,
  MessageType,
  None,
  type ReadState,
  type Snapshot,
  type SoftState,
  StateType,
  type StepResult,
  completeMessage,
  isEmptySnapshot,
  newMessage,
} from './types';

export interface Config {
  /** This node's id; never None. */
  id: number;
  /** Initial voters of a brand-new group; leave empty when storage holds a ConfState. */
  peers?: number[];
  /** Ticks without hearing from a leader before a follower campaigns (randomized up to 2x). */
  electionTick: number;
  /** Ticks between leader heartbeats. Must be less than electionTick. */
  heartbeatTick: number;
  storage: Storage;
  /** Last applied index, when restarting; entries up to it are not handed out again. */
  applied?: number;
  /** Run a pre-vote round first, so a rejoining node does not disrupt a healthy leader (thesis §9.6). */
  preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum for an election timeout (thesis §6.2). */
  checkQuorum?: boolean;
  /** Byte cap on the entries of one append message (at least one entry is always sent). */
  maxSizePerMsg?: number;
  /** Cap on append messages in flight to one follower while replicating. */
  maxInflightMsgs?: number;
  /** Byte cap on the committed entries handed out in one Ready. */
  maxCommittedSizePerReady?: number;
  /** Uniform in [0, 1). The core has no randomness of its own. */
  rand?: () => number;
}

type CampaignType = 'PreElection' | 'Election' | 'Transfer';
type VoteResult = 'Won' | 'Lost' | 'Pending';

/** Marks the vote requests of a leadership transfer: voters grant them despite leases. */
const campaignTransferContext = utf8('CampaignTransfer');

/** Message types the local application may step without a sender. */
const applicationMessages: ReadonlySet<MessageType> = new Set<MessageType>([
  MessageType.Hup,
  MessageType.Beat,
  MessageType.Propose,
  MessageType.ReadIndex,
  MessageType.TransferLeader,
  MessageType.SnapshotStatus,
  MessageType.Unreachable,
]);

/** A deterministic xorshift generator, used only when the caller passes no `rand`. */
function seededRand(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

function voteResponseType(t: MessageType): MessageType {
  return t === MessageType.RequestPreVote ? MessageType.RequestPreVoteResponse : MessageType.RequestVoteResponse;
}

export class Raft {
  readonly id: number;
  /** Current term. Invariant: never decreases. */
  term = 0;
  /** Whom this node voted for in `term`, or None. Persisted before any message that depends on it. */
  vote = None;
  state: StateType = StateType.Follower;
  /** The leader of `term` as far as this node knows, or None. */
  lead = None;
  raftLog: RaftLog;
  /** Every voter's replication progress; only meaningful on the leader. */
  prs = new Map<number, Progress>();
  /** Votes received in the current (pre-)campaign. */
  votes = new Map<number, boolean>();
  /** Outgoing messages, in order. */
  msgs: Message[] = [];
  /**
   * The leader's acknowledgements of its own appends. They are delivered only
   * after the entries are durable (RawNode.advance, or readMessages for a
   * caller that treats the log as durable), so the leader counts itself
   * toward a quorum only for entries it has persisted (thesis §10.2.1).
   */
  msgsAfterAppend: Message[] = [];
  readStates: ReadState[] = [];
  /** The node a leadership transfer is handing over to, or None. */
  leadTransferee = None;
  /**
   * Index of the latest conf change proposed; a new one is refused while it
   * is above `applied` (one change at a time). Invariant: only set on the leader.
   */
  pendingConfIndex = 0;
  /** Ticks since the last election timeout reset (leader: since the last check-quorum round). */
  electionElapsed = 0;
  /** Leader only: ticks since the last heartbeat. */
  heartbeatElapsed = 0;
  /** Invariant: electionTimeout <= randomizedElectionTimeout < 2 * electionTimeout. */
  randomizedElectionTimeout = 0;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxMsgSize: number;
  readonly maxInflight: number;
  private readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before this leader committed an entry of its term. */
  private pendingReadIndexMessages: Message[] = [];
  /**
   * Set when appends should go out to every follower (new entries, a new
   * commit index). Flushed when messages are collected, so that many
   * proposals stepped in a row leave in one append per follower.
   */
  private broadcastPending = false;
  private readonly rand: () => number;
  private tickFn: () => void = () => this.tickElection();
  private stepFn: (m: Message) => StepResult = (m) => this.stepFollower(m);

  constructor(c: Config) {
    assert(c.id !== None, 'cannot use None as id');
    assert(c.heartbeatTick > 0, 'heartbeat tick must be greater than 0');
    assert(c.electionTick > c.heartbeatTick, 'election tick must be greater than heartbeat tick');
    this.id = c.id;
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.preVote = c.preVote ?? false;
    this.checkQuorum = c.checkQuorum ?? false;
    this.maxMsgSize = c.maxSizePerMsg ?? Number.MAX_SAFE_INTEGER;
    this.maxInflight = c.maxInflightMsgs ?? 256;
    assert(this.maxInflight > 0, 'max inflight messages must be greater than 0');
    this.rand = c.rand ?? seededRand(c.id);
    this.raftLog = new RaftLog(c.storage, c.maxCommittedSizePerReady);

    const { hardState, confState } = c.storage.initialState();
    const peers = c.peers ?? [];
    assert(
      peers.length === 0 || confState.voters.length === 0,
      'cannot specify both config.peers and a ConfState in storage',
    );
    for (const id of peers.length > 0 ? peers : confState.voters) {
      this.prs.set(id, new Progress(1, this.maxInflight));
    }
    if (hardState.term !== 0 || hardState.vote !== 0 || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied !== undefined && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, None);
  }

  // ---------------------------------------------------------------------------
  // State observed by the application

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  confState(): ConfState {
    return { voters: [...this.prs.keys()].sort((a, b) => a - b) };
  }

  /**
   * Collects outgoing messages, for a caller that drives Raft directly and
   * treats the log as durable at once: the leader's self-acknowledgements are
   * delivered first, so a commit they allow is in the returned messages.
   */
  readMessages(): Message[] {
    this.stepSelfAcks(this.takeSelfAcks());
    return this.takeMessages();
  }

  /** Outgoing messages, flushing a pending broadcast first. */
  takeMessages(): Message[] {
    this.flushBroadcast();
    const msgs = this.msgs;
    this.msgs = [];
    return msgs;
  }

  takeSelfAcks(): Message[] {
    const acks = this.msgsAfterAppend;
    this.msgsAfterAppend = [];
    return acks;
  }

  /** Delivers self-acknowledgements once the entries they cover are durable. */
  stepSelfAcks(acks: Message[]): void {
    for (const m of acks) this.step(m);
  }

  /** Whether messages are waiting to be collected (including a pending broadcast). */
  hasPendingMessages(): boolean {
    return this.msgs.length > 0 || this.broadcastPending;
  }

  // ---------------------------------------------------------------------------
  // Role transitions

  becomeFollower(term: number, lead: number): void {
    this.stepFn = (m) => this.stepFollower(m);
    this.reset(term);
    this.tickFn = () => this.tickElection();
    this.lead = lead;
    this.state = StateType.Follower;
  }

  becomePreCandidate(): void {
    assert(this.state !== StateType.Leader, 'invalid transition [leader -> pre-candidate]');
    // A pre-candidate changes neither term nor vote: it only asks whether it could win.
    this.stepFn = (m) => this.stepCandidate(m);
    this.votes.clear();
    this.tickFn = () => this.tickElection();
    this.lead = None;
    this.state = StateType.PreCandidate;
  }

  becomeCandidate(): void {
    assert(this.state !== StateType.Leader, 'invalid transition [leader -> candidate]');
    this.stepFn = (m) => this.stepCandidate(m);
    this.reset(this.term + 1);
    this.tickFn = () => this.tickElection();
    this.vote = this.id;
    this.state = StateType.Candidate;
  }

  becomeLeader(): void {
    assert(this.state !== StateType.Follower, 'invalid transition [follower -> leader]');
    this.stepFn = (m) => this.stepLeader(m);
    this.reset(this.term);
    this.tickFn = () => this.tickHeartbeat();
    this.lead = this.id;
    this.state = StateType.Leader;
    this.prs.get(this.id)?.becomeReplicate();
    // Any unapplied entry might be a conf change; be conservative until applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // An entry of its own term lets the leader commit everything before it
    // (§5.4.2) and tells it what is committed, which ReadIndex needs (§8).
    this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array(0) }]);
    this.broadcastPending = true;
  }

  private reset(term: number): void {
    if (this.term !== term) {
      assert(term > this.term, `term must not decrease: ${this.term} -> ${term}`);
      this.term = term;
      this.vote = None;
    }
    this.lead = None;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = None;
    this.votes.clear();
    const last = this.raftLog.lastIndex();
    // Only what is durable here counts for this node; its newer entries are
    // acknowledged once persisted, like every other append.
    const selfMatch = this.raftLog.pendingSnapshot ? 0 : this.raftLog.stabled;
    for (const id of [...this.prs.keys()]) {
      const pr = new Progress(last + 1, this.maxInflight);
      if (id === this.id) pr.match = selfMatch;
      this.prs.set(id, pr);
    }
    this.pendingConfIndex = 0;
    this.readOnly = new ReadOnly();
    this.pendingReadIndexMessages = [];
    this.broadcastPending = false;
  }

  private resetRandomizedElectionTimeout(): void {
    const r = this.rand();
    assert(r >= 0 && r < 1, `rand() must be in [0, 1), got ${r}`);
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(r * this.electionTimeout);
  }

  private loadState(hs: HardState): void {
    assert(
      hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex(),
      `hard state commit ${hs.commit} out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`,
    );
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  // ---------------------------------------------------------------------------
  // Ticks

  tick(): void {
    this.tickFn();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step({ type: MessageType.Hup, from: this.id });
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.checkQuorumActive();
      if (this.state === StateType.Leader) {
        this.retryUnconfirmedSnapshots();
        // A transfer that did not finish within an election timeout is abandoned.
        this.leadTransferee = None;
      }
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step({ type: MessageType.Beat, from: this.id });
    }
  }

  /** Compared with >=: a timeout of N ticks fires on the Nth tick. */
  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private promotable(): boolean {
    // Not while a received snapshot is unapplied: like a pending conf change,
    // it must take effect first, and the entries it replaced are gone, so the
    // check for unapplied conf changes could not even read them (etcd #12163).
    return this.prs.has(this.id) && this.raftLog.pendingSnapshot === undefined;
  }

  // ---------------------------------------------------------------------------
  // Step: what all roles share

  step(input: MessageInit): StepResult {
    const m = completeMessage(input);
    // A message from the network must say who sent it; answers would go nowhere.
    if (m.from === None && !applicationMessages.has(m.type)) return 'Ok';

    if (m.term > this.term) {
      if (m.type === MessageType.RequestVote || m.type === MessageType.RequestPreVote) {
        const force = m.context !== undefined && bytesEqual(m.context, campaignTransferContext);
        const inLease = this.checkQuorum && this.lead !== None && this.electionElapsed < this.electionTimeout;
        // Thesis §6.2 / §4.2.3: while we heard from a leader within the minimum
        // election timeout, ignore a disruptive candidate altogether.
        if (!force && inLease) return 'Ok';
      }
      if (m.type === MessageType.RequestPreVote) {
        // A pre-vote never changes our term.
      } else if (m.type === MessageType.RequestPreVoteResponse && !m.reject) {
        // A granted pre-vote carries the future term the candidate asked for;
        // the term changes only when the real election starts.
      } else if (m.type === MessageType.Append || m.type === MessageType.Heartbeat || m.type === MessageType.Snapshot) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, None);
      }
    } else if (m.term !== 0 && m.term < this.term) {
      this.handleStaleTermMessage(m);
      return 'Ok';
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.preVote ? 'PreElection' : 'Election');
        return 'Ok';
      case MessageType.RequestVote:
      case MessageType.RequestPreVote:
        this.handleVoteRequest(m);
        return 'Ok';
      default:
        return this.stepFn(m);
    }
  }

  private handleStaleTermMessage(m: Message): void {
    if ((this.checkQuorum || this.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.Append)) {
      // A leader of an older term, cut off for a while, would never learn of
      // the newer term: with check-quorum or pre-vote our own elections may
      // not reach it. Answer so it steps down.
      this.send(newMessage(MessageType.AppendResponse, m.from, this.id, this.term));
    } else if (m.type === MessageType.RequestPreVote) {
      // Reject explicitly, so a pre-candidate with a stale term learns ours.
      const resp = newMessage(MessageType.RequestPreVoteResponse, m.from, this.id, this.term);
      resp.reject = true;
      this.send(resp);
    }
    // Everything else from an older term is ignored.
  }

  private hup(t: CampaignType): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) return;
    // A node must apply a pending conf change before campaigning: it might
    // not be a member of the group it would lead.
    if (this.hasUnappliedConfChanges()) return;
    this.campaign(t);
  }

  private hasUnappliedConfChanges(): boolean {
    const { applied, committed } = this.raftLog;
    if (applied >= committed) return false;
    // Bounded: only the committed, unapplied window is scanned, in pages.
    const page = 64;
    for (let lo = applied + 1; lo <= committed; lo += page) {
      const ents = this.raftLog.slice(lo, Math.min(lo + page, committed + 1));
      if (ents.some((e) => e.type === EntryType.ConfChange)) return true;
    }
    return false;
  }

  campaign(t: CampaignType): void {
    let term: number;
    let voteType: MessageType;
    if (t === 'PreElection') {
      this.becomePreCandidate();
      voteType = MessageType.RequestPreVote;
      // Ask for the term we would use, without taking it yet.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.RequestVote;
      term = this.term;
    }
    // Our own vote counts at once (it is persisted before any request leaves).
    if (this.poll(this.id, true) === 'Won') {
      // A single-node group wins without asking anyone.
      if (t === 'PreElection') this.campaign('Election');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.prs.keys()) {
      if (id === this.id) continue;
      const m = newMessage(voteType, id, this.id, term);
      m.index = lastIndex;
      m.logTerm = lastTerm;
      if (t === 'Transfer') m.context = campaignTransferContext;
      this.send(m);
    }
  }

  private poll(id: number, granted: boolean): VoteResult {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    let yes = 0;
    let no = 0;
    for (const [voter, v] of this.votes) {
      if (!this.prs.has(voter)) continue;
      if (v) yes++;
      else no++;
    }
    const quorum = this.quorum();
    if (yes >= quorum) return 'Won';
    if (no > this.prs.size - quorum) return 'Lost';
    return 'Pending';
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      // A repeat of the vote we already cast (our answer may have been lost),
      this.vote === m.from ||
      // or we have not voted and know no leader in this term,
      (this.vote === None && this.lead === None) ||
      // or a pre-vote for a future term, which commits us to nothing.
      (m.type === MessageType.RequestPreVote && m.term > this.term);
    if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
      // Answer in the term of the request: a granted pre-vote is for a term we are not in.
      this.send(newMessage(voteResponseType(m.type), m.from, this.id, m.term));
      if (m.type === MessageType.RequestVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      const resp = newMessage(voteResponseType(m.type), m.from, this.id, this.term);
      resp.reject = true;
      this.send(resp);
    }
  }

  // ---------------------------------------------------------------------------
  // Step: followers

  private stepFollower(m: Message): StepResult {
    switch (m.type) {
      case MessageType.Propose:
      case MessageType.ReadIndex:
        if (this.lead === None) return 'ProposalDropped';
        this.forwardToLeader(m);
        return 'Ok';
      case MessageType.TransferLeader:
        if (this.lead !== None) this.forwardToLeader(m);
        return 'Ok';
      case MessageType.Append:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return 'Ok';
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return 'Ok';
      case MessageType.Snapshot:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return 'Ok';
      case MessageType.TimeoutNow:
        // Leadership transfer: campaign now, without pre-vote; the leader already vouched for us.
        this.hup('Transfer');
        return 'Ok';
      case MessageType.ReadIndexResponse: {
        const ctx = m.entries[0];
        if (m.entries.length === 1 && ctx !== undefined) this.readStates.push({ index: m.index, requestCtx: ctx.data });
        return 'Ok';
      }
      default:
        return 'Ok';
    }
  }

  private forwardToLeader(m: Message): void {
    const fwd: Message = { ...m, to: this.lead, from: m.from === None ? this.id : m.from };
    // Proposals and read requests travel without a term, like local messages,
    // so that a leader accepts them whatever term the follower is in.
    fwd.term = m.type === MessageType.Propose || m.type === MessageType.ReadIndex ? 0 : this.term;
    this.msgs.push(fwd);
  }

  // ---------------------------------------------------------------------------
  // Step: (pre-)candidates

  private stepCandidate(m: Message): StepResult {
    const myVoteResponse =
      this.state === StateType.PreCandidate ? MessageType.RequestPreVoteResponse : MessageType.RequestVoteResponse;
    switch (m.type) {
      case MessageType.Propose:
      case MessageType.ReadIndex:
        return 'ProposalDropped';
      case MessageType.Append:
        // A leader exists in this term (or a newer one): follow it.
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return 'Ok';
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return 'Ok';
      case MessageType.Snapshot:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return 'Ok';
      case myVoteResponse:
        switch (this.poll(m.from, !m.reject)) {
          case 'Won':
            if (this.state === StateType.PreCandidate) this.campaign('Election');
            else this.becomeLeader();
            break;
          case 'Lost':
            // A rejection with a higher term already made us a follower in step().
            this.becomeFollower(this.term, None);
            break;
          case 'Pending':
            break;
        }
        return 'Ok';
      default:
        return 'Ok';
    }
  }

  // ---------------------------------------------------------------------------
  // Step: the leader

  private stepLeader(m: Message): StepResult {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return 'Ok';
      case MessageType.Propose:
        return this.handlePropose(m);
      case MessageType.ReadIndex:
        this.handleReadIndexRequest(m);
        return 'Ok';
      default:
        break;
    }
    // Every other message concerns one follower, which must be a member.
    const pr = this.prs.get(m.from);
    if (pr === undefined) return 'Ok';
    switch (m.type) {
      case MessageType.AppendResponse:
        this.handleAppendResponse(m, pr);
        break;
      case MessageType.HeartbeatResponse:
        this.handleHeartbeatResponse(m, pr);
        break;
      case MessageType.SnapshotStatus:
        this.handleSnapshotStatus(m, pr);
        break;
      case MessageType.Unreachable:
        // Appends in flight were probably lost: probe instead of streaming.
        if (pr.state === ProgressState.Replicate) pr.becomeProbe();
        break;
      case MessageType.TransferLeader:
        this.handleTransferLeader(m, pr);
        break;
      default:
        break;
    }
    return 'Ok';
  }

  private handlePropose(m: Message): StepResult {
    assert(m.entries.length > 0, `${this.id} stepped an empty proposal`);
    // A leader removed from the group, or handing over leadership, takes no new entries.
    if (!this.prs.has(this.id)) return 'ProposalDropped';
    if (this.leadTransferee !== None) return 'ProposalDropped';
    let confChangeAt = -1;
    for (let i = 0; i < m.entries.length; i++) {
      if (m.entries[i]!.type !== EntryType.ConfChange) continue;
      // One membership change at a time: refuse while one is unapplied.
      if (confChangeAt >= 0 || this.pendingConfIndex > this.raftLog.applied) return 'ProposalDropped';
      confChangeAt = i;
    }
    if (confChangeAt >= 0) this.pendingConfIndex = this.raftLog.lastIndex() + confChangeAt + 1;
    this.appendEntries(m.entries);
    this.broadcastPending = true;
    return 'Ok';
  }

  /** Appends entries to the leader's log, stamped with the leader's term and the next indexes. */
  private appendEntries(ents: Entry[]): void {
    const first = this.raftLog.lastIndex() + 1;
    const stamped: Entry[] = new Array<Entry>(ents.length);
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i]!;
      stamped[i] = { term: this.term, index: first + i, type: e.type, data: e.data };
    }
    const last = this.raftLog.append(stamped);
    // Acknowledge our own append once it is durable; one pending ack per term suffices.
    const pending = this.msgsAfterAppend[this.msgsAfterAppend.length - 1];
    if (pending !== undefined && pending.term === this.term) {
      pending.index = last;
    } else {
      const ack = newMessage(MessageType.AppendResponse, this.id, this.id, this.term);
      ack.index = last;
      this.msgsAfterAppend.push(ack);
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      this.handleAppendRejection(m, pr);
      return;
    }
    const wasPaused = pr.isPaused();
    const updated = pr.maybeUpdate(m.index);
    // An ack at the current match still proves the follower's position to a probe.
    if (!updated && !(pr.state === ProgressState.Probe && pr.match === m.index)) return;
    switch (pr.state) {
      case ProgressState.Probe:
        pr.becomeReplicate();
        break;
      case ProgressState.Snapshot:
        // The follower applied the snapshot; resume from the log if it still reaches it.
        if (pr.match + 1 >= this.raftLog.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case ProgressState.Replicate:
        pr.inflights.freeLE(m.index);
        break;
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.broadcastPending = true;
    }
    if (m.from === this.id) return;
    this.sendAppends(m.from, wasPaused);
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.sendTimeoutNow(m.from);
    }
  }

  private handleAppendRejection(m: Message, pr: Progress): void {
    // The follower's hint is the last index where it might match us, with
    // that entry's term. Skip back over every entry of ours with a higher
    // term: one round trip per term, not per entry (thesis §5.3 optimization).
    let nextProbe = m.rejectHint;
    if (m.logTerm > 0) nextProbe = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
    if (!pr.maybeDecrTo(m.index, nextProbe)) return;
    if (pr.state === ProgressState.Replicate) pr.becomeProbe();
    this.sendAppends(m.from, true);
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    // Acks of every message in the window may have been lost; make room for one.
    if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.raftLog.lastIndex() || pr.state === ProgressState.Probe) this.sendAppends(m.from, true);

    if (m.context === undefined || m.context.length === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined || !this.hasQuorum(acks)) return;
    for (const rs of this.readOnly.advance(m.context)) this.respondToReadIndex(rs.req, rs.index);
  }

  private handleSnapshotStatus(m: Message, pr: Progress): void {
    if (pr.state !== ProgressState.Snapshot) return;
    // On failure forget the snapshot, so the next probe starts from what the follower has.
    if (m.reject) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for a heartbeat response before probing, in case the follower is down.
    pr.probeSent = true;
  }

  private handleTransferLeader(m: Message, pr: Progress): void {
    const transferee = m.from;
    if (this.leadTransferee !== None) {
      if (this.leadTransferee === transferee) return;
      this.leadTransferee = None;
    }
    if (transferee === this.id) return;
    // The transfer must finish within an election timeout; count from now.
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.raftLog.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppends(transferee, true);
  }

  private sendTimeoutNow(to: number): void {
    this.send(newMessage(MessageType.TimeoutNow, to, this.id, this.term));
  }

  /** Called when a heartbeat round ends: a leader that heard from no quorum steps down. */
  private checkQuorumActive(): void {
    let active = 0;
    for (const [id, pr] of this.prs) {
      if (id === this.id || pr.recentActive) active++;
      if (id !== this.id) pr.recentActive = false;
    }
    if (this.state === StateType.Leader && active < this.quorum()) this.becomeFollower(this.term, None);
  }

  /** A snapshot nobody reported on within an election timeout is sent again. */
  private retryUnconfirmedSnapshots(): void {
    for (const pr of this.prs.values()) {
      if (pr.state !== ProgressState.Snapshot) continue;
      if (pr.snapshotStale) {
        pr.pendingSnapshot = 0;
        pr.becomeProbe();
      } else {
        pr.snapshotStale = true;
      }
    }
  }

  // ---------------------------------------------------------------------------
  // Replication (leader)

  private quorum(): number {
    return Math.floor(this.prs.size / 2) + 1;
  }

  private hasQuorum(ids: Set<number>): boolean {
    let n = 0;
    for (const id of ids) if (this.prs.has(id)) n++;
    return n >= this.quorum();
  }

  /** Advances commit to the highest index a quorum matches, if it is in this term. */
  private maybeCommit(): boolean {
    const matches: number[] = [];
    for (const pr of this.prs.values()) matches.push(pr.match);
    if (matches.length === 0) return false;
    matches.sort((a, b) => b - a);
    return this.raftLog.maybeCommit(matches[this.quorum() - 1]!, this.term);
  }

  private committedEntryInCurrentTerm(): boolean {
    return this.raftLog.term(this.raftLog.committed) === this.term;
  }

  private flushBroadcast(): void {
    if (!this.broadcastPending) return;
    this.broadcastPending = false;
    if (this.state !== StateType.Leader) return;
    for (const id of this.prs.keys()) {
      if (id !== this.id) this.sendAppends(id, true);
    }
  }

  /**
   * Sends as many appends as the follower's window allows: one while probing,
   * a pipeline of them while replicating. With `sendIfEmpty`, an append with
   * no entries still goes out (to carry the commit index or probe a position).
   */
  private sendAppends(to: number, sendIfEmpty: boolean): void {
    if (!this.maybeSendAppend(to, sendIfEmpty)) return;
    while (this.maybeSendAppend(to, false)) {
      // Keep filling the pipeline.
    }
  }

  private maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    assert(pr !== undefined, `no progress for ${to}`);
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.term(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        ents = this.raftLog.entries(pr.next, this.maxMsgSize);
      } catch (e) {
        if (!(e instanceof CompactedError)) throw e;
      }
    }
    if (prevTerm === undefined || ents === undefined) return this.maybeSendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    const m = newMessage(MessageType.Append, to, this.id, this.term);
    m.index = prevIndex;
    m.logTerm = prevTerm;
    m.entries = ents;
    m.commit = this.raftLog.committed;
    this.send(m);
    pr.sentEntries(pr.next, ents.length);
    return true;
  }

  /** The follower needs entries we compacted: send the snapshot instead. */
  private maybeSendSnapshot(to: number, pr: Progress): boolean {
    // Only to a follower we recently heard from: a snapshot is expensive.
    if (!pr.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (e) {
      if (e instanceof SnapshotTemporarilyUnavailableError) return false;
      throw e;
    }
    assert(!isEmptySnapshot(snapshot), 'need a non-empty snapshot to replace compacted entries');
    const m = newMessage(MessageType.Snapshot, to, this.id, this.term);
    m.snapshot = snapshot;
    pr.becomeSnapshot(snapshot.metadata.index);
    this.send(m);
    return true;
  }

  private bcastHeartbeat(): void {
    const ctx = this.readOnly.lastPendingContext();
    for (const id of this.prs.keys()) {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    }
  }

  private sendHeartbeat(to: number, ctx: Uint8Array | undefined): void {
    const pr = this.prs.get(to)!;
    const m = newMessage(MessageType.Heartbeat, to, this.id, this.term);
    // Never claim a commit beyond what the follower is known to have: it
    // could not commit entries it lacks, or might hold different ones.
    m.commit = Math.min(pr.match, this.raftLog.committed);
    if (ctx !== undefined) m.context = ctx;
    this.send(m);
  }

  // ---------------------------------------------------------------------------
  // ReadIndex (leader)

  private handleReadIndexRequest(m: Message): void {
    // Until an entry of its term is committed, a new leader does not know the
    // commit index of the group (thesis §6.4 step 1).
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndexMessages.push(m);
      return;
    }
    this.confirmReadIndex(m);
  }

  private confirmReadIndex(m: Message): void {
    const index = this.raftLog.committed;
    if (this.prs.size === 1 && this.prs.has(this.id)) {
      this.respondToReadIndex(m, index);
      return;
    }
    const ctx = m.entries[0];
    assert(ctx !== undefined, 'read index request without context');
    this.readOnly.addRequest(index, m);
    this.readOnly.recvAck(this.id, ctx.data);
    for (const id of this.prs.keys()) {
      if (id !== this.id) this.sendHeartbeat(id, ctx.data);
    }
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of pending) this.confirmReadIndex(m);
  }

  private respondToReadIndex(req: Message, index: number): void {
    const ctx = req.entries[0];
    assert(ctx !== undefined, 'read index request without context');
    if (req.from === None || req.from === this.id) {
      this.readStates.push({ index, requestCtx: ctx.data });
      return;
    }
    const resp = newMessage(MessageType.ReadIndexResponse, req.from, this.id, this.term);
    resp.index = index;
    resp.entries = req.entries;
    this.send(resp);
  }

  // ---------------------------------------------------------------------------
  // Follower handlers

  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      // Everything up to our commit is already known to match; say so.
      const resp = newMessage(MessageType.AppendResponse, m.from, this.id, this.term);
      resp.index = this.raftLog.committed;
      this.send(resp);
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    const resp = newMessage(MessageType.AppendResponse, m.from, this.id, this.term);
    if (lastNew !== undefined) {
      resp.index = lastNew;
    } else {
      // Our log lacks (m.index, m.logTerm). Offer the last index that may
      // still match: the last one with a term <= m.logTerm, at or below
      // min(m.index, lastIndex).
      const hint = this.raftLog.findConflictByTerm(Math.min(m.index, this.raftLog.lastIndex()), m.logTerm);
      resp.index = m.index;
      resp.reject = true;
      resp.rejectHint = hint.index;
      resp.logTerm = hint.term;
    }
    this.send(resp);
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    const resp = newMessage(MessageType.HeartbeatResponse, m.from, this.id, this.term);
    if (m.context !== undefined) resp.context = m.context;
    this.send(resp);
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    assert(snap !== undefined, 'snapshot message without a snapshot');
    const resp = newMessage(MessageType.AppendResponse, m.from, this.id, this.term);
    resp.index = this.restore(snap) ? this.raftLog.lastIndex() : this.raftLog.committed;
    this.send(resp);
  }

  /** Installs the snapshot if it is newer than what we have. Returns whether it did. */
  private restore(s: Snapshot): boolean {
    const { index, term } = s.metadata;
    if (index <= this.raftLog.committed) return false;
    if (!s.metadata.confState.voters.includes(this.id)) return false;
    if (this.raftLog.matchTerm(index, term)) {
      // We already have the snapshot's last entry: just fast-forward the commit.
      this.raftLog.commitTo(index);
      return false;
    }
    this.raftLog.restore(s);
    this.prs = new Map();
    for (const id of s.metadata.confState.voters) {
      this.prs.set(id, new Progress(this.raftLog.lastIndex() + 1, this.maxInflight));
    }
    return true;
  }

  // ---------------------------------------------------------------------------
  // Membership

  /** Applies a committed conf change to the progress map; returns the new configuration. */
  applyConfChange(cc: ConfChange): ConfState {
    switch (cc.type) {
      case ConfChangeType.AddNode:
        if (!this.prs.has(cc.nodeId)) {
          const pr = new Progress(this.raftLog.lastIndex() + 1, this.maxInflight);
          // Give the new node a chance before check-quorum counts it as inactive.
          pr.recentActive = true;
          this.prs.set(cc.nodeId, pr);
        }
        break;
      case ConfChangeType.RemoveNode:
        this.prs.delete(cc.nodeId);
        if (cc.nodeId === this.leadTransferee) this.leadTransferee = None;
        break;
    }
    if (this.state === StateType.Leader) {
      if (!this.prs.has(this.id)) {
        // A leader that removed itself stops leading; the rest elect a new one.
        this.becomeFollower(this.term, None);
      } else {
        // A smaller quorum may commit what was waiting; a new node wants entries.
        if (this.maybeCommit()) this.releasePendingReadIndexMessages();
        this.broadcastPending = true;
      }
    }
    return this.confState();
  }

  // ---------------------------------------------------------------------------

  private send(m: Message): void {
    assert(m.from !== None || m.type === MessageType.Propose, `message ${m.type} without a sender`);
    this.msgs.push(m);
  }
}
