// The whole cluster in one process, on the simulated clock and network: one
// PeerDriver per region peer over a MemoryPeerStorage (the same driver and
// peer code the Durable Object runs), a scheduler built from the pure
// registry, and "workers" — RegionRouter + RoutedRawStore, as in production —
// whose RPCs to peers cross the simulated network. Everything random comes
// from one seed.
//
// A crash is a Durable Object reset: the peer's memory (PeerDriver, Peer,
// Raft, pending requests, its alarm) is gone, its storage stays; RPCs in
// flight to it fail with an exception. Each incarnation of a peer is its own
// PeerInstance, and timers and callbacks check that theirs is still the live
// one, so nothing scheduled for a dead incarnation runs.

import { type RetryPolicy, RegionRouter, defaultRetryPolicy } from '../../../src/api/region-router';
import { RoutedRawStore } from '../../../src/api/raw-store';
import type { PeerRpc } from '../../../src/objects/peer-api';
import type { Entry } from '../../../src/raft';
import { planBootstrap } from '../../../src/scheduler/bootstrap';
import { IdAllocator, MemoryIdLimitStore } from '../../../src/scheduler/id-allocator';
import { RegionRegistry, type Route } from '../../../src/scheduler/region-registry';
import type { PeerConfig, PeerObserver, RaftEnvelope } from '../../../src/store/peer';
import { PeerDriver, type PeerHost } from '../../../src/store/peer-driver';
import type { KvPair } from '../../../src/store/peer-storage';
import { type PeerMeta, type RegionMeta, assertValidRegion, findPeer } from '../../../src/store/region';
import { assert } from '../../../src/util/assert';
import { bytesEqual } from '../../../src/util/bytes';
import { seededRandom } from '../../unit/raft/network';
import { SimClock, type TimerHandle } from './clock';
import { deepCopy } from './copy';
import { SimNetwork } from './network';
import { SimPeerStorage } from './sim-storage';

/** A broken invariant of the simulated cluster; the runner adds the seed and the replay command. */
export class SimFailure extends Error {
  override name = 'SimFailure';
}

/** What a caller sees when it calls a peer whose object is down (connection refused). */
export class PeerDownError extends Error {
  override name = 'PeerDownError';
}

/** What a caller sees when the peer it was waiting on is reset (as `ctx.abort()` does to a DO). */
export class PeerCrashedError extends Error {
  override name = 'PeerCrashedError';
}

export interface SimClusterOptions {
  seed: number;
  /** Stores in the cluster; region 1 gets one peer on each of the first three. */
  stores?: number;
  /** The Raft ticker interval (the DO alarm); production uses 100 ms locally. */
  tickMs?: number;
  /**
   * Alarms arrive late, as real ones do: each peer draws how late its
   * alarms can be, uniform in [0, tickLateMaxMs), and each alarm is late by
   * a uniform amount below that. Peers whose clocks run at different speeds
   * are what leader leases get wrong.
   */
  tickLateMaxMs?: number;
  /** Probability that an alarm is delivered a second time (alarms are at-least-once). */
  alarmTwiceRate?: number;
  /**
   * Log GC threshold (PeerConfig.raftLogGcCountLimit); small values make
   * compactions, and snapshots for followers that fall behind, frequent.
   */
  raftLogGcCountLimit?: number;
  retryPolicy?: RetryPolicy;
  /** Called with each notable event, for replaying one seed (SIM_TRACE=1). */
  trace?: (line: string) => void;
}

export interface ClusterStats {
  crashes: number;
  restarts: number;
  pauses: number;
  leaderReports: number;
  /** Highest applied index any peer reached. */
  appliedMax: number;
}

export interface StorageStats {
  compactions: number;
  snapshotsInstalled: number;
}

/** Production timing (src/objects/peer-object.ts): election 10 ticks, heartbeat 2. */
const electionTicks = 10;
const heartbeatTicks = 2;
const replicas = 3;

