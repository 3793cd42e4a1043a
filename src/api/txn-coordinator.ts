// The Percolator coordinator (Percolator §2.2; TiKV's client-go 2PC), run in
// the worker. A transaction reads at startTs from the TSO and writes at
// commit: its keys are grouped by region, every region's keys are prewritten
// (locked) in parallel, commitTs comes from the TSO, the primary key is
// committed (the commit point), and the secondaries are committed in the
// background. A transaction whose keys all live in one region commits in
// one command (1PC). Readers that meet a lock settle it through the lock's
// primary: committed -> roll the lock forward, dead -> roll it back, alive
// -> push its minCommitTs past the reader (TiKV's min_commit_ts push) or
// wait for it.
//
// The coordinator keeps no state between calls, so a worker that dies
// halfway leaves only locks, which readers resolve; that is what makes
// "commit in the background" and "repeat the commit" safe.

import type {
  KeyLocked,
  Lock,
  Mutation,
  PrewriteOutcome,
  RollbackOutcome,
} from '../percolator';
import { isTimestamp, physicalMs } from '../percolator';
import type { KvPair } from '../store/peer-storage';
import { assert } from '../util/assert';
import { bytesEqual, bytesKey, compareBytes } from '../util/bytes';
import {
  invalidArgument,
  KeyLockedError,
  TxnAbortedError,
  WriteConflictError,
} from './errors';
import type { TxnRegionClient } from './txn-region-client';
import type { TxnMutation, TxnStore } from './txn-store';

/** Every bound and wait of the coordinator, units last. */
export interface TxnCoordinatorConfig {
  /** How long a lock lives past the prewrite before others may roll it back. */
  lockTtlMs: number;
  /** The longest one read or one prewrite batch waits for live locks before answering KEY_LOCKED. */
  lockWaitMaxMs: number;
  backoffStartMs: number;
  backoffMaxMs: number;
  /** Rounds of "meet a lock, settle it, try again" one read or one batch may go through. */
  lockRoundsMax: number;
  /** Fresh commitTs tried when readers keep pushing the primary's minCommitTs. */
  commitTsAttemptsMax: number;
  /** Single-key reads in flight at once for one multi-key get. */
  readConcurrencyMax: number;
  /** Region calls one scan may make (regions crossed plus resumed pages plus settled locks). */
  scanCallsMax: number;
  /** Attempts of a single-key put or delete that lost a write conflict (a blind write may simply retry). */
  singleKeyAttemptsMax: number;
}

export const defaultTxnCoordinatorConfig: TxnCoordinatorConfig = {
  lockTtlMs: 3_000,
  // A live lock lasts at most its TTL unless heart-beaten, so waiting a bit
  // longer than one TTL lets a dead coordinator's lock expire and be rolled
  // back rather than failing the reader.
  lockWaitMaxMs: 4_000,
  backoffStartMs: 10,
  backoffMaxMs: 500,
  lockRoundsMax: 32,
  commitTsAttemptsMax: 4,
  readConcurrencyMax: 64,
  scanCallsMax: 2_048,
  singleKeyAttemptsMax: 3,
};

/**
 * Counts for the metrics issue (API.md: regionkv_txn_commits_total,
 * regionkv_txn_conflicts_total, regionkv_txn_lock_resolutions_total).
 * Plain numbers that only grow; whoever exports them reads them.
 */
export interface TxnCounters {
  /** Transactions committed (1PC and 2PC), repeats of an already committed one included. */
  commits: number;
  /** Of which committed in one phase. */
  onePhaseCommits: number;
  /** Commits refused with WRITE_CONFLICT. */
  conflicts: number;
  /** Commits refused with TXN_ABORTED. */
  aborts: number;
  /** Locks of other transactions rolled forward or back by this worker (ResolveLock or the primary's own status). */
  lockResolutions: number;
  /** Live locks a reader got past by pushing the owner's minCommitTs. */
  minCommitTsPushes: number;
  /** Backoff sleeps spent waiting for a live lock. */
  lockWaits: number;
}

export function newTxnCounters(): TxnCounters {
  return { commits: 0, onePhaseCommits: 0, conflicts: 0, aborts: 0, lockResolutions: 0, minCommitTsPushes: 0, lockWaits: 0 };
}

/** The process-wide counters that coordinators count into unless given their own. */
export const txnCounters: TxnCounters = newTxnCounters();

