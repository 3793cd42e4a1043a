// One region peer: a Raft group member that owns its region's data. It turns
// client requests into proposals and ReadIndex rounds, persists and applies
// what Raft hands out, and answers each request once its entry is applied
// (writes) or the applied index reaches its read index (reads).
//
// Pure: storage, transport, time and randomness are passed in. The Durable
// Object shell (src/objects/peer-object.ts) and the simulator call `step`,
// `tick`, `propose`, `read` and then `handleReady` until it reports no work.

import {
  type ConfChange,
  type Entry,
  EntryType,
  type Message,
  MessageType,
  RawNode,
  type Ready,
  StateType,
  decodeConfChange,
} from '../raft';
import { type TxnSpan, applyTxnCommand, readTxn, txnSpan, validateTxnCommand, validateTxnRead } from '../percolator';
import { assert, unreachable } from '../util/assert';
import { bytesKey, compareBytes } from '../util/bytes';
import { decodeCommand, encodeCommand } from './command-codec';
import { type ChangePeerRequest, applyChangePeer, changePeerOf, confChangeFor } from './conf-change-apply';
import { applyCompactLog, compactLogToPropose, raftLogGcCountLimitDefault } from './log-gc';
import type { ApplyState, PeerStorage, WriteBatch } from './peer-storage';
import { type PeerMeta, type RegionEpoch, type RegionMeta, findPeer, keyInRegion } from './region';
import { type SplitHandoff, type SplitRequest, checkSplitSize, execSplit, isStrictlyInside } from './split';
import {
  type SnapshotChunk,
  SnapshotReceiver,
  applySnapshot,
  checkSnapshot,
  chunkSnapshotMessage,
  decodeSnapshotRegion,
  snapshotChunkBytesDefault,
} from './snapshot';
import {
  type ReadRequest,
  type ReadResponse,
  type RegionError,
  type RequestHeader,
  type Result,
  type WriteRequest,
  type WriteResponse,
  ok,
  onePhaseOf,
  regionError,
} from './requests';

/** A Raft message between two peers of one region, with what the receiver needs to route it. */
export interface RaftEnvelope {
  regionId: number;
  from: PeerMeta;
  to: PeerMeta;
  /** The sender's region epoch when it sent the message. */
  epoch: RegionEpoch;
  message: Message;
  /**
   * Set on the envelopes of a Snapshot message: one chunk of its data each
   * (the message itself then carries none), see src/store/snapshot.ts.
   */
  snapshotChunk?: SnapshotChunk;
}

/** Fire-and-forget delivery; Raft tolerates loss, duplication and reordering. */
export interface Transport {
  send(envelopes: RaftEnvelope[]): void;
}

export interface PeerConfig {
  electionTick: number;
  heartbeatTick: number;
  /** Uniform in [0, 1); the shell passes Math.random, the simulator a seeded generator. */
  rand: () => number;
  maxSizePerMsgBytes?: number;
  maxInflightMsgs?: number;
  /** Log GC: the leader compacts once applied - truncated exceeds this many entries (RAFT_LOG_GC_COUNT_LIMIT). */
  raftLogGcCountLimit?: number;
  /** Bytes of snapshot data per chunk envelope. */
  snapshotChunkBytes?: number;
}

/** What the peer tells its host about, so the host can inform the scheduler. */
export interface PeerObserver {
  /** This peer became leader of its region. */
  onBecomeLeader?(region: RegionMeta, leader: PeerMeta): void;
  /** This peer, leading, applied a change of its region's meta (members or range). */
  onRegionChanged?(region: RegionMeta, leader: PeerMeta): void;
  /** This peer, leading, applied the removal of `removed`, which may never hear of it from Raft. */
  onPeerRemoved?(region: RegionMeta, removed: PeerMeta): void;
  /**
   * This peer (any role) applied a split and its transaction committed: the
   * host hands the new region's rows over (src/store/split.ts).
   */
  onSplit?(handoff: SplitHandoff): void;
}

/** What an admin command answers once applied: the region as it now is. */
export interface AdminResponse {
  type: 'Admin';
  region: RegionMeta;
  /** A split's new region (the right half); `region` is then the left half. */
  right?: RegionMeta;
}

type EntryOutcome = WriteResponse | AdminResponse;

interface PendingProposal {
  index: number;
  term: number;
  /** Set on a one-phase commit: txn reads at or above it wait for this entry (see Peer.maxReadTs). */
  onePhaseCommitTs?: bigint;
  resolve: (result: Result<EntryOutcome>) => void;
}