/** One incarnation of a peer's Durable Object: its memory, which a crash throws away. */
class PeerInstance {
  driver!: PeerDriver;
  /** The one alarm a Durable Object has; setting a new one replaces it. */
  alarm: TimerHandle | undefined;
  /** How to fail each RPC this incarnation has not answered yet. */
  readonly inFlight = new Set<() => void>();
  /**
   * The object is stalled (an overloaded isolate, a long GC) until this
   * time: its alarm, messages and calls wait, and it resumes with the
   * memory it had, still believing whatever it believed.
   */
  pausedUntil = 0;
  /** What arrived while paused, in arrival order: an object's input queue is first in, first out. */
  readonly backlog: (() => void | Promise<void>)[] = [];
  /** A timer is set to work through the backlog. */
  resumeArmed = false;

  constructor(readonly incarnation: number) {}
}

interface PeerSlot {
  meta: PeerMeta;
  /** The peer's "disk": survives crashes. */
  storage: SimPeerStorage;
  /** PeerConfig.rand for every incarnation: a stream of its own, so peers do not perturb each other. */
  rand: () => number;
  /** How late each of this peer's alarms is, and whether it comes twice. */
  alarmRand: () => number;
  instance: PeerInstance | undefined;
  incarnations: number;
  /** This peer's alarms are late by up to this much (its "clock speed"). */
  tickLateMs: number;
}

/** The scheduler's routing, on the pure registry, as SchedulerObject does it. */
export class SimScheduler {
  readonly registry = new RegionRegistry();
  readonly ids = new IdAllocator(new MemoryIdLimitStore());

  route(key: Uint8Array): Route {
    const route = this.registry.route(key);
    assert(route !== undefined, 'no region covers the key (splits do not exist yet)');
    return route;
  }

  /** SchedulerObject.reportLeader: record the region by the epoch rules, then its leader. */
  reportLeader(region: RegionMeta, leader: PeerMeta): void {
    assertValidRegion(region);
    assert(findPeer(region, leader.id)?.storeId === leader.storeId, `leader ${leader.id} is not in region ${region.id}`);
    this.registry.putRegion(region);
    this.registry.updateLeader(region.id, leader, region.epoch);
  }
}

/** A worker isolate: its own route cache, as each isolate has in production. */
export interface SimWorker {
  router: RegionRouter;
  store: RoutedRawStore;
}

export class SimCluster {
  readonly clock = new SimClock();
  readonly network: SimNetwork;
  readonly scheduler = new SimScheduler();
  readonly stats: ClusterStats = { crashes: 0, restarts: 0, pauses: 0, leaderReports: 0, appliedMax: 0 };
  readonly policy: RetryPolicy;
  readonly storeIds: number[];
  private readonly rand: () => number;
  private readonly tickMs: number;
  private readonly tickLateMaxMs: number;
  private readonly alarmTwiceRate: number;
  private readonly raftLogGcCountLimit: number | undefined;
  private readonly slots = new Map<number, PeerSlot>();
  private readonly traceFn: ((line: string) => void) | undefined;
  /**
   * Every entry some peer applied, by index: the state machine's history.
   * Each replica's applied entries must match it (see recordApplied).
   */
  private readonly appliedHistory = new Map<number, Entry>();
  /** Who became leader of each term (one region for now). */
  private readonly leaderOfTerm = new Map<number, number>();

  constructor(options: SimClusterOptions) {
    this.rand = seededRandom(options.seed);
    this.tickMs = options.tickMs ?? 100;
    this.tickLateMaxMs = options.tickLateMaxMs ?? 10;
    this.alarmTwiceRate = options.alarmTwiceRate ?? 0;
    this.raftLogGcCountLimit = options.raftLogGcCountLimit;
    this.policy = options.retryPolicy ?? defaultRetryPolicy;
    this.traceFn = options.trace;
    const stores = options.stores ?? 3;
    assert(stores >= replicas, `${replicas} replicas need at least ${replicas} stores`);
    this.storeIds = Array.from({ length: stores }, (_, i) => i + 1);
    this.network = new SimNetwork(this.clock, this.fork(), (envelope) => this.deliverRaft(envelope));
  }

  /** An independent seeded stream, derived from the cluster's seed. */
  fork(): () => number {
    return seededRandom(Math.floor(this.rand() * 0x1_0000_0000));
  }

