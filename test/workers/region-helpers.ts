// Helpers for the region tests on real PeerObjects: stubs, bounded polling,
// a small client that follows NotLeader hints and retries, and a look at
// each peer's SQLite from inside its object.

import { env } from 'cloudflare:workers';
import { afterEach } from 'vitest';
import { runInDurableObject } from 'cloudflare:test';
import type { PeerObject } from '../../src/objects/peer-object';
import { peerName } from '../../src/objects/peer-api';
import type { FaultSpec } from '../../src/store/faulty-transport';
import type { PeerStatus } from '../../src/store/peer-driver';
import type { RegionMeta } from '../../src/store/region';
import type { RegionError, RequestHeader, Result } from '../../src/store/requests';
import { fromUtf8, utf8 } from '../../src/util/bytes';

export type PeerStub = DurableObjectStub<PeerObject>;

/**
 * A fresh stub each time: a stub whose object was reset may be broken for
 * good, and a new one costs nothing.
 */
export function peerStub(peerId: number): PeerStub {
  return env.PEERS.get(env.PEERS.idFromName(peerName(peerId)));
}

/** A region whose peer i lives on store i + 1. Empty keys mean unbounded. */
export function makeRegion(id: number, peerIds: number[], startKey = '', endKey = ''): RegionMeta {
  return {
    id,
    startKey: utf8(startKey),
    endKey: utf8(endKey),
    epoch: { version: 1, confVer: 1 },
    peers: peerIds.map((peerId, i) => ({ id: peerId, storeId: i + 1 })),
  };
}

export async function bootstrapRegion(region: RegionMeta): Promise<void> {
  await Promise.all(region.peers.map((p) => peerStub(p.id).bootstrap(p, region)));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `what` if `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface PollOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns something other than undefined, and returns
 * that. On timeout, fails naming `what` and the last thing `describe` said
 * (or the last error the probe threw).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  describe: () => string,
  { timeoutMs = 15_000, intervalMs = 50 }: PollOptions = {},
): Promise<T> {
  const started = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      const found = await probe();
      if (found !== undefined) return found;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    const elapsed = Date.now() - started;
    if (elapsed >= timeoutMs) {
      const why = lastError === undefined ? describe() : `last probe threw ${errorText(lastError)}`;
      throw new Error(`timed out after ${elapsed} ms waiting for ${what}; ${why}`);
    }
    await sleep(intervalMs);
  }
}

export function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Each peer's status, or the error its call threw (an object being reset, say). */
export async function statuses(peerIds: number[]): Promise<Map<number, PeerStatus | Error>> {
  const answers = await Promise.all(
    peerIds.map((id) =>
      withTimeout(peerStub(id).status(), 5_000, `status of peer ${id}`).catch((e: unknown) =>
        e instanceof Error ? e : new Error(String(e)),
      ),
    ),
  );
  return new Map(peerIds.map((id, i) => [id, answers[i]!]));
}

export function describeStatuses(all: Map<number, PeerStatus | Error>): string {
  const parts: string[] = [];
  for (const [id, s] of all) {
    parts.push(
      s instanceof Error
        ? `peer ${id}: ${errorText(s)}`
        : `peer ${id}: ${s.isLeader ? 'LEADER' : 'follower'} term ${s.term} applied ${s.appliedIndex} leader ${s.leader?.id ?? '-'}`,
    );
  }
  return parts.join('; ');
}

/**
 * Waits until exactly one of `peerIds` is leader, and (when `settled`) every
 * other one of them follows it in the same term. Returns the leader's id.
 */
export async function waitForLeader(
  peerIds: number[],
  { exclude, settled = true, ...poll }: PollOptions & { exclude?: number; settled?: boolean } = {},
): Promise<number> {
  let last = new Map<number, PeerStatus | Error>();
  return waitFor(
    `exactly one leader among peers ${peerIds.join(', ')}${exclude === undefined ? '' : ` other than ${exclude}`}`,
    async () => {
      last = await statuses(peerIds);
      const leaders = [...last].filter(([, s]) => !(s instanceof Error) && s.isLeader);
      if (leaders.length !== 1) return undefined;
      const [leaderId, leader] = leaders[0]!;
      if (leaderId === exclude || leader instanceof Error) return undefined;
      if (settled) {
        for (const [id, s] of last) {
          if (id === leaderId) continue;
          if (s instanceof Error || s.term !== leader.term || s.leader?.id !== leaderId) return undefined;
        }
      }
      return leaderId;
    },
    () => describeStatuses(last),
    poll,
  );
}

/** Waits until every one of `peerIds` has applied at least `index`. */
export async function waitForApplied(peerIds: number[], index: number, poll: PollOptions = {}): Promise<void> {
  let last = new Map<number, PeerStatus | Error>();
  await waitFor(
    `peers ${peerIds.join(', ')} to apply index ${index}`,
    async () => {
      last = await statuses(peerIds);
      const behind = [...last.values()].some((s) => s instanceof Error || s.appliedIndex < index);
      return behind ? undefined : true;
    },
    () => describeStatuses(last),
    poll,
  );
}

export async function appliedIndex(peerId: number): Promise<number> {
  return (await peerStub(peerId).status()).appliedIndex;
}

/** The raw key space (cf 0) of one peer's kv table, read inside its object. */
export async function rawRows(peerId: number): Promise<Map<string, string>> {
  const rows = await runInDurableObject(peerStub(peerId), (_instance, state) =>
    state.storage.sql
      .exec<{ key: ArrayBuffer; value: ArrayBuffer }>('SELECT key, value FROM kv WHERE cf = 0 ORDER BY key')
      .toArray()
      .map((r) => [fromUtf8(new Uint8Array(r.key)), fromUtf8(new Uint8Array(r.value))] as const),
  );
  return new Map(rows);
}

/** Waits until `peerId`'s kv table holds every pair of `expected` (it may hold more). */
export async function waitForRows(peerId: number, expected: Map<string, string>, poll: PollOptions = {}): Promise<void> {
  let missing: string[] = [];
  await waitFor(
    `peer ${peerId}'s kv table to hold ${expected.size} acknowledged keys`,
    async () => {
      const rows = await rawRows(peerId);
      missing = [...expected].filter(([k, v]) => rows.get(k) !== v).map(([k]) => k);
      return missing.length === 0 ? true : undefined;
    },
    () => `${missing.length} missing or wrong, e.g. ${missing.slice(0, 5).join(', ')}`,
    poll,
  );
}