export interface TxnCoordinatorDeps {
  regions: TxnRegionClient;
  /** A fresh TSO timestamp (TsoClient.getTimestamp in the worker). */
  timestamp: () => Promise<bigint>;
  /** Wall-clock ms, to size lock TTLs (which count from startTs's physical time). */
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  /**
   * Keeps work going after the answer (ctx.waitUntil in the worker). The
   * promise never rejects: failures there are left for readers to resolve.
   */
  background: (work: Promise<void>) => void;
  counters?: TxnCounters;
}

/** How a lock met by a read or a prewrite was settled. */
type Settled =
  /** Rolled forward or back: try again. */
  | 'resolved'
  /** Alive, but it now commits after the reader's ts, if at all: read past it. */
  | 'bypass'
  /** Alive and in the way: wait. */
  | 'alive';

/** One batch of a transaction: the mutations that live in one region. */
type Batch = Mutation[];

/** The outcome of prewriting one batch, after settling the locks in its way. */
type BatchOutcome = Exclude<PrewriteOutcome, { type: 'Invalid' }>;

export class TxnCoordinator implements TxnStore {
  private readonly regions: TxnRegionClient;
  private readonly counters: TxnCounters;

  constructor(
    private readonly deps: TxnCoordinatorDeps,
    private readonly config: TxnCoordinatorConfig = defaultTxnCoordinatorConfig,
  ) {
    for (const [name, value] of Object.entries(config)) {
      assert(
        Number.isSafeInteger(value) && value >= 1,
        `txn coordinator ${name} must be a positive integer, got ${String(value)}`,
      );
    }
    this.regions = deps.regions;
    this.counters = deps.counters ?? txnCounters;
  }

  // ---------------------------------------------------------------------------
  // TxnStore

  begin(): Promise<bigint> {
    return this.timestamp();
  }

  async get(startTs: bigint, keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]> {
    assertStartTs(startTs);
    return mapBounded(keys, this.config.readConcurrencyMax, (key) => this.readKey(startTs, key));
  }

  async scan(
    startTs: bigint,
    start: Uint8Array,
    end: Uint8Array,
    limit: number,
    reverse: boolean,
  ): Promise<{ pairs: KvPair[]; more: boolean }> {
    assertStartTs(startTs);
    assert(Number.isSafeInteger(limit) && limit >= 1, `scan limit ${limit} must be a positive integer`);
    // One pair more than wanted: finding it is how we know there is more.
    const wanted = limit + 1;
    const pairs: KvPair[] = [];
    const bypass: bigint[] = [];
    const wait = this.lockWait();
    // The keys still to visit are [lower, upper); upper empty: unbounded.
    let lower = start;
    let upper = end;
    let lockRounds = 0;
    for (let calls = 0; calls < this.config.scanCallsMax; calls++) {
      if (upper.length > 0 && compareBytes(lower, upper) >= 0) break;
      const { outcome, region } = await this.regions.scanRegion({
        type: 'TxnScan',
        start: lower,
        end: upper,
        limit: wanted - pairs.length,
        ts: startTs,
        reverse,
        ...(bypass.length > 0 ? { bypassLocks: [...bypass] } : {}),
      });
      switch (outcome.type) {
        case 'Invalid':
          throw new Error(`the region refused a scan as invalid: ${outcome.reason}`);
        case 'KeyLocked':
          if (++lockRounds > this.config.lockRoundsMax) throw new KeyLockedError(outcome.key, outcome.lock.startTs);
          await this.settleForRead(outcome, startTs, bypass, wait);
          continue;
        case 'Pairs':
          break;
      }
      assert(outcome.pairs.length <= wanted - pairs.length, 'a region scan returned more pairs than asked');
      pairs.push(...outcome.pairs);
      if (pairs.length >= wanted) break;
      if (outcome.more) {
        assert(outcome.resumeKey !== undefined, 'a scan cut short must say where to resume');
        if (reverse) upper = outcome.resumeKey;
        else lower = outcome.resumeKey;
        continue;
      }
      // This region is done; go on to the next one unless it was the last in the range.
      if (reverse) {
        if (region.startKey.length === 0 || compareBytes(region.startKey, lower) <= 0) return done(pairs, limit);
        upper = region.startKey;
      } else {
        if (region.endKey.length === 0 || (upper.length > 0 && compareBytes(region.endKey, upper) >= 0)) {
          return done(pairs, limit);
        }
        lower = region.endKey;
      }
    }
    // Out of calls with the range unfinished: say "more" so the client goes
    // on from the last key, rather than pretend the range ended.
    if (pairs.length < wanted && !(upper.length > 0 && compareBytes(lower, upper) >= 0)) {
      return { pairs: pairs.slice(0, limit), more: true };
    }
    return done(pairs, limit);
  }