interface PendingRead {
  header: RequestHeader;
  request: ReadRequest;
  /** Set once the leader confirmed the read point. */
  readIndex: number | undefined;
  /**
   * The read is served only once this index is applied too: the last
   * one-phase commit proposed before the read arrived whose commitTs is
   * <= the read's ts (0 = none), see Peer.maxReadTs.
   */
  waitIndex: number;
  resolve: (result: Result<ReadResponse>) => void;
}

/** Bounds the pairs a scan may return per region, whatever the caller asks. */
export const scanLimitMax = 10_000;

export class Peer {
  readonly storage: PeerStorage;
  readonly meta: PeerMeta;
  private readonly raw: RawNode;
  private readonly transport: Transport;
  private readonly observer: PeerObserver;
  /**
   * Proposals waiting for their entry to apply, in (term, index) order.
   * Not index order: a leader that lost its term-t entries to a shorter log
   * and leads again proposes at indexes below its pending term-t ones.
   */
  private proposals: PendingProposal[] = [];
  /** Reads by request context, in arrival order. */
  private reads = new Map<string, PendingRead>();
  private nextReadId = 0;
  private readonly raftLogGcCountLimit: number;
  private readonly snapshotChunkBytes: number;
  /** The compact index this peer last proposed while leading (memory only; 0 = none). */
  private lastCompactProposed = 0;
  /** Chunks of incoming snapshots, until each is whole. */
  private readonly snapshotReceiver = new SnapshotReceiver();
  /** Snapshots installed since this Peer was built; memory only, for tests and status. */
  snapshotsApplied = 0;
  /**
   * Set once this peer applied its own removal: the host must destroy it and
   * drop it. Memory only: a restarted host sees a region without this peer.
   */
  removed = false;
  /** Conf changes applied in this Ready's transaction, for Raft once it commits. */
  private appliedConfChanges: ConfChange[] = [];
  /** Removals this leader applied in this Ready, reported once it commits. */
  private removedPeers: PeerMeta[] = [];
  /** Splits applied in this Ready's transaction, handed to the host once it commits. */
  private appliedSplits: SplitHandoff[] = [];
  /**
   * TiKV's max_ts, for one-phase commits. A 1PC writes commit records at a
   * commitTs the coordinator took from the TSO *before* the entry applies;
   * a snapshot read at ts >= commitTs served in between would miss the
   * write and a later read at the same ts would see it. 2PC is immune (its
   * locks block such reads); 1PC must commit above every read ts served.
   *
   * So the leader keeps the greatest txn read ts it accepted (in memory,
   * raised when a read arrives, before its ReadIndex round) and:
   * - refuses (CommitTsTooOld, nothing proposed) a 1PC whose commitTs is <=
   *   it; the caller retries with a fresh TSO ts, which is above it because
   *   every read ts came from the TSO earlier. Refusing rather than raising
   *   commitTs keeps commit timestamps real TSO values, so a transaction
   *   that starts after the commit was acknowledged always sees it.
   * - makes a read at ts wait until every 1PC proposed before it with
   *   commitTs <= ts has applied (PendingRead.waitIndex): those were
   *   accepted before the read raised maxReadTs.
   * - knows nothing of the reads earlier leaders served, and memory is lost
   *   on eviction, so it refuses every 1PC (MaxTsUnknown, with its term)
   *   until a caller brings a floor for this term: a TSO ts fetched after
   *   the refusal. Any read an earlier leader served took its ts before that
   *   leader lost its quorum, which is before this peer led and answered,
   *   so floor - 1 bounds them all. Costs one extra TSO round trip per
   *   region and term, no timer or clock assumption.
   */
  private maxReadTs = 0n;
  /** The term whose maxReadTs accounts for earlier leaders' reads (a floor arrived); -1 = none yet. */
  private maxTsKnownTerm = -1;

  constructor(storage: PeerStorage, transport: Transport, config: PeerConfig, observer: PeerObserver = {}) {
    const peerId = storage.peerId();
    const region = storage.region();
    assert(peerId !== undefined && region !== undefined, 'a peer needs an initialized storage');
    const meta = findPeer(region, peerId);
    assert(meta !== undefined, `peer ${peerId} is not a member of region ${region.id}`);
    this.storage = storage;
    this.meta = meta;
    this.transport = transport;
    this.observer = observer;
    this.raftLogGcCountLimit = config.raftLogGcCountLimit ?? raftLogGcCountLimitDefault;
    this.snapshotChunkBytes = config.snapshotChunkBytes ?? snapshotChunkBytesDefault;
    this.raw = new RawNode({
      id: peerId,
      storage,
      applied: storage.applyState().appliedIndex,
      electionTick: config.electionTick,
      heartbeatTick: config.heartbeatTick,
      // Pre-vote keeps a peer that was cut off from deposing a healthy leader
      // when it returns; check-quorum makes a cut-off leader step down, which
      // ReadIndex relies on to never serve from a deposed leader for long.
      preVote: true,
      checkQuorum: true,
      maxSizePerMsg: config.maxSizePerMsgBytes ?? 1024 * 1024,
      maxInflightMsgs: config.maxInflightMsgs ?? 256,
      rand: config.rand,
    });
  }

