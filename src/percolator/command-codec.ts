// Txn commands travel in Raft log entries as bytes: tagged JSON (the store's
// one codec, which keeps Uint8Array fields and writes bigint timestamps as
// {"$n": "<decimal>"}, since JSON has no bigint). A region peer puts a
// command inside its RaftCommand as is, through the same codec; these
// functions serve code that handles a lone command. A command is validated
// before it is encoded and after it is decoded: what a replica applies is
// exactly what the proposer checked.

import { assert } from '../util/assert';
import { decodeTagged, encodeTagged } from '../store/command-codec';
import type { TxnCommand } from './commands';
import { isTxnCommand, validateTxnCommand } from './validate';

export function encodeTxnCommand(cmd: TxnCommand): Uint8Array {
  const invalid = validateTxnCommand(cmd);
  assert(invalid === undefined, `refusing to encode an invalid txn command: ${invalid}`);
  return encodeTagged(cmd);
}

export function decodeTxnCommand(bytes: Uint8Array): TxnCommand {
  const cmd = decodeTagged(bytes);
  assert(isTxnCommand(cmd), `decoded an invalid txn command: ${validateTxnCommand(cmd)}`);
  return cmd;
}