/** Sets the same faults on every peer (each filters its own outgoing messages). */
export async function setFaults(peerIds: number[], spec: FaultSpec): Promise<void> {
  await Promise.all(peerIds.map((id) => peerStub(id).setFaults(spec)));
}

/**
 * Stops a finished test's peers from ticking and talking, so they do not load
 * the machine under the tests that follow: cut every store off, then delete
 * the alarms. A tick already under way re-arms once, hence the loop. The
 * driver believes its ticker armed, so nothing re-arms it afterwards (a
 * restarted object would, from its constructor).
 */
export async function quiesce(peerIds: number[]): Promise<void> {
  await setFaults(peerIds, { partition: [] });
  await waitFor(
    `peers ${peerIds.join(', ')} to have no alarm`,
    async () => {
      const armed = await Promise.all(
        peerIds.map((id) =>
          runInDurableObject(peerStub(id), async (_instance, state) => {
            await state.storage.deleteAlarm();
            return state.storage.getAlarm();
          }),
        ),
      );
      if (armed.some((a) => a !== null)) return undefined;
      // Settled only if nothing re-armed a moment later.
      await sleep(250);
      const again = await Promise.all(
        peerIds.map((id) => runInDurableObject(peerStub(id), (_instance, state) => state.storage.getAlarm())),
      );
      return again.every((a) => a === null) ? true : undefined;
    },
    () => 'an alarm kept coming back',
    { timeoutMs: 5_000 },
  );
}

export function header(region: RegionMeta, peerId: number): RequestHeader {
  return { regionId: region.id, peerId, epoch: region.epoch };
}

export function regionErrorOf<T>(result: Result<T>): RegionError | undefined {
  return result.ok ? undefined : result.error;
}

export interface ClientOptions {
  /** Give up on one call after this long (a cut-off leader never answers). */
  attemptTimeoutMs?: number;
  /** Give up on the request after this long. */
  deadlineMs?: number;
}