  async commit(startTs: bigint, mutations: readonly TxnMutation[]): Promise<bigint | null> {
    assertStartTs(startTs);
    if (mutations.length === 0) return null;
    const byKey = new Map<string, Mutation>();
    for (const m of mutations) {
      const id = bytesKey(m.key);
      // Percolator locks a key once per transaction; two mutations of one key
      // have no single meaning (does an assert come before or after a put?).
      if (byKey.has(id)) throw invalidArgument('a key appears in more than one mutation; send each key once');
      byKey.set(id, toPercolator(m));
    }
    const keys = [...byKey.values()].map((m) => m.key);
    const groups = await this.regions.groupByRegion(keys);
    const batches = groups.map((group) =>
      group.map((key) => {
        const m = byKey.get(bytesKey(key));
        assert(m !== undefined, 'groupByRegion answered a key that was not asked');
        return m;
      }),
    );
    assert(
      batches.reduce((n, b) => n + b.length, 0) === keys.length,
      'groupByRegion must put every key in exactly one group',
    );
    // The smallest key: any key would do, but a deterministic choice makes
    // a repeated commit pick the same primary, which its idempotence needs.
    const primary = keys.reduce((a, b) => (compareBytes(a, b) <= 0 ? a : b));
    if (batches.length === 1) {
      const committed = await this.commitOnePhase(startTs, batches[0]!);
      if (committed !== undefined) return committed;
    }
    return this.commitTwoPhase(startTs, batches, primary);
  }

  async getLatest(key: Uint8Array): Promise<Uint8Array | null> {
    const ts = await this.timestamp();
    const [value] = await this.get(ts, [key]);
    assert(value !== undefined, 'get answers one value per key');
    return value;
  }

  put(key: Uint8Array, value: Uint8Array): Promise<bigint> {
    return this.writeOne({ op: 'put', key, value });
  }

  delete(key: Uint8Array): Promise<bigint> {
    return this.writeOne({ op: 'delete', key });
  }

  // ---------------------------------------------------------------------------
  // Commit

  /** A blind single-key write: it read nothing, so losing a conflict only means trying again with a new startTs. */
  private async writeOne(m: TxnMutation): Promise<bigint> {
    for (let attempt = 1; ; attempt++) {
      const startTs = await this.timestamp();
      try {
        const commitTs = await this.commit(startTs, [m]);
        assert(commitTs !== null, 'a write commits at a timestamp');
        return commitTs;
      } catch (err) {
        if (!(err instanceof WriteConflictError) || attempt >= this.config.singleKeyAttemptsMax) throw err;
      }
    }
  }

  /**
   * 1PC: one PrewriteAndCommit in the batch's region. Answers undefined when
   * two-phase commit must take over (the keys split across regions, or this
   * startTs already holds locks from a two-phase try).
   */
  private async commitOnePhase(startTs: bigint, batch: Batch): Promise<bigint | undefined> {
    const wait = this.lockWait();
    let lastLock: KeyLocked | undefined;
    for (let round = 0; round < this.config.lockRoundsMax; round++) {
      // Through commitOnePhase, so the region can raise it above the reads it served (see TxnRegionClient).
      const commitTs = await this.commitTimestamp(startTs);
      const out = await this.regions.commitOnePhase({ type: 'PrewriteAndCommit', mutations: batch, startTs, commitTs });
      switch (out.type) {
        case 'Committed':
          assert(out.commitTs > startTs, `1PC committed at ${out.commitTs}, not after startTs ${startTs}`);
          this.counters.commits++;
          this.counters.onePhaseCommits++;
          return out.commitTs;
        case 'NotOneRegion':
          return undefined;
        case 'KeyLocked':
          if (out.lock.startTs === startTs) return undefined;
          lastLock = out;
          if ((await this.settleLock(out.key, out.lock, undefined)) === 'alive' && !(await wait.backoff())) {
            throw new KeyLockedError(out.key, out.lock.startTs);
          }
          continue;
        case 'Invalid':
          throw new Error(`the region refused a one-phase commit as invalid: ${out.reason}`);
        default:
          throw this.refusal(out);
      }
    }
    assert(lastLock !== undefined, 'only locks make a one-phase commit go round');
    throw new KeyLockedError(lastLock.key, lastLock.lock.startTs);
  }