  trace(line: string): void {
    this.traceFn?.(`[${String(this.clock.now()).padStart(7)} ms] ${line}`);
  }

  /** Bootstraps region 1 (the scheduler's plan) and starts its peers. */
  async bootstrap(): Promise<RegionMeta> {
    assert(this.slots.size === 0, 'the cluster is bootstrapped once');
    const plan = planBootstrap(this.scheduler.ids, { storeIds: this.storeIds, replicas });
    const put = this.scheduler.registry.putRegion(plan);
    assert(put.type === 'Accepted', 'the bootstrap region is the first region');
    for (const meta of plan.peers) {
      const alarmRand = this.fork();
      const slot: PeerSlot = {
        meta,
        storage: new SimPeerStorage((entries) => this.recordApplied(meta.id, entries)),
        rand: this.fork(),
        alarmRand,
        instance: undefined,
        incarnations: 0,
        tickLateMs: alarmRand() * this.tickLateMaxMs,
      };
      this.slots.set(meta.id, slot);
      const instance = this.startInstance(slot);
      // In production the scheduler asks each peer over RPC; the call is the same.
      await instance.driver.bootstrap(meta, plan);
    }
    this.trace(`bootstrapped region ${plan.id} with peers ${plan.peers.map((p) => `${p.id}@s${p.storeId}`).join(', ')}`);
    return plan;
  }

  /** Log compactions and snapshot installs on all peers so far. */
  storageStats(): StorageStats {
    const out: StorageStats = { compactions: 0, snapshotsInstalled: 0 };
    for (const slot of this.slots.values()) {
      out.compactions += slot.storage.compactions;
      out.snapshotsInstalled += slot.storage.snapshotsInstalled;
    }
    return out;
  }

  peerIds(): number[] {
    return [...this.slots.keys()];
  }

  peerMeta(peerId: number): PeerMeta {
    return this.slot(peerId).meta;
  }

  storage(peerId: number): SimPeerStorage {
    return this.slot(peerId).storage;
  }

  isUp(peerId: number): boolean {
    return this.slot(peerId).instance !== undefined;
  }

  /** The live driver of a peer, if its object is up. */
  driver(peerId: number): PeerDriver | undefined {
    return this.slot(peerId).instance?.driver;
  }

  /** Peers that currently believe they lead (at most one per term; several across terms). */
  leaders(): number[] {
    return this.peerIds().filter((id) => this.driver(id)?.status().isLeader === true);
  }

  /** The leader of the highest term, if any peer leads: the one a deposed leader has not heard of yet. */
  leader(): number | undefined {
    let best: { id: number; term: number } | undefined;
    for (const id of this.leaders()) {
      const term = this.driver(id)!.status().term;
      if (best === undefined || term > best.term) best = { id, term };
    }
    return best?.id;
  }

  // ---------------------------------------------------------------------------
  // Crashes

  /** The peer's object is reset: memory gone, storage kept, callers waiting on it get an exception. */
  crash(peerId: number): void {
    const slot = this.slot(peerId);
    const instance = slot.instance;
    if (instance === undefined) return;
    slot.instance = undefined;
    instance.alarm?.cancel();
    for (const fail of instance.inFlight) fail();
    instance.inFlight.clear();
    this.stats.crashes++;
    this.trace(`crash peer ${peerId} (incarnation ${instance.incarnation})`);
  }

  /** A new incarnation over the same storage, as the next request to a reset object creates one. */
  restart(peerId: number): void {
    const slot = this.slot(peerId);
    if (slot.instance !== undefined) return;
    const instance = this.startInstance(slot);
    this.stats.restarts++;
    this.trace(`restart peer ${peerId} (incarnation ${instance.incarnation})`);
    instance.driver.start().catch((e: unknown) => this.clock.fail(e));
  }

  crashAll(): void {
    for (const id of this.peerIds()) this.crash(id);
  }

  restartAll(): void {
    for (const id of this.peerIds()) this.restart(id);
  }

