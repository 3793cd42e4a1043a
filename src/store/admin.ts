// Admin commands change the region itself rather than its data. Like TiKV's
// AdminRequest they go through the log (except leader transfer), carry the
// epoch they were proposed under, and are refused at apply if it is stale.

import type { PeerMeta } from './region';

export type AdminRequest =
  /**
   * Log GC: entries up to compactIndex are folded into the truncated state
   * and deleted. Proposed by the leader when applied - truncated exceeds the
   * GC limit; compactTerm is the term of the entry at compactIndex.
   */
  | { type: 'CompactLog'; compactIndex: number; compactTerm: number }
  /**
   * Add or remove one peer (bumps confVer). Travels as the context of a Raft
   * ConfChange entry, so Raft's one-change-at-a-time rule applies.
   */
  | { type: 'ChangePeer'; changeType: 'AddNode' | 'RemoveNode'; peer: PeerMeta }
  /**
   * Split at splitKey (bumps version): this region keeps [start, splitKey),
   * the new region gets [splitKey, end) with one new peer id per existing
   * peer, on the same stores and in the same order.
   */
  | { type: 'Split'; splitKey: Uint8Array; newRegionId: number; newPeerIds: number[] };
