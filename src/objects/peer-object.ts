// The Durable Object shell of a region peer: SQLite is its storage, the
// alarm is its Raft ticker, RPC on other peers' stubs is its transport.
// Everything else is PeerDriver and Peer (src/store).

import { DurableObject } from 'cloudflare:workers';
import type { Env } from '../api/env';
import { type FaultSpec, FaultyTransport } from '../store/faulty-transport';
import type { ChangePeerRequest } from '../store/conf-change-apply';
import { raftLogGcCountLimitDefault } from '../store/log-gc';
import type { AdminResponse, RaftEnvelope, Transport } from '../store/peer';
import type { PeerSeed, SeedRow } from '../store/peer-seed';
import { PeerDriver, type PeerStatus } from '../store/peer-driver';
import type { PeerMeta, RegionMeta } from '../store/region';
import type {
  ReadRequest,
  ReadResponse,
  RequestHeader,
  Result,
  WriteRequest,
  WriteResponse,
} from '../store/requests';
import { assert } from '../util/assert';
import { type PeerAdminRpc, peerAdminStub, peerStub, schedulerStub } from './peer-api';
import { SqlitePeerStorage } from './sqlite-peer-storage';

/** The KV key (outside the SQL tables) remembering a removed peer's region. */
const tombstoneKey = 'tombstone';

/** Raft timing in ticks; a tick is TICK_MS (100 ms locally). */
const electionTicks = 10;
const heartbeatTicks = 2;

/** Sends each destination's messages in one RPC; loss is tolerated by Raft. */
class RpcTransport implements Transport {
  constructor(private readonly env: Env) {}

  send(envelopes: RaftEnvelope[]): void {
    const byPeer = new Map<number, RaftEnvelope[]>();
    for (const e of envelopes) {
      if (e.snapshotChunk !== undefined) {
        // A chunk is up to a megabyte: one RPC each keeps every payload bounded.
        peerStub(this.env, e.to.id)
          .raftMessages([e])
          .catch(() => undefined);
        continue;
      }
      const batch = byPeer.get(e.to.id);
      if (batch === undefined) byPeer.set(e.to.id, [e]);
      else batch.push(e);
    }
    // Fan out in parallel and never await a follower: a slow or evicted peer
    // must not hold up the others. A failed send is a lost message.
    for (const [peerId, batch] of byPeer) {
      peerStub(this.env, peerId)
        .raftMessages(batch)
        .catch(() => undefined);
    }
  }
}

export class PeerObject extends DurableObject<Env> implements PeerAdminRpc {
  private driver!: PeerDriver;
  /** Present only where the FAULT_INJECTION var is "on" (tests); never in a default deployment. */
  private readonly faults: FaultyTransport | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const tickMs = parsePositiveInt(env.TICK_MS, 100);
    const rpc = new RpcTransport(env);
    this.faults =
      env.FAULT_INJECTION === 'on'
        ? new FaultyTransport(rpc, { rand: Math.random, schedule: (fn, ms) => setTimeout(fn, ms) })
        : undefined;
    void ctx.blockConcurrencyWhile(async () => {
      this.driver = new PeerDriver(
        new SqlitePeerStorage(ctx.storage),
        this.faults ?? rpc,
        {
          electionTick: electionTicks,
          heartbeatTick: heartbeatTicks,
          rand: Math.random,
          raftLogGcCountLimit: parsePositiveInt(env.RAFT_LOG_GC_COUNT_LIMIT, raftLogGcCountLimitDefault),
        },
        {
          onBecomeLeader: (region, leader) => {
            schedulerStub(env)
              .reportLeader(region, leader)
              .catch(() => undefined);
          },
          // The routing table learns a member change from the leader that applied it.
          onRegionChanged: (region, leader) => {
            schedulerStub(env)
              .reportLeader(region, leader)
              .catch(() => undefined);
          },
          // Raft no longer talks to a removed peer; tell it directly (TiKV's tombstone message).
          onPeerRemoved: (region, removed) => {
            peerAdminStub(env, removed.id)
              .destroyIfRemoved(region)
              .catch(() => undefined);
          },
        },
        {
          defer: (fn) => setTimeout(fn, 0),
          armTicker: () => ctx.storage.setAlarm(Date.now() + tickMs),
          disarmTicker: () => ctx.storage.deleteAlarm(),
          requestSeed: (from, regionId, to) => peerAdminStub(env, from.id).seedFor(regionId, to.id),
          saveTombstone: (regionId) => ctx.storage.put(tombstoneKey, regionId),
          // A split's new peer lives in its own object (src/store/split.ts).
          splitHandoff: {
            reportSplit: (left, right) => schedulerStub(env).reportRegions([left, right]),
            initSplitPeer: (peer, region, rows) => peerAdminStub(env, peer.id).initFromSplit(peer, region, rows),
          },
        },
      );
      const tombstone = await ctx.storage.get<number>(tombstoneKey);
      if (tombstone !== undefined) this.driver.setTombstone(tombstone);
      // An alarm that came due while the server was down may never fire:
      // whenever durable state says this peer ticks, arm one now.
      await this.driver.start();
    });
  }

  bootstrap(peer: PeerMeta, region: RegionMeta): Promise<void> {
    return this.driver.bootstrap(peer, region);
  }

  raftMessages(batch: RaftEnvelope[]): Promise<void> {
    return this.driver.raftMessages(batch);
  }

  write(header: RequestHeader, requests: WriteRequest[]): Promise<Result<WriteResponse>> {
    return this.driver.write(header, requests);
  }

  read(header: RequestHeader, request: ReadRequest): Promise<Result<ReadResponse>> {
    return this.driver.read(header, request);
  }

  changePeer(header: RequestHeader, admin: ChangePeerRequest): Promise<Result<AdminResponse>> {
    return this.driver.changePeer(header, admin);
  }

  transferLeader(header: RequestHeader, toPeerId: number): Promise<Result<null>> {
    return this.driver.transferLeader(header, toPeerId);
  }

  split(header: RequestHeader, splitKey: Uint8Array, newRegionId: number, newPeerIds: number[]): Promise<Result<AdminResponse>> {
    return this.driver.split(header, splitKey, newRegionId, newPeerIds);
  }

  initFromSplit(peer: PeerMeta, region: RegionMeta, rows: SeedRow[]): Promise<boolean> {
    return this.driver.initFromSplit(peer, region, rows);
  }

  async seedFor(regionId: number, forPeer: number): Promise<PeerSeed | undefined> {
    return this.driver.seedFor(regionId, forPeer);
  }

  destroyIfRemoved(region: RegionMeta): Promise<boolean> {
    return this.driver.destroyIfRemoved(region);
  }

  async status(): Promise<PeerStatus> {
    return this.driver.status();
  }

  /** Test-only: make this peer's outgoing messages misbehave. */
  async setFaults(spec: FaultSpec): Promise<void> {
    assert(this.faults !== undefined, 'fault injection is disabled in this deployment');
    this.faults.setFaults(spec);
  }

  override alarm(): Promise<void> {
    return this.driver.tick();
  }
}

function parsePositiveInt(text: string | undefined, fallback: number): number {
  const n = Number(text);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}