  private startInstance(slot: PeerSlot): PeerInstance {
    const instance = new PeerInstance(++slot.incarnations);
    const live = () => slot.instance === instance;
    const host: PeerHost = {
      defer: (fn) => {
        this.clock.setTimer(0, () => this.whenRunning(slot, instance, fn));
      },
      armTicker: async () => {
        if (!live()) return;
        instance.alarm?.cancel();
        const late = Math.floor(slot.alarmRand() * slot.tickLateMs);
        const twice = slot.alarmRand() < this.alarmTwiceRate;
        instance.alarm = this.clock.setTimer(this.tickMs + late, () =>
          this.whenRunning(slot, instance, () => {
            instance.alarm = undefined;
            // The platform retries an alarm it thinks failed: the handler runs again.
            if (twice) this.clock.setTimer(1, () => this.whenRunning(slot, instance, () => instance.driver.tick()));
            return instance.driver.tick();
          }),
        );
      },
      disarmTicker: async () => {
        if (!live()) return;
        instance.alarm?.cancel();
        instance.alarm = undefined;
      },
    };
    const observer: PeerObserver = {
      onBecomeLeader: (region, leader) => {
        const term = instance.driver.status().term;
        this.trace(`peer ${leader.id} leads region ${region.id} at term ${term}`);
        // Election Safety (Raft §5.2): at most one leader per term, across restarts too.
        const earlier = this.leaderOfTerm.get(term);
        if (earlier !== undefined && earlier !== leader.id) {
          throw new SimFailure(`peers ${earlier} and ${leader.id} both became leader of term ${term}`);
        }
        this.leaderOfTerm.set(term, leader.id);
        // The report travels to the scheduler like any RPC; it may arrive after a newer one.
        this.clock.setTimer(this.network.latency(), () => {
          this.stats.leaderReports++;
          this.scheduler.reportLeader(region, leader);
        });
      },
    };
    const config: PeerConfig = {
      electionTick: electionTicks,
      heartbeatTick: heartbeatTicks,
      rand: slot.rand,
      raftLogGcCountLimit: this.raftLogGcCountLimit,
    };
    // Set before the driver exists: its constructor may already use the host.
    slot.instance = instance;
    instance.driver = new PeerDriver(slot.storage, this.network.transport, config, observer, host);
    return instance;
  }

  /**
   * Runs `fn` on `instance` if it is still the live incarnation. While it is
   * paused, or still working through what queued up meanwhile, `fn` waits
   * its turn behind everything that arrived before it. A throw or a
   * rejection from the peer is a broken invariant: the simulation fails.
   */
  private whenRunning(slot: PeerSlot, instance: PeerInstance, fn: () => void | Promise<void>): void {
    if (slot.instance !== instance) return;
    if (instance.pausedUntil > this.clock.now() || instance.backlog.length > 0) {
      instance.backlog.push(fn);
      this.armResume(slot, instance);
      return;
    }
    this.runGuarded(fn);
  }

  private runGuarded(fn: () => void | Promise<void>): void {
    try {
      const out = fn();
      if (out instanceof Promise) out.catch((e: unknown) => this.clock.fail(e));
    } catch (e) {
      this.clock.fail(e);
    }
  }

  /** Works through the backlog once the pause is over, one event per timer like any other. */
  private armResume(slot: PeerSlot, instance: PeerInstance): void {
    if (instance.resumeArmed) return;
    instance.resumeArmed = true;
    this.clock.setTimer(Math.max(0, instance.pausedUntil - this.clock.now()), () => {
      instance.resumeArmed = false;
      if (slot.instance !== instance) return;
      if (instance.pausedUntil > this.clock.now()) {
        this.armResume(slot, instance); // the pause was extended meanwhile
        return;
      }
      const next = instance.backlog.shift();
      if (instance.backlog.length > 0) this.armResume(slot, instance);
      if (next !== undefined) this.runGuarded(next);
    });
  }

  /** Stalls a peer's object for `ms`: nothing it does or receives is processed meanwhile. */
  pause(peerId: number, ms: number): void {
    const instance = this.slot(peerId).instance;
    if (instance === undefined) return;
    instance.pausedUntil = Math.max(instance.pausedUntil, this.clock.now() + ms);
    this.stats.pauses++;
    this.trace(`pause peer ${peerId} for ${ms} ms`);
  }

