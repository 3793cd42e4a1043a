// Percolator's server commands and their outcomes. Write commands are
// proposed through the region's Raft log and executed at apply time on every
// replica, so they are deterministic: anything time-dependent (the "now" that
// decides whether a lock's TTL expired) travels inside the command. Reads are
// served by the leader after a ReadIndex round and do not enter the log.
//
// Expected outcomes (a lock in the way, a conflict, an aborted transaction)
// are values of these unions, because that is what crosses RPC and what the
// coordinator branches on; only a broken invariant throws.

import type { Lock } from './records';

// -----------------------------------------------------------------------------
// Requests

/**
 * One key of a transaction's write set. `lock` claims the key without
 * writing it (commits a 'lock' record, so a concurrent writer of the key
 * conflicts); `assert_not_exists` is a lock that also requires the key to
 * have no value at startTs. A put with `assertNotExists` is an insert.
 */
export type Mutation =
  | { op: 'put'; key: Uint8Array; value: Uint8Array; assertNotExists?: boolean }
  | { op: 'delete'; key: Uint8Array }
  | { op: 'lock'; key: Uint8Array }
  | { op: 'assert_not_exists'; key: Uint8Array };

/** Phase one of two-phase commit (Percolator §2.2, Prewrite): lock every key, all or none. */
export interface Prewrite {
  type: 'Prewrite';
  /** Distinct keys. */
  mutations: Mutation[];
  primary: Uint8Array;
  startTs: bigint;
  /** Milliseconds after startTs's physical time before others may roll the locks back. */
  lockTtl: number;
  /** Stored on every lock written; the txn then must commit at or after it. */
  minCommitTs?: bigint;
}

/**
 * One-phase commit of a transaction whose keys all live in this region: the
 * checks of prewrite, then commit records at commitTs directly, no locks.
 */
export interface PrewriteAndCommit {
  type: 'PrewriteAndCommit';
  mutations: Mutation[];
  startTs: bigint;
  /** > startTs. */
  commitTs: bigint;
}

/** Phase two (Percolator §2.2, Commit): replace each of the txn's locks with a commit record. */
export interface Commit {
  type: 'Commit';
  keys: Uint8Array[];
  startTs: bigint;
  /** > startTs. */
  commitTs: bigint;
}

/** Aborts the txn on these keys and leaves rollback records so that a late prewrite fails. */
export interface Rollback {
  type: 'Rollback';
  keys: Uint8Array[];
  startTs: bigint;
}

/**
 * Asked of a txn's primary key by whoever found one of its locks: is the
 * txn committed, rolled back or alive? Rolls back an expired (or missing)
 * primary, which decides the txn: this is the only place a txn can be
 * aborted by someone other than its coordinator (Percolator §2.2, the
 * primary lock as the synchronization point).
 */
export interface CheckTxnStatus {
  type: 'CheckTxnStatus';
  primary: Uint8Array;
  /** The txn's startTs (the lock's). */
  lockTs: bigint;
  /** The caller's now, a TSO timestamp: the lock expired if its physical ms - lockTs's >= ttl. */
  currentTs: bigint;
  /**
   * The startTs of the reader asking. When set and the lock is alive, the
   * lock's minCommitTs is pushed past it, so the reader can ignore the txn's
   * locks instead of waiting (TiKV's min_commit_ts push). tsMax: no push.
   */
  callerStartTs?: bigint;
}

/** Which locks a ResolveLock looks at. */
export type LockScope = { keys: Uint8Array[] } | { start: Uint8Array; end: Uint8Array };

/** Commits (commitTs > 0) or rolls back (commitTs = 0) every lock of one txn in scope. */
export interface ResolveLock {
  type: 'ResolveLock';
  startTs: bigint;
  /** The txn's commitTs as its primary says, or 0n to roll back. */
  commitTs: bigint;
  scope: LockScope;
  /** Lock rows examined per call in a range scope (locks of other txns count too). */
  limit: number;
}

/** Keeps a long transaction's primary lock alive. */
export interface TxnHeartbeat {
  type: 'TxnHeartbeat';
  primary: Uint8Array;
  startTs: bigint;
  /** The ttl wanted, measured from startTs like every lock ttl; the ttl never shrinks. */
  adviseTtl: number;
}

/** Drops versions no reader at or after safePoint can see, in [start, end). */
export interface Gc {
  type: 'Gc';
  safePoint: bigint;
  start: Uint8Array;
  /** Exclusive; empty means no upper bound. */
  end: Uint8Array;
  /** Write rows examined per call, >= 2 so that a key cut short always makes progress. */
  limit: number;
}

export interface TxnGet {
  type: 'TxnGet';
  key: Uint8Array;
  ts: bigint;
  /** Txns whose locks this reader may ignore: they are known to commit after ts, if at all. */
  bypassLocks?: bigint[];
}

export interface TxnScan {
  type: 'TxnScan';
  /** Inclusive. */
  start: Uint8Array;
  /** Exclusive; empty means no upper bound. */
  end: Uint8Array;
  limit: number;
  ts: bigint;
  /** Newest keys first, from end (exclusive) down to start (inclusive). */
  reverse?: boolean;
  bypassLocks?: bigint[];
}

export type TxnCommand = Prewrite | PrewriteAndCommit | Commit | Rollback | CheckTxnStatus | ResolveLock | TxnHeartbeat | Gc;
export type TxnRead = TxnGet | TxnScan;