  private async commitTwoPhase(startTs: bigint, batches: Batch[], primary: Uint8Array): Promise<bigint> {
    // Lock TTLs count from startTs's physical time (txn-status.ts), so a
    // transaction that read for a while gets that time on top of the TTL;
    // otherwise its locks would be born expired.
    const lockTtl = Math.max(0, this.deps.now() - physicalMs(startTs)) + this.config.lockTtlMs;
    const results = await Promise.allSettled(batches.map((batch) => this.prewriteBatch(batch, startTs, primary, lockTtl)));

    let failure: unknown;
    for (const result of results) {
      if (result.status === 'rejected') {
        failure ??= result.reason;
        continue;
      }
      const out = result.value;
      // A commit record of ours: a repeated commit whose first try went
      // through. Secondary commit records are only written after the primary
      // committed, so any one of them means the whole txn committed.
      if (out.type === 'AlreadyCommitted') return this.finishCommitted(startTs, batches, primary, out.commitTs);
      if (out.type !== 'Prewritten') failure ??= this.refusal(out);
    }
    if (failure !== undefined) {
      const committedTs = await this.rollback(startTs, batches, primary);
      if (committedTs !== undefined) return this.finishCommitted(startTs, batches, primary, committedTs);
      throw failure;
    }

    // Every key is locked: commit the primary, the point of no return.
    let commitTs = await this.commitTimestamp(startTs);
    for (let attempt = 1; ; attempt++) {
      // A throw here (region unavailable) leaves the outcome unknown: the
      // primary may have committed. The locks stay for readers to settle and
      // the client may repeat the commit, which finds out.
      const out = await this.regions.command({ type: 'Commit', keys: [primary], startTs, commitTs });
      switch (out.type) {
        case 'Committed':
          return this.finishCommitted(startTs, batches, primary, out.commitTs);
        case 'CommitTsExpired':
          // A reader pushed the primary's minCommitTs past commitTs so that
          // it could read past our locks: commit later than that reader.
          if (attempt < this.config.commitTsAttemptsMax) {
            commitTs = await this.commitTimestamp(startTs);
            continue;
          }
          await this.rollback(startTs, batches, primary);
          this.counters.aborts++;
          throw new TxnAbortedError('readers kept pushing the commit timestamp; retry with a new transaction', primary);
        case 'TxnAborted':
        case 'TxnLockNotFound':
          // A reader found our primary lock expired and rolled it back.
          this.deps.background(this.rollbackQuietly(startTs, batches));
          this.counters.aborts++;
          throw new TxnAbortedError(
            'the transaction was rolled back before it committed (its locks expired); retry with a new transaction',
            primary,
          );
        case 'Invalid':
          throw new Error(`the region refused the primary's commit as invalid: ${out.reason}`);
      }
    }
  }

  /** The txn is committed at commitTs: roll the secondaries forward in the background and answer commitTs. */
  private finishCommitted(startTs: bigint, batches: Batch[], primary: Uint8Array, commitTs: bigint): bigint {
    this.counters.commits++;
    const secondaries = batches
      .map((batch) => batch.map((m) => m.key).filter((key) => !bytesEqual(key, primary)))
      .filter((keys) => keys.length > 0);
    const work = Promise.allSettled(
      secondaries.map((keys) => this.regions.command({ type: 'Commit', keys, startTs, commitTs })),
    ).then(() => undefined);
    this.deps.background(work);
    return commitTs;
  }

  /**
   * Prewrites one batch, settling the locks of other transactions in its way
   * and trying again, at most lockRoundsMax times. Only this batch is sent
   * again: the others' prewrites run on their own.
   */
  private async prewriteBatch(batch: Batch, startTs: bigint, primary: Uint8Array, lockTtl: number): Promise<BatchOutcome> {
    const wait = this.lockWait();
    let last: BatchOutcome | undefined;
    for (let round = 0; round < this.config.lockRoundsMax; round++) {
      const out = await this.regions.command({ type: 'Prewrite', mutations: batch, primary, startTs, lockTtl });
      if (out.type === 'Invalid') throw new Error(`the region refused a prewrite as invalid: ${out.reason}`);
      if (out.type !== 'KeyLocked') return out;
      last = out;
      // A writer does not push minCommitTs: it needs the key itself, so it waits.
      if ((await this.settleLock(out.key, out.lock, undefined)) === 'alive' && !(await wait.backoff())) return out;
    }
    assert(last !== undefined, 'only locks make a prewrite go round');
    return last;
  }

