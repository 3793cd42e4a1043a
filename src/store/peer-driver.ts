// What hosts a Peer: it loads the peer from storage, turns requests and
// messages into Ready turns, and keeps the Raft ticker armed while the peer
// has a region. The Durable Object and the simulator each give it a Host
// (how to defer work and arm the ticker) and otherwise share this code.

import { assert } from '../util/assert';
import { bootstrapPeer } from './bootstrap';
import { type AdminResponse, Peer, type PeerConfig, type PeerObserver, type RaftEnvelope, type Transport } from './peer';
import { type PeerSeed, initializeFromSeed, seedFrom } from './peer-seed';
import { type PeerStorage, raftInitLogIndex, raftInitLogTerm } from './peer-storage';
import { type SeedRow } from './peer-seed';
import { type SplitHandoffHost, assertSplitTarget, runHandoffs } from './split';
import { type PeerMeta, type RegionMeta, findPeer, isEpochStale } from './region';
import type { ChangePeerRequest } from './conf-change-apply';
import {
  type ReadRequest,
  type ReadResponse,
  type RequestHeader,
  type Result,
  type WriteRequest,
  type WriteResponse,
  regionError,
} from './requests';

export interface PeerHost {
  /**
   * Runs `fn` after the current event, so that requests arriving together
   * share one Ready turn (one append, one transaction).
   */
  defer(fn: () => void): void;
  /** Calls the driver's `tick()` once, one tick interval from now (the DO alarm). */
  armTicker(): Promise<void>;
  /** Cancels the ticker: the peer was destroyed (the DO deletes its alarm). */
  disarmTicker?(): Promise<void>;
  /**
   * Asks peer `from` of region `regionId` for a seed for `to` (see
   * peer-seed.ts); undefined if it cannot give one now. Hosts without it
   * leave new peers waiting for a region snapshot.
   */
  requestSeed?(from: PeerMeta, regionId: number, to: PeerMeta): Promise<PeerSeed | undefined>;
  /** Durably remembers that this object's peer of `regionId` was removed. */
  saveTombstone?(regionId: number): Promise<void>;
  /** How applied splits reach the new peers (src/store/split.ts); without it they stay pending. */
  splitHandoff?: SplitHandoffHost;
}

/** What a peer reports about itself, for tests and the cluster view. */
export interface PeerStatus {
  peerId: number | undefined;
  region: RegionMeta | undefined;
  leader: PeerMeta | undefined;
  isLeader: boolean;
  term: number;
  appliedIndex: number;
  /** The log's truncated index (log GC and snapshots move it). */
  truncatedIndex: number;
  /** Snapshots this incarnation installed (memory only). */
  snapshotsApplied: number;
}

/** Bounds one burst of Ready turns, so a bug cannot spin the host forever. */
const readyTurnsMax = 1_000;

export class PeerDriver {
  private peer: Peer | undefined;
  private readyDeferred = false;
  /** A tick is scheduled. Memory only: a restarted host re-arms from durable state. */
  private tickerArmed = false;
  /**
   * The region whose peer this object was and no longer is: messages for it
   * are ignored so a late one cannot recreate the peer. Restored by the host.
   */
  private tombstone: number | undefined;
  /** A seed request is under way; one at a time. */
  private seeding = false;
  /** Storage may hold split handoffs not finished yet; memory only, set from storage on load. */
  private handoffPending = false;
  /** A handoff run is under way; one at a time. */
  private handingOff = false;

  constructor(
    readonly storage: PeerStorage,
    private readonly transport: Transport,
    private readonly config: PeerConfig,
    private readonly observer: PeerObserver,
    private readonly host: PeerHost,
  ) {
    this.loadPeer();
    this.handoffPending = storage.pendingSplits().length > 0;
  }

  /** Call once the host is up: a peer with a region must tick, whatever happened before. */
  async start(): Promise<void> {
    if (this.peer !== undefined) await this.ensureTicking();
    else if (this.tombstone !== undefined) await this.host.disarmTicker?.();
    // A split applied before a crash still owes its new peer the rows.
    this.maybeHandOff();
  }

  /** The host restores the tombstone it saved (see saveTombstone). */
  setTombstone(regionId: number): void {
    this.tombstone = regionId;
  }

  isTombstone(): boolean {
    return this.tombstone !== undefined;
  }

  async bootstrap(peer: PeerMeta, region: RegionMeta): Promise<void> {
    bootstrapPeer(this.storage, peer, region);
    this.loadPeer();
    await this.ensureTicking();
  }