/** What the client went through, for the test's report and assertions. */
export interface ClientStats {
  attempts: number;
  notLeader: number;
  thrown: number;
  timedOut: number;
  staleCommand: number;
  lastThrown: string | undefined;
}

/**
 * A client of one region, as the worker's router behaves: it sends to the
 * peer it believes leads, follows NotLeader hints, and on anything else
 * (a thrown call, a timeout, no hint) tries the next peer after a pause.
 * Region errors other than NotLeader and StaleCommand are returned at once:
 * the tests assert on them.
 */
export class RegionClient {
  readonly stats: ClientStats = {
    attempts: 0,
    notLeader: 0,
    thrown: 0,
    timedOut: 0,
    staleCommand: 0,
    lastThrown: undefined,
  };
  private next = 0;

  constructor(
    readonly region: RegionMeta,
    public leaderHint: number | undefined = undefined,
    private readonly options: ClientOptions = {},
  ) {}

  async put(key: string, value: string): Promise<Result<unknown>> {
    return this.call(`put ${key}`, (peerId) =>
      peerStub(peerId).write(header(this.region, peerId), [{ type: 'RawPut', key: utf8(key), value: utf8(value) }]),
    );
  }

  /** The value of `key`, undefined if absent. */
  async get(key: string): Promise<string | undefined> {
    const result = await this.call(`get ${key}`, (peerId) =>
      peerStub(peerId).read(header(this.region, peerId), { type: 'RawGet', key: utf8(key) }),
    );
    if (!result.ok) throw new Error(`get ${key}: ${JSON.stringify(result.error)}`);
    if (result.value.type !== 'RawGet') throw new Error(`get ${key}: answered ${result.value.type}`);
    return result.value.value === undefined ? undefined : fromUtf8(result.value.value);
  }

  private async call<T>(what: string, send: (peerId: number) => Promise<Result<T>>): Promise<Result<T>> {
    const { attemptTimeoutMs = 3_000, deadlineMs = 20_000 } = this.options;
    const started = Date.now();
    /** NotLeader hints followed in a row: hints can chase each other while an election runs. */
    let hops = 0;
    for (;;) {
      if (Date.now() - started > deadlineMs) {
        throw new Error(`${what}: no success within ${deadlineMs} ms (${JSON.stringify(this.stats)})`);
      }
      const target = this.leaderHint ?? this.region.peers[this.next++ % this.region.peers.length]!.id;
      this.stats.attempts++;
      let result: Result<T>;
      try {
        result = await withTimeout(send(target), attemptTimeoutMs, `${what} at peer ${target}`);
      } catch (e) {
        if (e instanceof Error && e.message.includes('no answer within')) this.stats.timedOut++;
        else this.stats.thrown++;
        this.stats.lastThrown = errorText(e);
        this.forget(target);
        await sleep(50);
        continue;
      }
      if (result.ok) {
        this.leaderHint = target;
        return result;
      }
      const error = result.error;
      if (error.type === 'NotLeader') {
        this.stats.notLeader++;
        const hint = error.leader?.id;
        if (hint !== undefined && hint !== target) {
          this.leaderHint = hint;
          if (++hops > 2) await sleep(25);
        } else {
          this.forget(target);
          await sleep(50);
        }
        continue;
      }
      hops = 0;
      if (error.type === 'StaleCommand') {
        this.stats.staleCommand++;
        this.forget(target);
        await sleep(20);
        continue;
      }
      return result;
    }
  }

  /** Stops sending to `peerId` first; the next attempt goes round the peers. */
  private forget(peerId: number): void {
    if (this.leaderHint === peerId) this.leaderHint = undefined;
    const i = this.region.peers.findIndex((p) => p.id === peerId);
    if (i >= 0) this.next = i + 1;
  }
}

/**
 * The peers the running test starts (`started.push(...ids)`), silenced after
 * it (cut off, alarms deleted) so they do not slow the next tests down. Call
 * once at the top level of a test file.
 */
export function quiesceAfterEach(): { push(...peerIds: number[]): void } {
  let started: number[] = [];
  afterEach(async () => {
    const peers = started;
    started = [];
    if (peers.length > 0) await quiesce(peers).catch(() => undefined);
  });
  return {
    push: (...peerIds) => {
      started.push(...peerIds);
    },
  };
}