  region(): RegionMeta {
    const region = this.storage.region();
    assert(region !== undefined, 'an initialized peer always has a region');
    return region;
  }

  isLeader(): boolean {
    return this.raw.raft.state === StateType.Leader;
  }

  /** The peer this one believes leads the region, if any. */
  leader(): PeerMeta | undefined {
    const lead = this.raw.raft.lead;
    return lead === 0 ? undefined : findPeer(this.region(), lead);
  }

  term(): number {
    return this.raw.raft.term;
  }

  tick(): void {
    this.raw.tick();
    // Log GC runs on the ticker, as TiKV's raft_log_gc_tick: often enough to
    // keep the log within twice the limit, never more than once per tick.
    this.maybeProposeCompactLog();
  }

  step(envelope: RaftEnvelope): void {
    if (envelope.regionId !== this.region().id) return;
    let message = envelope.message;
    if (envelope.snapshotChunk !== undefined) {
      // Raft sees a snapshot only once all of it is here.
      const whole = this.snapshotReceiver.receive(message, envelope.snapshotChunk);
      if (whole === undefined) return;
      message = whole;
    }
    if (message.type === MessageType.Snapshot && !this.acceptSnapshot(message)) return;
    this.raw.step(message);
  }

  /** TiKV's check_snapshot: a refused snapshot is dropped, and the leader retries or learns otherwise. */
  private acceptSnapshot(message: Message): boolean {
    const snap = message.snapshot;
    if (snap === undefined || snap.data.length === 0) return false;
    return checkSnapshot(this.region(), decodeSnapshotRegion(snap.data)) === undefined;
  }

  private maybeProposeCompactLog(): void {
    if (!this.isLeader()) return;
    const cmd = compactLogToPropose(this.storage, this.region(), this.raftLogGcCountLimit, this.lastCompactProposed);
    if (cmd === undefined || cmd.kind !== 'Admin' || cmd.admin.type !== 'CompactLog') return;
    // No callback: nobody waits for GC, and a lost proposal is simply made again later.
    if (this.raw.propose(encodeCommand(cmd)) === 'Ok') this.lastCompactProposed = cmd.admin.compactIndex;
  }

  // ---------------------------------------------------------------------------
  // Requests

  propose(header: RequestHeader, requests: WriteRequest[]): Promise<Result<WriteResponse>> {
    assert(requests.length > 0, 'a write needs at least one request');
    const txn = requests.find((r) => r.type === 'Txn');
    if (txn !== undefined) {
      // Alone, so the proposal's outcome is the command's and nothing else shares its fate.
      assert(txn.type === 'Txn' && requests.length === 1, 'a txn command is proposed alone');
      return this.proposeTxn(header, txn);
    }
    const rejected = this.checkRequest(header, requests.map(rawWriteKey));
    if (rejected !== undefined) return Promise.resolve(regionError(rejected));
    const command = encodeCommand({ kind: 'Write', header: { regionId: header.regionId, epoch: header.epoch }, requests });
    if (this.raw.propose(command) === 'ProposalDropped') {
      // Leading but refusing (a leadership transfer is under way): send the caller elsewhere.
      return Promise.resolve(regionError(this.notLeader()));
    }
    return this.enqueueProposal().then((r) => {
      if (!r.ok) return r;
      assert(r.value.type === 'Written', `a write proposal answered ${r.value.type}`);
      return ok(r.value);
    });
  }