  /**
   * Rolls the transaction back: the primary first, because once it holds a
   * rollback record the txn can never commit, and only then is it safe to
   * remove the secondaries' locks. Answers a commitTs instead if the primary
   * turns out committed (a concurrent repeat of this commit won).
   */
  private async rollback(startTs: bigint, batches: Batch[], primary: Uint8Array): Promise<bigint | undefined> {
    let decided: RollbackOutcome;
    try {
      decided = await this.regions.command({ type: 'Rollback', keys: [primary], startTs });
    } catch {
      // Unreachable primary: leave the locks to readers, who settle them
      // through the primary once it answers again.
      return undefined;
    }
    if (decided.type === 'AlreadyCommitted') return decided.commitTs;
    await this.rollbackQuietly(startTs, batches);
    return undefined;
  }

  /** Best effort: a lock left behind expires and is rolled back by whoever meets it. */
  private async rollbackQuietly(startTs: bigint, batches: Batch[]): Promise<void> {
    await Promise.allSettled(
      batches.map((batch) => this.regions.command({ type: 'Rollback', keys: batch.map((m) => m.key), startTs })),
    );
  }

  /** The API error for a prewrite that cannot succeed. */
  private refusal(out: Exclude<BatchOutcome, { type: 'Prewritten' | 'AlreadyCommitted' }>): Error {
    switch (out.type) {
      case 'WriteConflict':
        this.counters.conflicts++;
        return new WriteConflictError(out.key, out.conflictTs);
      case 'KeyLocked':
        return new KeyLockedError(out.key, out.lock.startTs);
      case 'TxnAborted':
        this.counters.aborts++;
        return new TxnAbortedError('the transaction was rolled back; retry with a new transaction', out.key);
      case 'AlreadyExist':
        this.counters.aborts++;
        return new TxnAbortedError('assert_not_exists failed: the key has a value; the transaction was rolled back', out.key, {
          reason: 'ALREADY_EXISTS',
        });
    }
  }

  /** A fresh TSO timestamp to commit at, which must lie after startTs. */
  private async commitTimestamp(startTs: bigint): Promise<bigint> {
    const ts = await this.timestamp();
    // A startTs from the future was not handed out by begin: refuse it
    // rather than commit "before" the transaction started.
    if (ts <= startTs) throw invalidArgument(`startTs ${startTs} is newer than the timestamp oracle; use one from /v1/txn/begin`);
    return ts;
  }

  // ---------------------------------------------------------------------------
  // Reads and locks

  private async readKey(startTs: bigint, key: Uint8Array): Promise<Uint8Array | null> {
    const bypass: bigint[] = [];
    const wait = this.lockWait();
    let last: KeyLocked | undefined;
    for (let round = 0; round <= this.config.lockRoundsMax; round++) {
      const out = await this.regions.get({
        type: 'TxnGet',
        key,
        ts: startTs,
        ...(bypass.length > 0 ? { bypassLocks: [...bypass] } : {}),
      });
      switch (out.type) {
        case 'Value':
          return out.value ?? null;
        case 'Invalid':
          throw new Error(`the region refused a read as invalid: ${out.reason}`);
        case 'KeyLocked':
          last = out;
          await this.settleForRead(out, startTs, bypass, wait);
          continue;
      }
    }
    assert(last !== undefined, 'only locks make a read go round');
    throw new KeyLockedError(last.key, last.lock.startTs);
  }

  /** Settles a lock met by a read at startTs; throws KEY_LOCKED once waiting is over. */
  private async settleForRead(locked: KeyLocked, startTs: bigint, bypass: bigint[], wait: LockWait): Promise<void> {
    const settled = await this.settleLock(locked.key, locked.lock, startTs);
    if (settled === 'bypass') bypass.push(locked.lock.startTs);
    else if (settled === 'alive' && !(await wait.backoff())) throw new KeyLockedError(locked.key, locked.lock.startTs);
  }