  async raftMessages(batch: RaftEnvelope[]): Promise<void> {
    const peer = this.peer;
    if (peer === undefined) {
      // Not initialized: a new peer of a conf change asks the sender for a
      // seed; meanwhile the messages are dropped and the sender's Raft retries.
      const first = batch.find((e) => e.regionId !== this.tombstone);
      if (first !== undefined) await this.maybeSeed(first);
      return;
    }
    for (const envelope of batch) peer.step(envelope);
    await this.afterInput();
  }

  /** Adds or removes a peer through the log; answers the region after the change. */
  async changePeer(header: RequestHeader, admin: ChangePeerRequest): Promise<Result<AdminResponse>> {
    const peer = this.peer;
    if (peer === undefined) return regionError({ type: 'RegionNotFound', regionId: header.regionId });
    const result = peer.proposeChangePeer(header, admin);
    await this.afterInput();
    return result;
  }

  async transferLeader(header: RequestHeader, toPeerId: number): Promise<Result<null>> {
    const peer = this.peer;
    if (peer === undefined) return regionError({ type: 'RegionNotFound', regionId: header.regionId });
    const result = peer.transferLeader(header, toPeerId);
    await this.afterInput();
    return result;
  }

  /** Splits the region at `splitKey` through the log; answers both halves once applied. */
  async split(header: RequestHeader, splitKey: Uint8Array, newRegionId: number, newPeerIds: number[]): Promise<Result<AdminResponse>> {
    const peer = this.peer;
    if (peer === undefined) return regionError({ type: 'RegionNotFound', regionId: header.regionId });
    const result = peer.proposeSplit(header, { type: 'Split', splitKey, newRegionId, newPeerIds });
    await this.afterInput();
    const answer = await result;
    // The caller's next request should find both halves in the routing
    // table; the handoff reports them too, this only saves it a round of
    // EpochNotMatch. A failure here is that handoff's to retry.
    if (answer.ok && answer.value.right !== undefined) {
      await this.host.splitHandoff?.reportSplit(answer.value.region, answer.value.right).catch(() => undefined);
    }
    return answer;
  }

  /**
   * Becomes `peer` of `region`, a split's new region, from the rows its
   * parent peer on this store moved (like bootstrap, at raftInitLogIndex).
   * Idempotent: true whenever this object holds (or held and was removed
   * from) that region, whichever way it got there first; a seed from the
   * new region's leader may win the race, with a state at least as new.
   */
  async initFromSplit(peer: PeerMeta, region: RegionMeta, rows: SeedRow[]): Promise<boolean> {
    assertSplitTarget(peer, region);
    const ours = this.storage.region();
    if (ours !== undefined) {
      assert(ours.id === region.id && this.storage.peerId() === peer.id, `peer ${peer.id} already holds region ${ours.id}`);
      return true;
    }
    if (this.tombstone === region.id) return true;
    initializeFromSeed(this.storage, peer, { region, index: raftInitLogIndex, term: raftInitLogTerm, rows });
    this.loadPeer();
    await this.ensureTicking();
    return true;
  }

  /** A seed of this peer's applied state for new peer `forPeer` (see peer-seed.ts). */
  seedFor(regionId: number, forPeer: number): PeerSeed | undefined {
    const region = this.storage.region();
    if (this.peer === undefined || region?.id !== regionId) return undefined;
    return seedFrom(this.storage, forPeer);
  }

  /**
   * `region` is a newer state of this peer's region that no longer holds it
   * (its removal committed; the leader stopped sending to it, so Raft may
   * never tell it). Destroys this peer; otherwise a no-op.
   */
  async destroyIfRemoved(region: RegionMeta): Promise<boolean> {
    const ours = this.storage.region();
    const peerId = this.storage.peerId();
    if (ours === undefined || peerId === undefined || ours.id !== region.id) return false;
    if (region.epoch.confVer <= ours.epoch.confVer || isEpochStale(region.epoch, ours.epoch)) return false;
    if (findPeer(region, peerId) !== undefined) return false;
    await this.destroy();
    return true;
  }

  private async maybeSeed(envelope: RaftEnvelope): Promise<void> {
    const request = this.host.requestSeed;
    if (request === undefined || this.seeding || this.storage.region() !== undefined) return;
    this.seeding = true;
    try {
      const seed = await request(envelope.from, envelope.regionId, envelope.to);
      if (seed === undefined || this.storage.region() !== undefined || this.tombstone === seed.region.id) return;
      if (seed.region.id !== envelope.regionId || findPeer(seed.region, envelope.to.id) === undefined) return;
      initializeFromSeed(this.storage, envelope.to, seed);
      this.loadPeer();
      await this.ensureTicking();
    } finally {
      this.seeding = false;
    }
  }