// -----------------------------------------------------------------------------
// Outcomes

/** Another txn's lock is in the way; resolve it through `lock.primary` (checkTxnStatus). */
export interface KeyLocked {
  type: 'KeyLocked';
  key: Uint8Array;
  lock: Lock;
}

/** A txn committed a write to `key` at conflictTs >= our startTs: we must abort. */
export interface WriteConflict {
  type: 'WriteConflict';
  key: Uint8Array;
  startTs: bigint;
  conflictTs: bigint;
  conflictStartTs: bigint;
}

/** The txn was rolled back on `key` (its rollback record is there). */
export interface TxnAborted {
  type: 'TxnAborted';
  key: Uint8Array;
  startTs: bigint;
}

/** Neither the txn's lock nor its commit record is on `key`. */
export interface TxnLockNotFound {
  type: 'TxnLockNotFound';
  key: Uint8Array;
  startTs: bigint;
}

/** An assert_not_exists (or insert) found a value. */
export interface AlreadyExist {
  type: 'AlreadyExist';
  key: Uint8Array;
}

/** The txn is already committed on `key` (a rollback is refused; a late prewrite is moot). */
export interface AlreadyCommitted {
  type: 'AlreadyCommitted';
  key: Uint8Array;
  commitTs: bigint;
}

/** A reader pushed the lock's minCommitTs past commitTs; commit again with a newer commitTs. */
export interface CommitTsExpired {
  type: 'CommitTsExpired';
  key: Uint8Array;
  commitTs: bigint;
  minCommitTs: bigint;
}

/**
 * checkTxnStatus was pointed at a key that the txn locked as a secondary.
 * Deciding the txn there (rolling back one secondary on TTL expiry) would
 * let the real primary commit without it, so nothing is done.
 */
export interface PrimaryMismatch {
  type: 'PrimaryMismatch';
  key: Uint8Array;
  lock: Lock;
}

/** The request is malformed; nothing was read or written. */
export interface Invalid {
  type: 'Invalid';
  reason: string;
}

export interface Committed {
  type: 'Committed';
  commitTs: bigint;
}

export type PrewriteOutcome =
  | { type: 'Prewritten' }
  | KeyLocked
  | WriteConflict
  | TxnAborted
  | AlreadyExist
  | AlreadyCommitted
  | Invalid;

export type PrewriteAndCommitOutcome = Committed | KeyLocked | WriteConflict | TxnAborted | AlreadyExist | Invalid;

export type CommitOutcome = Committed | TxnAborted | TxnLockNotFound | CommitTsExpired | Invalid;

export type RollbackOutcome = { type: 'RolledBack' } | AlreadyCommitted | Invalid;

export type CheckTxnStatusOutcome =
  | Committed
  | {
      type: 'RolledBack';
      /** What this call did: rolled back an expired lock, left a rollback for a missing one, or nothing. */
      action: 'ttlExpireRollback' | 'lockNotExistRollback' | 'none';
    }
  | {
      type: 'Locked';
      /** The lock as it now is (ttl, and minCommitTs after any push). */
      lock: Lock;
      action: 'minCommitTsPushed' | 'none';
    }
  | PrimaryMismatch
  | Invalid;

export type ResolveLockOutcome =
  | {
      type: 'Resolved';
      /** Locks of the txn committed or rolled back by this call. */
      resolved: number;
      /** In a range scope: the limit cut the scan; call again from resumeKey. */
      more: boolean;
      resumeKey?: Uint8Array;
    }
  | CommitTsExpired
  | Invalid;

export type TxnHeartbeatOutcome = { type: 'LockTtl'; ttl: number } | TxnLockNotFound | Invalid;

export type GcOutcome =
  | {
      type: 'Collected';
      /** Write records removed (their values in `default` go with them). */
      deleted: number;
      /** The limit cut the pass; call again from resumeKey. */
      more: boolean;
      resumeKey?: Uint8Array;
    }
  | Invalid;

export type TxnGetOutcome = { type: 'Value'; value: Uint8Array | undefined } | KeyLocked | Invalid;

export type TxnScanOutcome =
  | {
      type: 'Pairs';
      pairs: { key: Uint8Array; value: Uint8Array }[];
      /**
       * The scan stopped before the end of its range (limit reached, or too
       * many keys examined); continue from resumeKey: the next start when
       * forward, the next (exclusive) end when reverse. May be true with
       * nothing left to return, when only deleted keys remain.
       */
      more: boolean;
      resumeKey?: Uint8Array;
    }
  | KeyLocked
  | Invalid;

/** The outcome type of each command, by its `type`. */
export interface TxnCommandOutcomes {
  Prewrite: PrewriteOutcome;
  PrewriteAndCommit: PrewriteAndCommitOutcome;
  Commit: CommitOutcome;
  Rollback: RollbackOutcome;
  CheckTxnStatus: CheckTxnStatusOutcome;
  ResolveLock: ResolveLockOutcome;
  TxnHeartbeat: TxnHeartbeatOutcome;
  Gc: GcOutcome;
}

export interface TxnReadOutcomes {
  TxnGet: TxnGetOutcome;
  TxnScan: TxnScanOutcome;
}

export type TxnCommandOutcome = TxnCommandOutcomes[keyof TxnCommandOutcomes];
export type TxnReadOutcome = TxnReadOutcomes[keyof TxnReadOutcomes];