  private deliverRaft(envelope: RaftEnvelope): void {
    const slot = this.slots.get(envelope.to.id);
    const instance = slot?.instance;
    // A message to an object that is down is lost, as a failed RPC is.
    if (slot === undefined || instance === undefined) return;
    this.whenRunning(slot, instance, () => instance.driver.raftMessages([envelope]));
  }

  // ---------------------------------------------------------------------------
  // The worker's view

  /** A worker isolate with its own route cache, talking to the cluster over the network. */
  worker(policy: RetryPolicy = this.policy): SimWorker {
    const router = new RegionRouter(
      {
        route: (key) => this.schedulerCall(() => this.scheduler.route(key)),
        peer: (peerId) => this.peerRpc(peerId),
        now: () => this.clock.now(),
        delay: (ms) => this.clock.delay(ms),
      },
      policy,
    );
    return { router, store: new RoutedRawStore(router) };
  }

  /** A PeerRpc stub: each call crosses the network to whatever incarnation of the peer is up. */
  peerRpc(peerId: number): PeerRpc {
    return {
      bootstrap: (peer, region) => this.rpc(peerId, { peer, region }, (d, a) => d.bootstrap(a.peer, a.region)),
      raftMessages: (batch) => this.rpc(peerId, batch, (d, a) => d.raftMessages(a)),
      write: (header, requests) => this.rpc(peerId, { header, requests }, (d, a) => d.write(a.header, a.requests)),
      read: (header, request) => this.rpc(peerId, { header, request }, (d, a) => d.read(a.header, a.request)),
    };
  }

