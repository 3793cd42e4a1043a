// The entry points a region peer calls: applyTxnCommand at apply time, inside
// the storage transaction of the Ready being applied (reads through the
// storage, writes through its batch), and readTxn on the leader after a
// ReadIndex round. Both validate first, so a malformed command is an
// `Invalid` outcome on every replica, never an exception.

import { unreachable } from '../util/assert';
import type { TxnCommand, TxnCommandOutcome, TxnCommandOutcomes, TxnRead, TxnReadOutcome, TxnReadOutcomes } from './commands';
import { commit, rollback } from './commit';
import { gc } from './gc';
import { type MvccLimits, type MvccStore, type MvccWriter, assertMvccLimits, defaultMvccLimits } from './mvcc-store';
import { prewrite, prewriteAndCommit } from './prewrite';
import { txnGet, txnScan } from './read';
import { resolveLock } from './resolve-lock';
import { checkTxnStatus, txnHeartbeat } from './txn-status';
import { validateTxnCommand, validateTxnRead } from './validate';

export function applyTxnCommand<C extends TxnCommand>(
  cmd: C,
  store: MvccStore,
  writer: MvccWriter,
  limits: MvccLimits = defaultMvccLimits,
): TxnCommandOutcomes[C['type']] {
  return dispatchCommand(cmd, store, writer, limits) as TxnCommandOutcomes[C['type']];
}

export function readTxn<R extends TxnRead>(req: R, store: MvccStore, limits: MvccLimits = defaultMvccLimits): TxnReadOutcomes[R['type']] {
  return dispatchRead(req, store, limits) as TxnReadOutcomes[R['type']];
}

function dispatchCommand(cmd: TxnCommand, store: MvccStore, writer: MvccWriter, limits: MvccLimits): TxnCommandOutcome {
  assertMvccLimits(limits);
  const invalid = validateTxnCommand(cmd);
  if (invalid !== undefined) return { type: 'Invalid', reason: invalid };
  switch (cmd.type) {
    case 'Prewrite':
      return prewrite(store, writer, cmd, limits);
    case 'PrewriteAndCommit':
      return prewriteAndCommit(store, writer, cmd, limits);
    case 'Commit':
      return commit(store, writer, cmd, limits);
    case 'Rollback':
      return rollback(store, writer, cmd, limits);
    case 'CheckTxnStatus':
      return checkTxnStatus(store, writer, cmd, limits);
    case 'ResolveLock':
      return resolveLock(store, writer, cmd, limits);
    case 'TxnHeartbeat':
      return txnHeartbeat(store, writer, cmd);
    case 'Gc':
      return gc(store, writer, cmd, limits);
    default:
      return unreachable(cmd, 'unknown txn command');
  }
}

function dispatchRead(req: TxnRead, store: MvccStore, limits: MvccLimits): TxnReadOutcome {
  assertMvccLimits(limits);
  const invalid = validateTxnRead(req);
  if (invalid !== undefined) return { type: 'Invalid', reason: invalid };
  switch (req.type) {
    case 'TxnGet':
      return txnGet(store, req, limits);
    case 'TxnScan':
      return txnScan(store, req, limits);
    default:
      return unreachable(req, 'unknown txn read');
  }
}
