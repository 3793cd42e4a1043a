// What hosts a Peer: it loads the peer from storage, turns requests and
// messages into Ready turns, and keeps the Raft ticker armed while the peer
// has a region. The Durable Object and the simulator each give it a Host
// (how to defer work and arm the ticker) and otherwise share this code.

import { assert } from '../util/assert';
import { bootstrapPeer } from './bootstrap';
import { Peer, type PeerConfig, type PeerObserver, type RaftEnvelope, type Transport } from './peer';
import type { PeerStorage } from './peer-storage';
import type { PeerMeta, RegionMeta } from './region';
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
}

/** What a peer reports about itself, for tests and the cluster view. */
export interface PeerStatus {
  peerId: number | undefined;
  region: RegionMeta | undefined;
  leader: PeerMeta | undefined;
  isLeader: boolean;
  term: number;
  appliedIndex: number;
}

/** Bounds one burst of Ready turns, so a bug cannot spin the host forever. */
const readyTurnsMax = 1_000;

export class PeerDriver {
  private peer: Peer | undefined;
  private readyDeferred = false;
  /** A tick is scheduled. Memory only: a restarted host re-arms from durable state. */
  private tickerArmed = false;

  constructor(
    readonly storage: PeerStorage,
    private readonly transport: Transport,
    private readonly config: PeerConfig,
    private readonly observer: PeerObserver,
    private readonly host: PeerHost,
  ) {
    this.loadPeer();
  }

  /** Call once the host is up: a peer with a region must tick, whatever happened before. */
  async start(): Promise<void> {
    if (this.peer !== undefined) await this.ensureTicking();
  }

  async bootstrap(peer: PeerMeta, region: RegionMeta): Promise<void> {
    bootstrapPeer(this.storage, peer, region);
    this.loadPeer();
    await this.ensureTicking();
  }

  async raftMessages(batch: RaftEnvelope[]): Promise<void> {
    const peer = this.peer;
    // Not bootstrapped yet: drop; the sender's Raft retries.
    if (peer === undefined) return;
    for (const envelope of batch) peer.step(envelope);
    await this.afterInput();
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
    for (let turns = 0; peer.handleReady(); turns++) {
      assert(turns < readyTurnsMax, `peer ${peer.meta.id}: Ready loop did not settle`);
    }
  }

  private loadPeer(): void {
    if (this.peer !== undefined || this.storage.region() === undefined) return;
    this.peer = new Peer(this.storage, this.transport, this.config, this.observer);
  }
}
