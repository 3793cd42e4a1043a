import { env } from 'cloudflare:workers';
import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SchedulerObject } from '../../src/index';
import type { Env } from '../../src/api/env';
import type { PeerMeta, RegionMeta } from '../../src/store/region';
import { utf8 } from '../../src/util/bytes';

// One object per test: the scheduler's name in production is `scheduler`;
// here every test gets a cluster of its own so the order of tests does not
// matter. The first test checks the production name.
function scheduler(name = `scheduler-${crypto.randomUUID()}`) {
  return env.SCHEDULER.get(env.SCHEDULER.idFromName(name));
}

type Stub = ReturnType<typeof scheduler>;

/** The bootstrap state as SQLite holds it, read inside the object. */
function persistedBootstrap(stub: Stub) {
  return runInDurableObject(stub, (_instance, state) => {
    const sql = state.storage.sql;
    const meta = new Map(
      sql.exec<{ key: string; value: number }>('SELECT key, value FROM meta').toArray().map((r) => [r.key, r.value]),
    );
    const plans = sql.exec<{ id: number; peers: string }>('SELECT id, peers FROM bootstrap_plan').toArray();
    return { meta, plans };
  });
}

/** How the fake peers behave; every call is recorded in `calls`. */
interface FakePeers {
  /** Peers whose bootstrap fails while their id is in here. */
  down: Set<number>;
  calls: number[];
  /** Each call waits for this before answering. */
  gate?: Promise<void>;
  /** Runs as each call arrives, before it answers. */
  onCall?: (peer: PeerMeta) => void;
}

/**
 * A stand-in for the PEERS namespace, so the tests drive the failure and
 * retry paths whatever the real PeerObject does.
 */
function fakePeers(fake: FakePeers): Env['PEERS'] {
  const namespace = {
    idFromName: (name: string) => name,
    get: () => ({
      bootstrap: async (peer: PeerMeta) => {
        fake.calls.push(peer.id);
        fake.onCall?.(peer);
        await fake.gate;
        if (fake.down.has(peer.id)) throw new Error(`peer ${peer.id} is down`);
      },
    }),
  };
  return namespace as unknown as Env['PEERS'];
}

/** A SchedulerObject over `stub`'s storage with fake peers, run inside that object. */
function withFakePeers<R>(
  stub: Stub,
  peers: Env['PEERS'],
  fn: (scheduler: SchedulerObject, state: DurableObjectState) => Promise<R>,
): Promise<R> {
  return runInDurableObject(stub, async (_instance, state) => {
    const fresh = new SchedulerObject(state, { ...env, PEERS: peers });
    await state.blockConcurrencyWhile(async () => {});
    return fn(fresh, state);
  });
}

const firstRegion: Omit<RegionMeta, 'peers'> = {
  id: 1,
  startKey: new Uint8Array(),
  endKey: new Uint8Array(),
  epoch: { version: 1, confVer: 1 },
};

describe('SchedulerObject.allocIds', () => {
  it('hands out increasing ids that survive a restart', async () => {
    const stub = scheduler('scheduler');
    const first = [...(await stub.allocIds(3)), ...(await stub.allocIds(2))];
    expect(first).toEqual([...first].sort((a, b) => a - b));
    expect(new Set(first).size).toBe(5);

    await evictDurableObject(stub); // memory gone, storage kept
    const second = await stub.allocIds(4);
    expect(second[0]!).toBeGreaterThan(Math.max(...first));

    // The saved bound covers everything handed out.
    const { meta } = await persistedBootstrap(stub);
    expect(meta.get('id_limit')!).toBeGreaterThan(Math.max(...second));
  });

  it('resumes above the saved bound in a fresh object over the same storage', async () => {
    const stub = scheduler();
    const before = await stub.allocIds(3);
    const after = await runInDurableObject(stub, async (_instance, state) => {
      const fresh = new SchedulerObject(state, env);
      // The constructor's load runs under blockConcurrencyWhile; wait for it.
      await state.blockConcurrencyWhile(async () => {});
      return fresh.allocIds(3);
    });
    expect(after[0]!).toBeGreaterThan(Math.max(...before));
  });
});

