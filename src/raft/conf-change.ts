// A membership change travels as the data of a ConfChange entry. One change at
// a time (Raft thesis §4.1): the leader refuses a second until the first is applied.

import { assert } from '../util/assert';
import { ConfChangeType } from './types';

export interface ConfChange {
  type: ConfChangeType;
  nodeId: number;
  /** Opaque to Raft; the application's description of the change. */
  context?: Uint8Array;
}

const typeCodes: Record<ConfChangeType, number> = { AddNode: 1, RemoveNode: 2 };

// Layout: 1 byte type, 8 bytes node id (big-endian float64-safe integer), then the context.
export function encodeConfChange(cc: ConfChange): Uint8Array {
  assert(Number.isSafeInteger(cc.nodeId) && cc.nodeId > 0, `invalid conf change node id ${cc.nodeId}`);
  const context = cc.context ?? new Uint8Array(0);
  const out = new Uint8Array(9 + context.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, typeCodes[cc.type]);
  view.setBigUint64(1, BigInt(cc.nodeId));
  out.set(context, 9);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  assert(data.length >= 9, 'conf change data too short');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const code = view.getUint8(0);
  const type = code === 1 ? ConfChangeType.AddNode : code === 2 ? ConfChangeType.RemoveNode : undefined;
  assert(type !== undefined, `unknown conf change type code ${code}`);
  const nodeId = Number(view.getBigUint64(1));
  assert(Number.isSafeInteger(nodeId) && nodeId > 0, `invalid conf change node id ${nodeId}`);
  const cc: ConfChange = { type, nodeId };
  if (data.length > 9) cc.context = data.slice(9);
  return cc;
}
