// One region peer: a Raft group member that owns its region's data. It turns
// client requests into proposals and ReadIndex rounds, persists and applies
// what Raft hands out, and answers each request once its entry is applied
// (writes) or the applied index reaches its read index (reads).
//
// Pure: storage, transport, time and randomness are passed in. The Durable
// Object shell (src/objects/peer-object.ts) and the simulator call `step`,
// `tick`, `propose`, `read` and then `handleReady` until it reports no work.

import { type Entry, EntryType, type Message, RawNode, type Ready, StateType } from '../raft';
import { assert, unreachable } from '../util/assert';
import { bytesKey, compareBytes } from '../util/bytes';
import { decodeCommand, encodeCommand } from './command-codec';
import type { ApplyState, PeerStorage, WriteBatch } from './peer-storage';
import { type PeerMeta, type RegionEpoch, type RegionMeta, findPeer, keyInRegion } from './region';
import {
  type ReadRequest,
  type ReadResponse,
  type RegionError,
  type RequestHeader,
  type Result,
  type WriteRequest,
  type WriteResponse,
  ok,
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
}

/** What the peer tells its host about, so the host can inform the scheduler. */
export interface PeerObserver {
  /** This peer became leader of its region. */
  onBecomeLeader?(region: RegionMeta, leader: PeerMeta): void;
}

interface PendingProposal {
  index: number;
  term: number;
  resolve: (result: Result<WriteResponse>) => void;
}

interface PendingRead {
  header: RequestHeader;
  request: ReadRequest;
  /** Set once the leader confirmed the read point. */
  readIndex: number | undefined;
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
  }

  step(envelope: RaftEnvelope): void {
    if (envelope.regionId !== this.region().id) return;
    this.raw.step(envelope.message);
  }

  // ---------------------------------------------------------------------------
  // Requests

  propose(header: RequestHeader, requests: WriteRequest[]): Promise<Result<WriteResponse>> {
    assert(requests.length > 0, 'a write needs at least one request');
    const rejected = this.checkRequest(header, requests.map((r) => r.key));
    if (rejected !== undefined) return Promise.resolve(regionError(rejected));
    const command = encodeCommand({ kind: 'Write', header: { regionId: header.regionId, epoch: header.epoch }, requests });
    if (this.raw.propose(command) === 'ProposalDropped') {
      // Leading but refusing (a leadership transfer is under way): send the caller elsewhere.
      return Promise.resolve(regionError(this.notLeader()));
    }
    const log = this.raw.raft.raftLog;
    const index = log.lastIndex();
    const term = this.raw.raft.term;
    const last = this.proposals[this.proposals.length - 1];
    assert(last === undefined || proposedAfter({ index, term }, last), `proposal (${term}, ${index}) queued out of order`);
    return new Promise((resolve) => this.proposals.push({ index, term, resolve }));
  }

  read(header: RequestHeader, request: ReadRequest): Promise<Result<ReadResponse>> {
    const rejected = this.checkRequest(header, [readRequestKey(request)]);
    if (rejected !== undefined) return Promise.resolve(regionError(rejected));
    const ctx = new Uint8Array(8);
    new DataView(ctx.buffer).setFloat64(0, this.nextReadId++);
    if (this.raw.readIndex(ctx) === 'ProposalDropped') return Promise.resolve(regionError(this.notLeader()));
    return new Promise((resolve) => {
      this.reads.set(bytesKey(ctx), { header, request, readIndex: undefined, resolve });
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
    assert(rd.snapshot === undefined, 'region snapshots are not produced yet, so none can arrive');
    const outcomes: (Result<WriteResponse> | undefined)[] = [];
    this.storage.write((batch) => {
      if (rd.entries.length > 0) batch.appendEntries(rd.entries);
      if (rd.hardState !== undefined) batch.setHardState(rd.hardState);
      if (rd.committedEntries.length > 0) {
        for (const e of rd.committedEntries) outcomes.push(this.applyEntry(batch, e));
        const last = rd.committedEntries[rd.committedEntries.length - 1]!;
        batch.setApplyState(nextApplyState(this.storage.applyState(), last.index));
      }
    });
    this.sendMessages(rd.messages);
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

  private resolveProposals(applied: Entry[], outcomes: (Result<WriteResponse> | undefined)[]): void {
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
      if (pending.readIndex === undefined || pending.readIndex > applied) continue;
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
  private applyEntry(batch: WriteBatch, entry: Entry): Result<WriteResponse> | undefined {
    if (entry.data.length === 0) return undefined; // a new leader's empty entry
    assert(entry.type === EntryType.Normal, `conf change entries are not proposed by this version (entry ${entry.index})`);
    const cmd = decodeCommand(entry.data);
    assert(cmd.kind === 'Write', `admin commands are not proposed by this version (entry ${entry.index})`);
    const region = this.region();
    assert(cmd.header.regionId === region.id, `entry ${entry.index} belongs to region ${cmd.header.regionId}`);
    const rejected = checkEpochAndKeys(
      region,
      cmd.header.epoch,
      cmd.requests.map((r) => r.key),
    );
    if (rejected !== undefined) return regionError(rejected);
    for (const request of cmd.requests) {
      switch (request.type) {
        case 'RawPut':
          batch.put('raw', request.key, request.value);
          break;
        case 'RawDelete':
          batch.delete('raw', request.key);
          break;
        default:
          unreachable(request);
      }
    }
    return ok({ type: 'Written' });
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
  return request.type === 'RawGet' ? request.key : request.start;
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
