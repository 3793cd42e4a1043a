// What an RPC does to the values it carries: the receiver gets its own copy.
// structuredClone would do, but it serializes and was a quarter of the
// simulator's time; the values crossing here are plain data (objects,
// arrays, Uint8Array, primitives), which this copies directly and asserts.

import { assert } from '../../../src/util/assert';

export function deepCopy<T>(value: T): T {
  return copyValue(value, 0) as T;
}

/** Raft messages and answers are shallow; a deep structure here is a bug (or a cycle). */
const depthMax = 32;

function copyValue(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') {
    assert(typeof value !== 'function' && typeof value !== 'symbol', `cannot send a ${typeof value} over RPC`);
    return value;
  }
  assert(depth < depthMax, 'value too deep to send over RPC (a cycle?)');
  if (value instanceof Uint8Array) return value.slice();
  if (Array.isArray(value)) return value.map((v: unknown) => copyValue(v, depth + 1));
  const proto: unknown = Object.getPrototypeOf(value);
  assert(proto === Object.prototype || proto === null, 'only plain objects cross RPC here');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = copyValue(v, depth + 1);
  return out;
}