  /**
   * One RPC: the request travels (or is lost), the live incarnation runs it,
   * the answer travels back (or is lost). A call that is lost never settles;
   * the router's timeout is what notices, as with a real stub.
   */
  private rpc<A, T>(peerId: number, args: A, invoke: (driver: PeerDriver, args: A) => Promise<T>): Promise<T> {
    const slot = this.slot(peerId);
    const store = slot.meta.storeId;
    // RPC serializes its arguments when sent: the callee works on its own copy.
    const sent = deepCopy(args);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (f: () => void) => {
        if (settled) return;
        settled = true;
        f();
      };
      const answer = (f: () => void) => {
        if (!this.network.rpcGetsThrough(store)) return;
        this.clock.setTimer(this.network.latency(), () => settle(f));
      };
      if (!this.network.rpcGetsThrough(store)) return;
      this.clock.setTimer(this.network.latency(), () => {
        const instance = slot.instance;
        if (instance === undefined) {
          // Nothing listens: the caller learns it at once (a refused connection), no loss.
          this.clock.setTimer(this.network.latency(), () => settle(() => reject(new PeerDownError(`peer ${peerId} is down`))));
          return;
        }
        const onCrash = () => {
          this.clock.setTimer(this.network.latency(), () =>
            settle(() => reject(new PeerCrashedError(`peer ${peerId} was reset during the call`))),
          );
        };
        instance.inFlight.add(onCrash);
        // A paused object takes the call when it resumes, if it was not reset meanwhile.
        const run = () =>
          invoke(instance.driver, sent).then(
            (value) => {
              // A dead incarnation never answers: its memory, promises included, is gone.
              if (!instance.inFlight.delete(onCrash)) return;
              const copy = deepCopy(value);
              answer(() => resolve(copy));
            },
            (e: unknown) => {
              // The driver threw: a broken invariant, not an expected outcome (those are values).
              instance.inFlight.delete(onCrash);
              this.clock.fail(e);
              settle(() => reject(e));
            },
          );
        this.whenRunning(slot, instance, run);
      });
    });
  }

  /** A call to the scheduler object: latency both ways; it is never partitioned away. */
  private schedulerCall<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.clock.setTimer(this.network.latency(), () => {
        try {
          const value = deepCopy(fn());
          this.clock.setTimer(this.network.latency(), () => resolve(value));
        } catch (e) {
          this.clock.fail(e);
          reject(e);
        }
      });
    });
  }

  // ---------------------------------------------------------------------------
  // Driving and checking

  /**
   * Runs the clock until `promise` settles (at most `maxMs`) and returns its
   * value. Awaiting a simulated operation without running the clock would
   * wait forever.
   */
  async settle<T>(promise: Promise<T>, maxMs: number, what: string): Promise<T> {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    promise.then(
      (value) => (outcome = { ok: true, value }),
      (error: unknown) => (outcome = { ok: false, error }),
    );
    await this.clock.runWhile(() => outcome === undefined, maxMs);
    if (outcome === undefined) throw new SimFailure(`${what} did not finish within ${maxMs} ms of simulated time`);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  /**
   * A peer applied these entries (in index order): each must be the entry
   * every other replica applied at that index, same term and bytes (Raft's
   * State Machine Safety). The first report of an index enters the history.
   */
  private recordApplied(peerId: number, entries: Entry[]): void {
    for (const e of entries) {
      const known = this.appliedHistory.get(e.index);
      if (known === undefined) {
        this.appliedHistory.set(e.index, e);
      } else if (known.term !== e.term || known.type !== e.type || !bytesEqual(known.data, e.data)) {
        throw new SimFailure(
          `peer ${peerId} applied entry ${e.index} of term ${e.term}, another peer applied one of term ${known.term} there`,
        );
      }
      this.stats.appliedMax = Math.max(this.stats.appliedMax, e.index);
    }
  }

  /** Every entry some peer applied, in index order; the history has no hole. */
  appliedEntries(): Entry[] {
    const indexes = [...this.appliedHistory.keys()].sort((a, b) => a - b);
    indexes.forEach((index, i) => {
      // A hole would mean entries were applied and deleted unseen: the
      // simulator's bookkeeping, not the cluster, would be wrong.
      assert(i === 0 || index === indexes[i - 1]! + 1, `applied history misses entry ${indexes[i - 1]! + 1}`);
    });
    return indexes.map((index) => this.appliedHistory.get(index)!);
  }

  /** A peer's raw key space, straight from its storage. */
  rawData(peerId: number): KvPair[] {
    return this.storage(peerId).scan('raw', {
      start: new Uint8Array(),
      end: new Uint8Array(),
      limit: Number.MAX_SAFE_INTEGER,
    });
  }

  /** True once every peer is up and has applied the same index. */
  converged(): boolean {
    const ids = this.peerIds();
    if (!ids.every((id) => this.isUp(id))) return false;
    const applied = ids.map((id) => this.storage(id).applyState().appliedIndex);
    return applied.every((a) => a === applied[0]);
  }

  /** Waits until all peers applied the same entries, then checks their data is identical. */
  async awaitConvergence(maxMs: number): Promise<void> {
    // Converged means equal applied indexes with a leader that has nothing
    // left to commit; a moment of equality during an election is not enough.
    const settledNow = () => this.converged() && this.leaders().length === 1 && this.leaderIsIdle();
    const done = await this.clock.runWhile(() => !settledNow(), maxMs);
    if (!done) {
      const view = this.peerIds()
        .map((id) => `peer ${id}: up=${this.isUp(id)} applied=${this.storage(id).applyState().appliedIndex} lead=${this.driver(id)?.status().isLeader}`)
        .join('; ');
      throw new SimFailure(`the peers did not converge within ${maxMs} ms: ${view}`);
    }
    const ids = this.peerIds();
    const reference = this.rawData(ids[0]!);
    for (const id of ids.slice(1)) {
      const data = this.rawData(id);
      const same =
        data.length === reference.length &&
        data.every((p, i) => bytesEqual(p.key, reference[i]!.key) && bytesEqual(p.value, reference[i]!.value));
      if (!same) throw new SimFailure(`peers ${ids[0]} and ${id} applied the same index but hold different data`);
    }
  }

  private leaderIsIdle(): boolean {
    const leader = this.leader();
    if (leader === undefined) return false;
    const storage = this.storage(leader);
    return storage.applyState().appliedIndex === storage.lastIndex();
  }

  private slot(peerId: number): PeerSlot {
    const slot = this.slots.get(peerId);
    assert(slot !== undefined, `no peer ${peerId} in the cluster`);
    return slot;
  }
}
