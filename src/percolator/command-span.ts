// Which part of the key space a command touches, so that a region peer can
// check it against its range (and epoch) before proposing or applying it:
// every key of a point command must lie in the region; a range command is
// clamped to the region's bounds by the caller.

import { unreachable } from '../util/assert';
import type { TxnCommand, TxnRead } from './commands';

export type TxnSpan =
  | { kind: 'keys'; keys: Uint8Array[] }
  /** [start, end); end empty: no upper bound. */
  | { kind: 'range'; start: Uint8Array; end: Uint8Array };

export function txnSpan(cmd: TxnCommand | TxnRead): TxnSpan {
  switch (cmd.type) {
    case 'Prewrite':
    case 'PrewriteAndCommit':
      // Not the primary: it usually lives in another region, and prewrite only records it.
      return { kind: 'keys', keys: cmd.mutations.map((m) => m.key) };
    case 'Commit':
    case 'Rollback':
      return { kind: 'keys', keys: cmd.keys };
    case 'CheckTxnStatus':
    case 'TxnHeartbeat':
      return { kind: 'keys', keys: [cmd.primary] };
    case 'ResolveLock':
      return 'keys' in cmd.scope
        ? { kind: 'keys', keys: cmd.scope.keys }
        : { kind: 'range', start: cmd.scope.start, end: cmd.scope.end };
    case 'Gc':
    case 'TxnScan':
      return { kind: 'range', start: cmd.start, end: cmd.end };
    case 'TxnGet':
      return { kind: 'keys', keys: [cmd.key] };
    default:
      return unreachable(cmd, 'unknown txn command');
  }
}