  /**
   * One Percolator command through the log. Refused before proposing, as
   * values: an invalid command (Invalid outcome, so no replica ever sees
   * it), keys past the region (TxnSpansRegions; only the first key, which
   * the caller routed by, is a region error), and 1PC's max_ts rules.
   */
  private proposeTxn(header: RequestHeader, request: WriteRequest & { type: 'Txn' }): Promise<Result<WriteResponse>> {
    const invalid = validateTxnCommand(request.command);
    if (invalid !== undefined) {
      return Promise.resolve(ok({ type: 'TxnOutcome', outcome: { type: 'Invalid', reason: invalid } }));
    }
    const span = txnSpan(request.command);
    const rejected = this.checkRequest(header, spanRoutingKeys(span));
    if (rejected !== undefined) return Promise.resolve(regionError(rejected));
    const region = this.region();
    if (!spanInRegion(span, region)) return Promise.resolve(ok({ type: 'TxnSpansRegions', region }));
    const onePhase = onePhaseOf(request);
    if (onePhase !== undefined) {
      const term = this.term();
      const floor = request.maxTsFloor;
      if (floor !== undefined && floor.term === term) {
        if (floor.ts - 1n > this.maxReadTs) this.maxReadTs = floor.ts - 1n;
        this.maxTsKnownTerm = term;
      }
      if (this.maxTsKnownTerm !== term) return Promise.resolve(ok({ type: 'MaxTsUnknown', term }));
      if (onePhase.commitTs <= this.maxReadTs) {
        return Promise.resolve(ok({ type: 'CommitTsTooOld', maxReadTs: this.maxReadTs }));
      }
    }
    // The floor is this leader's business, not the log's.
    const logged: WriteRequest = { type: 'Txn', command: request.command };
    const command = encodeCommand({ kind: 'Write', header: { regionId: header.regionId, epoch: header.epoch }, requests: [logged] });
    if (this.raw.propose(command) === 'ProposalDropped') return Promise.resolve(regionError(this.notLeader()));
    return this.enqueueProposal(onePhase?.commitTs).then((r) => {
      if (!r.ok) return r;
      assert(r.value.type === 'TxnOutcome', `a txn proposal answered ${r.value.type}`);
      return ok(r.value);
    });
  }

  /**
   * Proposes adding or removing one peer, as a ConfChange entry whose context
   * is the admin command with the proposer's epoch. Answers the region after
   * the change once applied. A leader does not remove itself: with two peers
   * the survivor might never learn that the entry committed (the leader would
   * destroy itself first) and could not elect anyone; transfer leadership away
   * first (the admin service does).
   */
  proposeChangePeer(header: RequestHeader, admin: ChangePeerRequest): Promise<Result<AdminResponse>> {
    const rejected = this.checkAdmin(header);
    if (rejected !== undefined) return Promise.resolve(regionError(rejected));
    if (admin.changeType === 'RemoveNode' && admin.peer.id === this.meta.id) {
      return Promise.resolve(regionError({ type: 'NotLeader', regionId: header.regionId }));
    }
    const cc = confChangeFor({ regionId: header.regionId, epoch: header.epoch }, admin);
    // Dropped while a transfer is under way or another conf change is unapplied.
    if (this.raw.proposeConfChange(cc) === 'ProposalDropped') {
      return Promise.resolve(regionError({ type: 'EpochNotMatch', currentRegions: [this.region()] }));
    }
    return this.enqueueProposal().then((r) => {
      if (!r.ok) return r;
      assert(r.value.type === 'Admin', `an admin proposal answered ${r.value.type}`);
      return ok(r.value);
    });
  }

  /**
   * Proposes splitting the region at `admin.splitKey` under the caller's
   * epoch. Refused before proposing when the key cannot split the region or
   * the moved half is too big for one handoff (data size must not decide the
   * apply, which has to be deterministic). Answers both halves once applied.
   */
  proposeSplit(header: RequestHeader, admin: SplitRequest): Promise<Result<AdminResponse>> {
    const rejected = this.checkAdmin(header);
    if (rejected !== undefined) return Promise.resolve(regionError(rejected));
    const region = this.region();
    if (!isStrictlyInside(admin.splitKey, region)) {
      return Promise.resolve(regionError({ type: 'KeyNotInRegion', key: admin.splitKey, region }));
    }
    if (!checkSplitSize(this.storage, region, admin.splitKey)) {
      return Promise.resolve(regionError({ type: 'KeyNotInRegion', key: admin.splitKey, region }));
    }
    const command = encodeCommand({ kind: 'Admin', header: { regionId: header.regionId, epoch: header.epoch }, admin });
    if (this.raw.propose(command) === 'ProposalDropped') return Promise.resolve(regionError(this.notLeader()));
    return this.enqueueProposal().then((r) => {
      if (!r.ok) return r;
      assert(r.value.type === 'Admin', `a split proposal answered ${r.value.type}`);
      return ok(r.value);
    });
  }

