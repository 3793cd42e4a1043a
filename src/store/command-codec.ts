// Raft log entries carry commands as bytes. JSON keeps them readable in a
// debugger and in SQLite; byte fields travel as {"$b": base64} and bigint
// fields (Percolator timestamps, which exceed 2^53) as {"$n": "<decimal>"}.
// This is the one tagged codec: percolator's command codec builds on it.

import { assert } from '../util/assert';
import { fromBase64, toBase64 } from '../util/base64';
import { fromUtf8, utf8 } from '../util/bytes';
import type { AdminRequest } from './admin';
import type { RegionEpoch } from './region';
import type { WriteRequest } from './requests';

export interface CommandHeader {
  regionId: number;
  /** The epoch the proposer saw; apply refuses the command if it is stale. */
  epoch: RegionEpoch;
}

/** What a log entry holds: data requests, or one admin command, proposed under one region epoch. */
export type RaftCommand =
  | { kind: 'Write'; header: CommandHeader; requests: WriteRequest[] }
  | { kind: 'Admin'; header: CommandHeader; admin: AdminRequest };

function replaceBytes(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') {
    // Only unsigned values are written (timestamps are u64); a negative one is a bug upstream.
    assert(value >= 0n, 'tagged bigints are unsigned');
    return { $n: value.toString() };
  }
  return value instanceof Uint8Array ? { $b: toBase64(value) } : value;
}

function reviveBytes(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && '$n' in value && Object.keys(value).length === 1) {
    const text = (value as { $n: unknown }).$n;
    assert(typeof text === 'string' && /^(0|[1-9][0-9]*)$/.test(text), 'tagged bigint must hold a decimal string');
    return BigInt(text);
  }
  if (value !== null && typeof value === 'object' && '$b' in value) {
    const text = (value as { $b: unknown }).$b;
    assert(typeof text === 'string', 'tagged bytes must hold a base64 string');
    const bytes = fromBase64(text);
    assert(bytes !== undefined, 'tagged bytes hold invalid base64');
    return bytes;
  }
  return value;
}

/** JSON with Uint8Array and bigint fields preserved; for data this codebase wrote itself. */
export function encodeTagged(value: unknown): Uint8Array {
  return utf8(JSON.stringify(value, replaceBytes));
}

export function decodeTagged(bytes: Uint8Array): unknown {
  return JSON.parse(fromUtf8(bytes), reviveBytes) as unknown;
}

export function encodeCommand(cmd: RaftCommand): Uint8Array {
  return encodeTagged(cmd);
}

export function decodeCommand(data: Uint8Array): RaftCommand {
  const cmd = decodeTagged(data) as RaftCommand;
  assert(
    typeof cmd === 'object' &&
      cmd !== null &&
      typeof cmd.header?.regionId === 'number' &&
      ((cmd.kind === 'Write' && Array.isArray(cmd.requests)) || (cmd.kind === 'Admin' && typeof cmd.admin === 'object')),
    'malformed raft command',
  );
  return cmd;
}