describe('SchedulerObject bootstrap', () => {
  it('route() answers with region 1 over all keys on stores 1-3, and the plan is persisted', async () => {
    const stub = scheduler();
    const route = await stub.route(utf8('any key'));
    expect(route.region).toMatchObject(firstRegion);
    expect(route.region.peers.map((p) => p.storeId)).toEqual([1, 2, 3]);
    expect(route.routingVersion).toBeGreaterThanOrEqual(1);

    // Whether or not the peers could be initialized, the plan is durable.
    const { meta, plans } = await persistedBootstrap(stub);
    expect(meta.get('bootstrapped')).toBe(1);
    expect(plans).toHaveLength(1);
    expect(plans[0]!.id).toBe(1);
    expect(JSON.parse(plans[0]!.peers)).toEqual(route.region.peers);
  });

  it('reports peer failures and retries them, keeping the same plan; or is done once all peers took it', async () => {
    const stub = scheduler();
    const { region } = await stub.route(utf8('a'));
    const status = await stub.ensureBootstrapped();
    expect(status.plan).toEqual(region);
    // Failures and initialized peers are exclusive, whichever way the peers answer.
    expect(status.peersInitialized).toBe(status.failures.length === 0);
    const { meta } = await persistedBootstrap(stub);
    expect(meta.get('peers_initialized') === 1).toBe(status.peersInitialized);

    // After a restart the same plan is carried on, never a second one.
    await evictDurableObject(stub);
    const again = await stub.ensureBootstrapped();
    expect(again.plan).toEqual(region);
    expect((await stub.route(utf8('zzz'))).region.peers).toEqual(region.peers);
    const { plans } = await persistedBootstrap(stub);
    expect(plans).toHaveLength(1);
  });

  it('keeps the plan when a peer fails, retries on the next call, and stops once all succeeded', async () => {
    const stub = scheduler();
    const down = new Set([3]);
    const calls: number[] = [];
    await withFakePeers(stub, fakePeers({ down, calls }), async (sched) => {
      const failed = await sched.ensureBootstrapped();
      expect(failed.peersInitialized).toBe(false);
      expect(failed.failures).toEqual(['peer 3: peer 3 is down']);
      expect(failed.plan?.peers.map((p) => p.id)).toEqual([2, 3, 4]);

      // route() still answers from the saved plan, retrying the peers on the way.
      expect((await sched.route(utf8('x'))).region).toEqual(failed.plan);
      expect(calls).toEqual([2, 3, 4, 2, 3, 4]);

      down.clear();
      const done = await sched.ensureBootstrapped();
      expect(done).toEqual({ plan: failed.plan, peersInitialized: true, failures: [] });
      await sched.route(utf8('x'));
      expect(calls).toHaveLength(9); // nothing asked once every peer confirmed
    });
    const { meta, plans } = await persistedBootstrap(stub);
    expect(meta.get('peers_initialized')).toBe(1);
    expect(plans).toHaveLength(1);
  });

  it('persists the plan before asking any peer, and a restart carries on with it', async () => {
    const stub = scheduler();
    const plansSeenByPeers: unknown[] = [];
    let sql: SqlStorage | undefined;
    const peers = fakePeers({
      down: new Set([2, 3, 4]),
      calls: [],
      onCall: () => plansSeenByPeers.push(sql?.exec('SELECT id FROM bootstrap_plan').toArray()),
    });
    await withFakePeers(stub, peers, async (sched, state) => {
      sql = state.storage.sql;
      await sched.ensureBootstrapped();
    });
    expect(plansSeenByPeers).toEqual([[{ id: 1 }], [{ id: 1 }], [{ id: 1 }]]);

    // A fresh object (as after a restart) finds the cluster bootstrapped and retries the same plan.
    const calls: number[] = [];
    await withFakePeers(stub, fakePeers({ down: new Set(), calls }), async (sched) => {
      const status = await sched.ensureBootstrapped();
      expect(status.peersInitialized).toBe(true);
      expect(status.plan?.peers.map((p) => p.id)).toEqual([2, 3, 4]);
      expect(calls).toEqual([2, 3, 4]);
    });
  });

  it('shares one attempt among calls that arrive while the peers are being asked', async () => {
    const stub = scheduler();
    const calls: number[] = [];
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    await withFakePeers(stub, fakePeers({ down: new Set(), calls, gate }), async (sched) => {
      const pending = [sched.route(utf8('a')), sched.regions(), sched.ensureBootstrapped()];
      open();
      await Promise.all(pending);
      expect(calls).toEqual([2, 3, 4]);
    });
  });

  it('makes no plan when leaders already reported regions (the cluster runs)', async () => {
    const stub = scheduler();
    const peers = [1, 2, 3].map((storeId) => ({ id: 70 + storeId, storeId }));
    const running: RegionMeta = { ...firstRegion, id: 7, peers };
    await stub.reportLeader(running, running.peers[0]!);
    const calls: number[] = [];
    await withFakePeers(stub, fakePeers({ down: new Set(), calls }), async (sched) => {
      expect(await sched.ensureBootstrapped()).toEqual({ plan: undefined, peersInitialized: true, failures: [] });
      expect((await sched.route(utf8('k'))).region).toEqual(running);
    });
    expect(calls).toEqual([]);
    const { meta, plans } = await persistedBootstrap(stub);
    expect(meta.get('bootstrapped')).toBe(1);
    expect(plans).toEqual([]);
  });

  it('bootstraps once under concurrent first calls', async () => {
    const stub = scheduler();
    const routes = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => stub.route(utf8(k))));
    for (const r of routes) expect(r.region).toEqual(routes[0]!.region);
    // Region 1 is fixed and the plan took the allocator's first three ids; nothing else was spent.
    expect(routes[0]!.region.peers.map((p) => p.id)).toEqual([2, 3, 4]);
    expect(await stub.allocIds(1)).toEqual([5]);
  });

  it('lists the regions in key order and finds one by id', async () => {
    const stub = scheduler();
    const all = await stub.regions();
    expect(all.map((r) => r.region.id)).toEqual([1]);
    expect((await stub.regionById(1))?.region).toEqual(all[0]!.region);
    expect(await stub.regionById(42)).toBeUndefined();
  });
});