  /** Starts a leadership transfer (Raft thesis §3.10); not through the log. */
  transferLeader(header: RequestHeader, toPeerId: number): Result<null> {
    const rejected = this.checkAdmin(header);
    if (rejected !== undefined) return regionError(rejected);
    if (findPeer(this.region(), toPeerId) === undefined) return regionError({ type: 'EpochNotMatch', currentRegions: [this.region()] });
    this.raw.transferLeader(toPeerId);
    return ok(null);
  }

  /** Admin commands: right region and peer, leader, and an epoch that is not stale. */
  private checkAdmin(header: RequestHeader): RegionError | undefined {
    const region = this.region();
    if (header.regionId !== region.id || header.peerId !== this.meta.id) {
      return { type: 'RegionNotFound', regionId: header.regionId };
    }
    if (!this.isLeader()) return this.notLeader();
    if (header.epoch.version !== region.epoch.version || header.epoch.confVer !== region.epoch.confVer) {
      return { type: 'EpochNotMatch', currentRegions: [region] };
    }
    return undefined;
  }

  /** Queues the callback of the entry just appended at the end of the log. */
  private enqueueProposal(onePhaseCommitTs?: bigint): Promise<Result<EntryOutcome>> {
    const log = this.raw.raft.raftLog;
    const index = log.lastIndex();
    const term = this.raw.raft.term;
    const last = this.proposals[this.proposals.length - 1];
    assert(last === undefined || proposedAfter({ index, term }, last), `proposal (${term}, ${index}) queued out of order`);
    return new Promise((resolve) =>
      this.proposals.push(onePhaseCommitTs === undefined ? { index, term, resolve } : { index, term, onePhaseCommitTs, resolve }),
    );
  }

  read(header: RequestHeader, request: ReadRequest): Promise<Result<ReadResponse>> {
    const rejected = this.checkRequest(header, [readRequestKey(request)]);
    if (rejected !== undefined) return Promise.resolve(regionError(rejected));
    let waitIndex = 0;
    if (request.type === 'Txn') {
      // Checked before its ts can raise maxReadTs: a malformed ts must not poison 1PC.
      const invalid = validateTxnRead(request.read);
      if (invalid !== undefined) {
        return Promise.resolve(ok({ type: 'TxnRead', outcome: { type: 'Invalid', reason: invalid }, region: this.region() }));
      }
      // Before the ReadIndex round: from here on no 1PC at or below ts is
      // accepted, and the ones accepted already are waited for (maxReadTs).
      const ts = request.read.ts;
      if (ts > this.maxReadTs) this.maxReadTs = ts;
      for (const p of this.proposals) {
        if (p.onePhaseCommitTs !== undefined && p.onePhaseCommitTs <= ts && p.index > waitIndex) waitIndex = p.index;
      }
    }
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setFloat64(0, this.nextReadId++);
    if (this.raw.readIndex(ctx) === 'ProposalDropped') return Promise.resolve(regionError(this.notLeader()));
    return new Promise((resolve) => {
      this.reads.set(bytesKey(ctx), { header, request, readIndex: undefined, waitIndex, resolve });
    });
  }

  /** The checks TiKV makes before accepting a request: right region, leader, epoch, keys in range. */
  private checkRequest(header: RequestHeader, keys: Uint8Array[]): RegionError | undefined {
    const region = this.region();
    if (header.regionId !== region.id || header.peerId !== this.meta.id) {
      return { type: 'RegionNotFound', regionId: header.regionId };
    }
    if (!this.isLeader()) return this.notLeader();
    return checkEpochAndKeys(region, header.epoch, keys);
  }

  private notLeader(): RegionError {
    const leader = this.leader();
    const error: RegionError = { type: 'NotLeader', regionId: this.region().id };
    if (leader !== undefined && leader.id !== this.meta.id) error.leader = leader;
    return error;
  }

  // ---------------------------------------------------------------------------
  // The Ready loop

  hasReady(): boolean {
    return this.raw.hasReady();
  }

