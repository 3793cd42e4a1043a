// Big-endian u64 fields: big-endian so that byte order is numeric order,
// which the key encoding depends on.

import { assert } from '../util/assert';
import { tsMax } from './timestamp';

export function putU64(out: Uint8Array, offset: number, value: bigint): void {
  assert(value >= 0n && value <= tsMax, `u64 out of range: ${value}`);
  assert(offset >= 0 && offset + 8 <= out.length, `u64 write at ${offset} overflows ${out.length} bytes`);
  new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(offset, value, false);
}

export function getU64(bytes: Uint8Array, offset: number): bigint {
  assert(offset >= 0 && offset + 8 <= bytes.length, `u64 read at ${offset} overflows ${bytes.length} bytes`);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset, false);
}

export function putU32(out: Uint8Array, offset: number, value: number): void {
  assert(Number.isInteger(value) && value >= 0 && value <= 0xffffffff, `u32 out of range: ${value}`);
  assert(offset >= 0 && offset + 4 <= out.length, `u32 write at ${offset} overflows ${out.length} bytes`);
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(offset, value, false);
}

export function getU32(bytes: Uint8Array, offset: number): number {
  assert(offset >= 0 && offset + 4 <= bytes.length, `u32 read at ${offset} overflows ${bytes.length} bytes`);
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset, false);
}