  /**
   * Asks the lock's primary what became of its transaction (Percolator §2.2)
   * and makes the lock on `key` agree. callerStartTs: a reader's startTs, to
   * push a live transaction's minCommitTs past it; undefined for a writer,
   * which needs the key itself and can only wait.
   */
  private async settleLock(key: Uint8Array, lock: Lock, callerStartTs: bigint | undefined): Promise<Settled> {
    const status = await this.regions.command({
      type: 'CheckTxnStatus',
      primary: lock.primary,
      lockTs: lock.startTs,
      currentTs: await this.timestamp(),
      ...(callerStartTs !== undefined ? { callerStartTs } : {}),
    });
    switch (status.type) {
      case 'Committed':
        await this.resolve(key, lock, status.commitTs);
        return 'resolved';
      case 'RolledBack':
        await this.resolve(key, lock, 0n);
        return 'resolved';
      case 'Locked':
        if (callerStartTs !== undefined && status.lock.minCommitTs !== undefined && status.lock.minCommitTs > callerStartTs) {
          this.counters.minCommitTsPushes++;
          return 'bypass';
        }
        return 'alive';
      case 'PrimaryMismatch':
        // The lock names as its primary a key the txn locked as a secondary:
        // its records are inconsistent, and deciding either way could break
        // atomicity, so this is a bug to report, not a state to act on.
        throw new Error(`lock of txn ${lock.startTs} names a primary that holds a secondary lock of it`);
      case 'Invalid':
        throw new Error(`the region refused CheckTxnStatus as invalid: ${status.reason}`);
    }
  }

  /** Rolls the lock of txn `lock.startTs` on key forward (commitTs > 0) or back (0). */
  private async resolve(key: Uint8Array, lock: Lock, commitTs: bigint): Promise<void> {
    this.counters.lockResolutions++;
    // CheckTxnStatus already settled the primary itself.
    if (bytesEqual(key, lock.primary)) return;
    const out = await this.regions.command({
      type: 'ResolveLock',
      startTs: lock.startTs,
      commitTs,
      scope: { keys: [key] },
      limit: 1,
    });
    if (out.type === 'Invalid') throw new Error(`the region refused ResolveLock as invalid: ${out.reason}`);
    // Secondary locks carry no minCommitTs of their own (pushes go to the primary), so this cannot refuse.
    assert(out.type === 'Resolved', `resolving a lock of txn ${lock.startTs} gave ${out.type}`);
  }

  private lockWait(): LockWait {
    return new LockWait(this.config, this.deps.sleep, () => this.counters.lockWaits++);
  }

  private async timestamp(): Promise<bigint> {
    const ts = await this.deps.timestamp();
    assert(isTimestamp(ts), `the timestamp oracle answered ${String(ts)}`);
    return ts;
  }
}

/** Backoff for one read or one batch waiting on live locks, bounded in total time. */
class LockWait {
  /** Time slept so far. Invariant: waitedMs <= config.lockWaitMaxMs. */
  private waitedMs = 0;
  private nextMs: number;

  constructor(
    private readonly config: TxnCoordinatorConfig,
    private readonly sleep: (ms: number) => Promise<void>,
    private readonly onWait: () => void,
  ) {
    this.nextMs = config.backoffStartMs;
  }

  /** Sleeps before the next try; false when the time to wait is used up. */
  async backoff(): Promise<boolean> {
    const left = this.config.lockWaitMaxMs - this.waitedMs;
    if (left <= 0) return false;
    const ms = Math.min(this.nextMs, left);
    this.onWait();
    await this.sleep(ms);
    this.waitedMs += ms;
    this.nextMs = Math.min(this.nextMs * 2, this.config.backoffMaxMs);
    return true;
  }
}

function toPercolator(m: TxnMutation): Mutation {
  switch (m.op) {
    case 'put':
      return { op: 'put', key: m.key, value: m.value };
    case 'delete':
      return { op: 'delete', key: m.key };
    case 'assert_not_exists':
      return { op: 'assert_not_exists', key: m.key };
  }
}

function assertStartTs(startTs: bigint): void {
  if (!isTimestamp(startTs)) throw invalidArgument(`startTs ${String(startTs)} is not a u64 timestamp`);
}

function done(pairs: KvPair[], limit: number): { pairs: KvPair[]; more: boolean } {
  return { pairs: pairs.slice(0, limit), more: pairs.length > limit };
}

/** fn over every item, at most `concurrency` at once, answers in item order. */
async function mapBounded<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