  /**
   * One turn: persist and apply in one transaction, send, answer, advance.
   * Returns false when there was nothing to do.
   */
  handleReady(): boolean {
    if (!this.raw.hasReady()) return false;
    const rd = this.raw.ready();
    const outcomes: (Result<EntryOutcome> | undefined)[] = [];
    assert(this.appliedConfChanges.length === 0 && this.removedPeers.length === 0, 'conf changes left from a turn');
    assert(this.appliedSplits.length === 0, 'splits left from a turn');
    this.storage.write((batch) => {
      // First: the snapshot replaces the log, and this Ready's entries follow it.
      if (rd.snapshot !== undefined) applySnapshot(batch, this.storage, rd.snapshot);
      if (rd.entries.length > 0) batch.appendEntries(rd.entries);
      if (rd.hardState !== undefined) batch.setHardState(rd.hardState);
      if (rd.committedEntries.length > 0) {
        for (const e of rd.committedEntries) outcomes.push(this.applyEntry(batch, e));
        const last = rd.committedEntries[rd.committedEntries.length - 1]!;
        batch.setApplyState(nextApplyState(this.storage.applyState(), last.index));
      }
    });
    if (rd.snapshot !== undefined) {
      this.snapshotsApplied++;
      this.settleProposalsUnderSnapshot(rd.snapshot.metadata.index, rd.snapshot.metadata.term);
    }
    this.sendMessages(rd.messages);
    this.afterConfChanges();
    this.afterSplits();
    this.handleSoftState(rd);
    this.resolveProposals(rd.committedEntries, outcomes);
    for (const rs of rd.readStates) {
      const pending = this.reads.get(bytesKey(rs.requestCtx));
      if (pending !== undefined) pending.readIndex = rs.index;
    }
    this.serveReads();
    this.raw.advance(rd);
    return true;
  }

  private sendMessages(messages: Message[]): void {
    if (messages.length === 0) return;
    const region = this.region();
    const envelopes: RaftEnvelope[] = [];
    for (const message of messages) {
      const to = findPeer(region, message.to);
      // A message to a peer no longer in the region has nowhere to go.
      if (to === undefined) continue;
      if (message.type === MessageType.Snapshot) {
        // Snapshot data travels in chunks, one envelope each (src/store/snapshot.ts).
        for (const part of chunkSnapshotMessage(message, this.snapshotChunkBytes)) {
          envelopes.push({ regionId: region.id, from: this.meta, to, epoch: region.epoch, message: part.message, snapshotChunk: part.chunk });
        }
        continue;
      }
      envelopes.push({ regionId: region.id, from: this.meta, to, epoch: region.epoch, message });
    }
    this.transport.send(envelopes);
  }

  private handleSoftState(rd: Ready): void {
    if (rd.softState === undefined) return;
    if (rd.softState.raftState === StateType.Leader) {
      this.observer.onBecomeLeader?.(this.region(), this.meta);
      return;
    }
    // Reads not yet confirmed died with the leadership: Raft dropped their
    // ReadIndex state. Send the callers to the new leader.
    for (const [ctx, pending] of this.reads) {
      if (pending.readIndex !== undefined) continue;
      this.reads.delete(ctx);
      pending.resolve(regionError(this.notLeader()));
    }
  }

  /**
   * Raft learns of applied conf changes once their transaction committed, so
   * that memory never runs ahead of storage; messages of this Ready were
   * addressed under the old membership, which is what Raft produced them for.
   */
  private afterConfChanges(): void {
    const changes = this.appliedConfChanges;
    const removed = this.removedPeers;
    this.appliedConfChanges = [];
    this.removedPeers = [];
    for (const cc of changes) this.raw.applyConfChange(cc);
    if (changes.length === 0) return;
    const region = this.region();
    if (findPeer(region, this.meta.id) === undefined) {
      this.removed = true;
      return;
    }
    if (!this.isLeader()) return;
    this.observer.onRegionChanged?.(region, this.meta);
    for (const p of removed) this.observer.onPeerRemoved?.(region, p);
  }

  /**
   * A snapshot replaced the log through `index`: proposals at or below it
   * will never meet their entry in committedEntries, and left queued the next
   * applied entry would call them stale, though the snapshot may well hold
   * them (a deposed leader's proposals that the next leader committed). Only
   * a proposal of a term above the snapshot's is surely not in it (every
   * committed entry up to `index` has a term <= `term`): StaleCommand. The
   * others are dropped unanswered; their callers see a lost request, which
   * is what "maybe applied" is to the router.
   */
  private settleProposalsUnderSnapshot(index: number, term: number): void {
    const kept: PendingProposal[] = [];
    for (const p of this.proposals) {
      if (p.index > index) kept.push(p);
      else if (p.term > term) p.resolve(regionError({ type: 'StaleCommand' }));
    }
    this.proposals = kept;
  }

  /** The handoffs are durable now: the host may create the new peers from them. */
  private afterSplits(): void {
    const splits = this.appliedSplits;
    this.appliedSplits = [];
    // Not onRegionChanged: reporting the left half alone would leave the
    // routing table a gap over the right half. The handoff reports both.
    for (const handoff of splits) this.observer.onSplit?.(handoff);
  }