describe('SchedulerObject.reportLeader', () => {
  it('records the region and its leader, ignores stale reports, and keeps both across a restart', async () => {
    const stub = scheduler();
    const { region } = await stub.route(utf8('k'));
    // A conf change replaced the third peer: confVer 2. Real peers may be
    // reporting at epoch 1/1 meanwhile; those are stale from here on.
    const newer: RegionMeta = {
      ...region,
      epoch: { version: 1, confVer: 2 },
      peers: [region.peers[0]!, region.peers[1]!, { id: 900, storeId: 4 }],
    };
    const leader = newer.peers[2]!;
    const before = (await stub.route(utf8('k'))).routingVersion;
    await stub.reportLeader(newer, leader);
    const after = await stub.route(utf8('k'));
    expect(after.region).toEqual(newer);
    expect(after.leader).toEqual(leader);
    expect(after.routingVersion).toBeGreaterThan(before);

    // A report from the old configuration changes nothing.
    await stub.reportLeader(region, region.peers[0]!);
    const unchanged = await stub.route(utf8('k'));
    expect(unchanged.region).toEqual(newer);
    expect(unchanged.leader).toEqual(leader);
    expect(unchanged.routingVersion).toBe(after.routingVersion);

    await evictDurableObject(stub);
    expect(await stub.route(utf8('k'))).toEqual(unchanged);
  });

  it('replaces the regions a newer report overlaps (a split reported half by half)', async () => {
    const stub = scheduler();
    const { region } = await stub.route(utf8('k'));
    const left: RegionMeta = { ...region, endKey: utf8('m'), epoch: { version: 2, confVer: 1 } };
    const [rightId, ...rightPeerIds] = await stub.allocIds(4);
    const right: RegionMeta = {
      id: rightId!,
      startKey: utf8('m'),
      endKey: new Uint8Array(),
      epoch: { version: 2, confVer: 1 },
      peers: region.peers.map((p, i) => ({ id: rightPeerIds[i]!, storeId: p.storeId })),
    };
    await stub.reportLeader(right, right.peers[0]!);
    await stub.reportLeader(left, left.peers[1]!);
    const all = await stub.regions();
    expect(all.map((r) => r.region)).toEqual([left, right]);
    expect((await stub.route(utf8('a'))).leader).toEqual(left.peers[1]);
    expect((await stub.route(utf8('m'))).leader).toEqual(right.peers[0]);
  });
});
