// Txn commands travel in Raft log entries as bytes. They are JSON (through
// encodeTagged, which keeps Uint8Array fields) with bigint timestamps as
// {"$n": "<decimal>"}, since JSON has no bigint. A command is validated
// before it is encoded and after it is decoded: what a replica applies is
// exactly what the proposer checked.

import { assert } from '../util/assert';
import { decodeTagged, encodeTagged } from '../store/command-codec';
import type { TxnCommand } from './commands';
import { isTxnCommand, validateTxnCommand } from './validate';

/** Commands are shallow: command -> mutations -> mutation -> key. */
const depthMax = 8;

function toJsonSafe(value: unknown, depth: number): unknown {
  assert(depth <= depthMax, 'txn command nests too deeply');
  if (typeof value === 'bigint') return { $n: value.toString() };
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v: unknown) => toJsonSafe(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = toJsonSafe(v, depth + 1);
  return out;
}

function fromJsonSafe(value: unknown, depth: number): unknown {
  assert(depth <= depthMax, 'txn command nests too deeply');
  if (value instanceof Uint8Array || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v: unknown) => fromJsonSafe(v, depth + 1));
  const fields = Object.entries(value);
  if (fields.length === 1 && fields[0]![0] === '$n') {
    const text = fields[0]![1];
    assert(typeof text === 'string' && /^(0|[1-9][0-9]*)$/.test(text), 'tagged bigint must hold a decimal string');
    return BigInt(text);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of fields) out[k] = fromJsonSafe(v, depth + 1);
  return out;
}

export function encodeTxnCommand(cmd: TxnCommand): Uint8Array {
  const invalid = validateTxnCommand(cmd);
  assert(invalid === undefined, `refusing to encode an invalid txn command: ${invalid}`);
  return encodeTagged(toJsonSafe(cmd, 0));
}

export function decodeTxnCommand(bytes: Uint8Array): TxnCommand {
  const cmd = fromJsonSafe(decodeTagged(bytes), 0);
  assert(isTxnCommand(cmd), `decoded an invalid txn command: ${validateTxnCommand(cmd)}`);
  return cmd;
}