  private resolveProposals(applied: Entry[], outcomes: (Result<EntryOutcome> | undefined)[]): void {
    applied.forEach((e, i) => {
      // A Raft log is ordered by (term, index) too, so once `e` is applied no
      // proposal ordered before it can be applied any more (TiKV's
      // ProposalQueue::pop): it is `e` itself or it was overwritten (Raft §5.3).
      while (this.proposals.length > 0 && !proposedAfter(this.proposals[0]!, e)) {
        const p = this.proposals.shift()!;
        const outcome = p.index === e.index && p.term === e.term ? outcomes[i] : undefined;
        p.resolve(outcome ?? regionError({ type: 'StaleCommand' }));
      }
    });
  }

  private serveReads(): void {
    const applied = this.storage.applyState().appliedIndex;
    for (const [ctx, pending] of this.reads) {
      if (pending.readIndex === undefined || pending.readIndex > applied || pending.waitIndex > applied) continue;
      this.reads.delete(ctx);
      pending.resolve(this.executeRead(pending));
    }
  }

  private executeRead(pending: PendingRead): Result<ReadResponse> {
    // The region may have changed while the read waited for its read index.
    const region = this.region();
    const rejected = checkEpochAndKeys(region, pending.header.epoch, [readRequestKey(pending.request)]);
    if (rejected !== undefined) return regionError(rejected);
    const request = pending.request;
    switch (request.type) {
      case 'RawGet':
        return ok({ type: 'RawGet', value: this.storage.get('raw', request.key) });
      case 'RawScan': {
        const limit = Math.min(request.limit, scanLimitMax);
        const end = clampEnd(request.end, region.endKey);
        const found = this.storage.scan('raw', { start: request.start, end, limit: limit + 1 });
        return ok({ type: 'RawScan', pairs: found.slice(0, limit), more: found.length > limit });
      }
      case 'Txn': {
        const read = request.read;
        // A scan sees only this region's part of its range; the caller goes on from `region`.
        const clamped = read.type === 'TxnScan' ? { ...read, end: clampEnd(read.end, region.endKey) } : read;
        return ok({ type: 'TxnRead', outcome: readTxn(clamped, this.storage), region });
      }
      default:
        return unreachable(request);
    }
  }

  // ---------------------------------------------------------------------------
  // Apply

  /**
   * Applies one committed entry inside the Ready's transaction. Every replica
   * reaches the same outcome, so checks made here (epoch, key range) are
   * deterministic; the outcome is returned for the proposer's callback.
   */
  private applyEntry(batch: WriteBatch, entry: Entry): Result<EntryOutcome> | undefined {
    if (entry.data.length === 0) return undefined; // a new leader's empty entry
    if (entry.type === EntryType.ConfChange) return this.applyConfChangeEntry(batch, entry);
    const cmd = decodeCommand(entry.data);
    if (cmd.kind === 'Admin' && cmd.admin.type === 'CompactLog') {
      // Region id only: CompactLog is valid under any epoch (src/store/log-gc.ts).
      assert(cmd.header.regionId === this.region().id, `entry ${entry.index} belongs to region ${cmd.header.regionId}`);
      applyCompactLog(batch, this.storage, entry.index, cmd.admin);
      return undefined;
    }
    if (cmd.kind === 'Admin' && cmd.admin.type === 'Split') {
      const outcome = execSplit(batch, this.region(), this.meta, entry.index, cmd.header, cmd.admin);
      if (!outcome.ok) return regionError(outcome.error);
      if (outcome.handoff !== undefined) this.appliedSplits.push(outcome.handoff);
      return ok({ type: 'Admin', region: outcome.left, right: outcome.right });
    }
    assert(cmd.kind === 'Write', `admin commands are not proposed by this version (entry ${entry.index})`);
    const region = this.region();
    assert(cmd.header.regionId === region.id, `entry ${entry.index} belongs to region ${cmd.header.regionId}`);
    const txn = cmd.requests.length === 1 && cmd.requests[0]!.type === 'Txn' ? cmd.requests[0] : undefined;
    if (txn !== undefined) return this.applyTxn(batch, region, cmd.header.epoch, txn);
    const rejected = checkEpochAndKeys(region, cmd.header.epoch, cmd.requests.map(rawWriteKey));
    if (rejected !== undefined) return regionError(rejected);
    for (const request of cmd.requests) {
      switch (request.type) {
        case 'RawPut':
          batch.put('raw', request.key, request.value);
          break;
        case 'RawDelete':
          batch.delete('raw', request.key);
          break;
        case 'Txn':
          assert(false, `entry ${entry.index} mixes a txn command with other requests`);
          break;
        default:
          unreachable(request);
      }
    }
    return ok({ type: 'Written' });
  }