  /** Empties this object's storage, stops its ticker and remembers the region (tombstone). */
  private async destroy(): Promise<void> {
    const region = this.storage.region();
    assert(region !== undefined, 'only an initialized peer is destroyed');
    this.peer = undefined;
    this.tombstone = region.id;
    this.storage.write((batch) => batch.destroy());
    await this.host.saveTombstone?.(region.id);
    this.tickerArmed = false;
    await this.host.disarmTicker?.();
  }

  async write(header: RequestHeader, requests: WriteRequest[]): Promise<Result<WriteResponse>> {
    const peer = this.peer;
    if (peer === undefined) return regionError({ type: 'RegionNotFound', regionId: header.regionId });
    const result = peer.propose(header, requests);
    await this.afterInput();
    return result;
  }

  async read(header: RequestHeader, request: ReadRequest): Promise<Result<ReadResponse>> {
    const peer = this.peer;
    if (peer === undefined) return regionError({ type: 'RegionNotFound', regionId: header.regionId });
    const result = peer.read(header, request);
    await this.afterInput();
    return result;
  }

  /** The ticker fired. */
  async tick(): Promise<void> {
    this.tickerArmed = false;
    const peer = this.peer;
    if (peer === undefined) return;
    peer.tick();
    this.runReady();
    this.maybeHandOff();
    if (this.peer === undefined) return;
    await this.ensureTicking();
  }

  status(): PeerStatus {
    const peer = this.peer;
    return {
      peerId: this.storage.peerId(),
      region: this.storage.region(),
      leader: peer?.leader(),
      isLeader: peer?.isLeader() ?? false,
      term: peer?.term() ?? 0,
      appliedIndex: this.storage.applyState().appliedIndex,
      truncatedIndex: this.storage.applyState().truncatedState.index,
      snapshotsApplied: peer?.snapshotsApplied ?? 0,
    };
  }

  /** Any input may wake a sleeping peer, and leaves a Ready turn to run. */
  private async afterInput(): Promise<void> {
    if (!this.readyDeferred) {
      this.readyDeferred = true;
      this.host.defer(() => {
        this.readyDeferred = false;
        this.runReady();
      });
    }
    await this.ensureTicking();
  }

  private async ensureTicking(): Promise<void> {
    if (this.tickerArmed) return;
    this.tickerArmed = true;
    try {
      await this.host.armTicker();
    } catch (e) {
      // Not armed after all: let the next input try again rather than never tick.
      this.tickerArmed = false;
      throw e;
    }
  }

  private runReady(): void {
    const peer = this.peer;
    if (peer === undefined) return;
    for (let turns = 0; !peer.removed && peer.handleReady(); turns++) {
      assert(turns < readyTurnsMax, `peer ${peer.meta.id}: Ready loop did not settle`);
    }
    // It applied its own removal: stop now; the host's destroy finishes it.
    if (peer.removed) void this.destroy().catch((e: unknown) => console.warn(`destroying peer ${peer.meta.id}: ${String(e)}`));
  }

  /** Runs the pending split handoffs in the background; a failed run is retried on the next tick. */
  private maybeHandOff(): void {
    const host = this.host.splitHandoff;
    if (host === undefined || !this.handoffPending || this.handingOff) return;
    this.handingOff = true;
    void runHandoffs(this.storage, host)
      .then((done) => {
        if (done) this.handoffPending = this.storage.pendingSplits().length > 0;
      })
      .catch((e: unknown) => console.warn(`split handoff of peer ${this.storage.peerId()}: ${String(e)}`))
      .finally(() => {
        this.handingOff = false;
      });
  }

  private loadPeer(): void {
    const region = this.storage.region();
    if (this.peer !== undefined || region === undefined) return;
    const peerId = this.storage.peerId();
    if (peerId !== undefined && findPeer(region, peerId) === undefined) {
      // Applied its own removal but crashed before destroying: finish it now
      // (storage only; start() clears the alarm).
      this.tombstone = region.id;
      this.storage.write((batch) => batch.destroy());
      return;
    }
    this.peer = new Peer(this.storage, this.transport, this.config, {
      ...this.observer,
      onSplit: (handoff) => {
        this.observer.onSplit?.(handoff);
        this.handoffPending = true;
        this.maybeHandOff();
      },
    });
  }
}
