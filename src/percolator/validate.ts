// Checks of a command's shape and meaning. They run where a command enters
// (the peer, before proposing: a bad command is answered at once and never
// reaches the log), when it is encoded and decoded for the log, and again
// when it executes, where a bad command becomes an `Invalid` outcome on every
// replica alike instead of an exception that would stop them all.
//
// They take `unknown` because commands cross RPC and the log, where types
// are promises, not facts.

import { bytesKey } from '../util/bytes';
import type { TxnCommand, TxnRead } from './commands';
import { isTimestamp } from './timestamp';

type Fields = Record<string, unknown>;

function isFields(x: unknown): x is Fields {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
}

/** A user key: non-empty, since an empty key means "unbounded" in scan ranges. */
function checkKey(x: unknown, what: string): string | undefined {
  if (!(x instanceof Uint8Array)) return `${what} must be bytes`;
  if (x.length === 0) return `${what} must not be empty`;
  return undefined;
}

/** A range bound: any bytes (empty: unbounded for an end). */
function checkBound(x: unknown, what: string): string | undefined {
  return x instanceof Uint8Array ? undefined : `${what} must be bytes`;
}

function checkTs(x: unknown, what: string): string | undefined {
  return isTimestamp(x) ? undefined : `${what} must be a u64 bigint timestamp`;
}

function checkCount(x: unknown, what: string, min: number): string | undefined {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= min ? undefined : `${what} must be an integer >= ${min}`;
}

function checkKeys(x: unknown, what: string): string | undefined {
  if (!Array.isArray(x)) return `${what} must be an array`;
  for (let i = 0; i < x.length; i++) {
    const bad = checkKey(x[i], `${what}[${i}]`);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

function checkBypass(x: unknown): string | undefined {
  if (x === undefined) return undefined;
  if (!Array.isArray(x)) return 'bypassLocks must be an array';
  for (let i = 0; i < x.length; i++) {
    const bad = checkTs(x[i], `bypassLocks[${i}]`);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

function checkMutations(x: unknown): string | undefined {
  if (!Array.isArray(x)) return 'mutations must be an array';
  const seen = new Set<string>();
  for (let i = 0; i < x.length; i++) {
    const m: unknown = x[i];
    const what = `mutations[${i}]`;
    if (!isFields(m)) return `${what} must be an object`;
    const badKey = checkKey(m.key, `${what}.key`);
    if (badKey !== undefined) return badKey;
    switch (m.op) {
      case 'put':
        if (!(m.value instanceof Uint8Array)) return `${what}.value must be bytes`;
        if (m.assertNotExists !== undefined && typeof m.assertNotExists !== 'boolean') {
          return `${what}.assertNotExists must be a boolean`;
        }
        break;
      case 'delete':
      case 'lock':
      case 'assert_not_exists':
        break;
      default:
        return `${what}.op must be put, delete, lock or assert_not_exists`;
    }
    // Two mutations of one key would make the lock ambiguous; the coordinator merges them.
    const id = bytesKey(m.key as Uint8Array);
    if (seen.has(id)) return `${what}: duplicate key`;
    seen.add(id);
  }
  return undefined;
}

function checkCommitTs(startTs: unknown, commitTs: unknown): string | undefined {
  const bad = checkTs(commitTs, 'commitTs');
  if (bad !== undefined) return bad;
  return (commitTs as bigint) > (startTs as bigint) ? undefined : 'commitTs must be greater than startTs';
}

/** Checks fields in order and returns the first problem. */
function firstProblem(...checks: (() => string | undefined)[]): string | undefined {
  for (const check of checks) {
    const bad = check();
    if (bad !== undefined) return bad;
  }
  return undefined;
}

/** Why `cmd` is not a valid TxnCommand, or undefined when it is. */
export function validateTxnCommand(cmd: unknown): string | undefined {
  if (!isFields(cmd)) return 'command must be an object';
  const c = cmd;
  switch (c.type) {
    case 'Prewrite':
      return firstProblem(
        () => checkMutations(c.mutations),
        () => checkKey(c.primary, 'primary'),
        () => checkTs(c.startTs, 'startTs'),
        () => checkCount(c.lockTtl, 'lockTtl', 0),
        () => (c.minCommitTs === undefined ? undefined : checkTs(c.minCommitTs, 'minCommitTs')),
      );
    case 'PrewriteAndCommit':
      return firstProblem(
        () => checkMutations(c.mutations),
        () => checkTs(c.startTs, 'startTs'),
        () => checkCommitTs(c.startTs, c.commitTs),
      );
    case 'Commit':
      return firstProblem(
        () => checkKeys(c.keys, 'keys'),
        () => checkTs(c.startTs, 'startTs'),
        () => checkCommitTs(c.startTs, c.commitTs),
      );
    case 'Rollback':
      return firstProblem(
        () => checkKeys(c.keys, 'keys'),
        () => checkTs(c.startTs, 'startTs'),
      );
    case 'CheckTxnStatus':
      return firstProblem(
        () => checkKey(c.primary, 'primary'),
        () => checkTs(c.lockTs, 'lockTs'),
        () => checkTs(c.currentTs, 'currentTs'),
        () => (c.callerStartTs === undefined ? undefined : checkTs(c.callerStartTs, 'callerStartTs')),
      );
    case 'ResolveLock':
      return firstProblem(
        () => checkTs(c.startTs, 'startTs'),
        () => (c.commitTs === 0n ? undefined : checkCommitTs(c.startTs, c.commitTs)),
        () => checkScope(c.scope),
        () => checkCount(c.limit, 'limit', 1),
      );
    case 'TxnHeartbeat':
      return firstProblem(
        () => checkKey(c.primary, 'primary'),
        () => checkTs(c.startTs, 'startTs'),
        () => checkCount(c.adviseTtl, 'adviseTtl', 0),
      );
    case 'Gc':
      return firstProblem(
        () => checkTs(c.safePoint, 'safePoint'),
        () => checkBound(c.start, 'start'),
        () => checkBound(c.end, 'end'),
        () => checkCount(c.limit, 'limit', 2),
      );
    default:
      return `unknown txn command type ${String(c.type)}`;
  }
}

function checkScope(x: unknown): string | undefined {
  if (!isFields(x)) return 'scope must be an object';
  if ('keys' in x) return checkKeys(x.keys, 'scope.keys');
  return firstProblem(
    () => checkBound(x.start, 'scope.start'),
    () => checkBound(x.end, 'scope.end'),
  );
}

/** Why `req` is not a valid TxnRead, or undefined when it is. */
export function validateTxnRead(req: unknown): string | undefined {
  if (!isFields(req)) return 'read must be an object';
  const r = req;
  switch (r.type) {
    case 'TxnGet':
      return firstProblem(
        () => checkKey(r.key, 'key'),
        () => checkTs(r.ts, 'ts'),
        () => checkBypass(r.bypassLocks),
      );
    case 'TxnScan':
      return firstProblem(
        () => checkBound(r.start, 'start'),
        () => checkBound(r.end, 'end'),
        () => checkCount(r.limit, 'limit', 0),
        () => checkTs(r.ts, 'ts'),
        () => (r.reverse === undefined || typeof r.reverse === 'boolean' ? undefined : 'reverse must be a boolean'),
        () => checkBypass(r.bypassLocks),
      );
    default:
      return `unknown txn read type ${String(r.type)}`;
  }
}

export function isTxnCommand(cmd: unknown): cmd is TxnCommand {
  return validateTxnCommand(cmd) === undefined;
}

export function isTxnRead(req: unknown): req is TxnRead {
  return validateTxnRead(req) === undefined;
}

