// The values of the `lock` and `write` column families (Percolator §2.2's
// lock and write columns), in a compact binary form. Both are checked when
// encoded and again when decoded: a replica that reads back a record it could
// not have written must stop rather than act on it.
//
// Lock  = kind:u8 | startTs:u64 | ttl:u64 | flags:u8 | [minCommitTs:u64] | primaryLen:u32 | primary
// Write = kind:u8 | startTs:u64
// Kinds are ASCII letters ('P', 'D', 'L', 'R'), as in TiKV, so a hex dump reads.

import { assert } from '../util/assert';
import { assertTimestamp } from './timestamp';
import { getU32, getU64, putU32, putU64 } from './u64';

export type LockKind = 'put' | 'delete' | 'lock';
export type WriteKind = 'put' | 'delete' | 'rollback' | 'lock';

/** A transaction's claim on a key between prewrite and commit/rollback. */
export interface Lock {
  /** The transaction's primary key: its status decides this lock's fate. */
  primary: Uint8Array;
  startTs: bigint;
  /** Milliseconds after startTs's physical time until the lock may be rolled back by others. */
  ttl: number;
  /** 'lock' only claims the key (read-write conflict detection); it hides no value from readers. */
  kind: LockKind;
  /** When set, the transaction may only commit at or after it (readers pushed it; see checkTxnStatus). */
  minCommitTs?: bigint;
}

/** A commit record (put/delete/lock) at commitTs, or a rollback record at the txn's own startTs. */
export interface Write {
  startTs: bigint;
  kind: WriteKind;
}

const lockCodes: Record<LockKind, number> = { put: 0x50, delete: 0x44, lock: 0x4c };
const writeCodes: Record<WriteKind, number> = { put: 0x50, delete: 0x44, lock: 0x4c, rollback: 0x52 };

function kindOf<K extends string>(codes: Record<K, number>, code: number, what: string): K {
  const names = Object.keys(codes) as K[];
  const kind = names.find((k) => codes[k] === code);
  assert(kind !== undefined, `unknown ${what} kind 0x${code.toString(16)}`);
  return kind;
}

const flagMinCommitTs = 0x01;
/** kind + startTs + ttl + flags + primaryLen. */
const lockFixedBytes = 1 + 8 + 8 + 1 + 4;
const writeBytes = 1 + 8;

export function assertLock(lock: Lock): void {
  assert(lock.primary instanceof Uint8Array, 'lock primary must be a Uint8Array');
  assert(lock.primary.length <= 0xffffffff, 'lock primary too long');
  assertTimestamp(lock.startTs, 'lock startTs');
  assert(Number.isSafeInteger(lock.ttl) && lock.ttl >= 0, `lock ttl must be a non-negative safe integer, got ${lock.ttl}`);
  assert(Object.hasOwn(lockCodes, lock.kind), `unknown lock kind ${String(lock.kind)}`);
  if (lock.minCommitTs !== undefined) assertTimestamp(lock.minCommitTs, 'lock minCommitTs');
}

export function encodeLock(lock: Lock): Uint8Array {
  assertLock(lock);
  const hasMin = lock.minCommitTs !== undefined;
  const out = new Uint8Array(lockFixedBytes + (hasMin ? 8 : 0) + lock.primary.length);
  let at = 0;
  out[at++] = lockCodes[lock.kind];
  putU64(out, at, lock.startTs);
  at += 8;
  putU64(out, at, BigInt(lock.ttl));
  at += 8;
  out[at++] = hasMin ? flagMinCommitTs : 0;
  if (lock.minCommitTs !== undefined) {
    putU64(out, at, lock.minCommitTs);
    at += 8;
  }
  putU32(out, at, lock.primary.length);
  at += 4;
  out.set(lock.primary, at);
  assert(at + lock.primary.length === out.length, 'lock encoding length');
  return out;
}

export function decodeLock(bytes: Uint8Array): Lock {
  assert(bytes.length >= lockFixedBytes, `lock record too short: ${bytes.length} bytes`);
  let at = 0;
  const kind = kindOf(lockCodes, bytes[at++]!, 'lock');
  const startTs = getU64(bytes, at);
  at += 8;
  const ttlBig = getU64(bytes, at);
  at += 8;
  assert(ttlBig <= BigInt(Number.MAX_SAFE_INTEGER), `lock ttl ${ttlBig} is not a safe integer`);
  const flags = bytes[at++]!;
  assert((flags & ~flagMinCommitTs) === 0, `unknown lock flags 0x${flags.toString(16)}`);
  let minCommitTs: bigint | undefined;
  if (flags & flagMinCommitTs) {
    minCommitTs = getU64(bytes, at);
    at += 8;
  }
  const primaryLen = getU32(bytes, at);
  at += 4;
  assert(at + primaryLen === bytes.length, `lock record is ${bytes.length} bytes, expected ${at + primaryLen}`);
  const lock: Lock = { primary: bytes.slice(at), startTs, ttl: Number(ttlBig), kind };
  if (minCommitTs !== undefined) lock.minCommitTs = minCommitTs;
  assertLock(lock);
  return lock;
}

export function encodeWrite(write: Write): Uint8Array {
  assertTimestamp(write.startTs, 'write startTs');
  assert(Object.hasOwn(writeCodes, write.kind), `unknown write kind ${String(write.kind)}`);
  const out = new Uint8Array(writeBytes);
  out[0] = writeCodes[write.kind];
  putU64(out, 1, write.startTs);
  return out;
}

export function decodeWrite(bytes: Uint8Array): Write {
  assert(bytes.length === writeBytes, `write record must be ${writeBytes} bytes, got ${bytes.length}`);
  return { kind: kindOf(writeCodes, bytes[0]!, 'write'), startTs: getU64(bytes, 1) };
}