  /**
   * A Percolator command at apply time, inside the Ready's transaction.
   * Checked again here because the region may have split since it was
   * proposed; then the outcome is a region error and nothing is written, on
   * every replica alike. The command's own checks (conflicts, locks) run in
   * applyTxnCommand, which reads the storage with this batch's writes.
   */
  private applyTxn(batch: WriteBatch, region: RegionMeta, epoch: RegionEpoch, request: WriteRequest & { type: 'Txn' }): Result<EntryOutcome> {
    const span = txnSpan(request.command);
    const rejected = checkEpochAndKeys(region, epoch, spanRoutingKeys(span));
    if (rejected !== undefined) return regionError(rejected);
    if (!spanInRegion(span, region)) {
      const key = span.kind === 'keys' ? span.keys.find((k) => !keyInRegion(k, region))! : span.start;
      return regionError({ type: 'KeyNotInRegion', key, region });
    }
    return ok({ type: 'TxnOutcome', outcome: applyTxnCommand(request.command, this.storage, batch) });
  }

  /** A ChangePeer: region meta in this transaction, Raft's membership after it commits. */
  private applyConfChangeEntry(batch: WriteBatch, entry: Entry): Result<EntryOutcome> {
    const cc = decodeConfChange(entry.data);
    const { header, admin } = changePeerOf(cc);
    const outcome = applyChangePeer(this.region(), header, admin);
    if (!outcome.ok) return regionError(outcome.error);
    batch.setRegion(outcome.region);
    this.appliedConfChanges.push(cc);
    if (admin.changeType === 'RemoveNode' && admin.peer.id !== this.meta.id) this.removedPeers.push(admin.peer);
    return ok({ type: 'Admin', region: outcome.region });
  }
}

/** Whether `a` comes after `b` in (term, index) order. */
function proposedAfter(a: { term: number; index: number }, b: { term: number; index: number }): boolean {
  return a.term > b.term || (a.term === b.term && a.index > b.index);
}

function nextApplyState(current: ApplyState, appliedIndex: number): ApplyState {
  assert(appliedIndex > current.appliedIndex, `apply must move forward: ${current.appliedIndex} -> ${appliedIndex}`);
  return { appliedIndex, truncatedState: current.truncatedState };
}

function readRequestKey(request: ReadRequest): Uint8Array {
  switch (request.type) {
    case 'RawGet':
      return request.key;
    case 'RawScan':
      return request.start;
    case 'Txn':
      return request.read.type === 'TxnGet' ? request.read.key : request.read.start;
    default:
      return unreachable(request);
  }
}

function rawWriteKey(request: WriteRequest): Uint8Array {
  assert(request.type !== 'Txn', 'a txn command has no single key');
  return request.key;
}

/** The key a caller routed a txn command by: its first key, or its range's start. */
function spanRoutingKeys(span: TxnSpan): Uint8Array[] {
  if (span.kind === 'range') return [span.start];
  return span.keys.length > 0 ? [span.keys[0]!] : [];
}

/** Whether every key of the span lies in the region (a range: all of it). */
function spanInRegion(span: TxnSpan, region: RegionMeta): boolean {
  if (span.kind === 'keys') return span.keys.every((k) => keyInRegion(k, region));
  if (!keyInRegion(span.start, region)) return false;
  if (region.endKey.length === 0) return true;
  return span.end.length > 0 && compareBytes(span.end, region.endKey) <= 0;
}

/**
 * Data requests depend on the key range only, so only `version` (bumped by
 * splits and merges) must match; membership changes do not affect them.
 */
function checkEpochAndKeys(region: RegionMeta, epoch: RegionEpoch, keys: Uint8Array[]): RegionError | undefined {
  if (epoch.version !== region.epoch.version) return { type: 'EpochNotMatch', currentRegions: [region] };
  for (const key of keys) {
    if (!keyInRegion(key, region)) return { type: 'KeyNotInRegion', key, region };
  }
  return undefined;
}

/** The smaller of two exclusive end keys, where empty means unbounded. */
function clampEnd(requested: Uint8Array, regionEnd: Uint8Array): Uint8Array {
  if (requested.length === 0) return regionEnd;
  if (regionEnd.length === 0) return requested;
  return compareBytes(requested, regionEnd) <= 0 ? requested : regionEnd;
}
