// Applying a ChangePeer admin command (TiKV's exec_change_peer): pure, so
// every replica reaches the same region from the same entry, and so unit
// tests can check the epoch rules without a Raft group.

import { type ConfChange, ConfChangeType } from '../raft';
import { assert } from '../util/assert';
import type { AdminRequest } from './admin';
import { type CommandHeader, type RaftCommand, decodeCommand, encodeCommand } from './command-codec';
import { type PeerMeta, type RegionMeta, cloneRegion, findPeer } from './region';
import type { RegionError } from './requests';

export type ChangePeerRequest = Extract<AdminRequest, { type: 'ChangePeer' }>;

export type ChangePeerOutcome = { ok: true; region: RegionMeta } | { ok: false; error: RegionError };

/** The Raft ConfChange that carries `admin` (with its header) as its context. */
export function confChangeFor(header: CommandHeader, admin: ChangePeerRequest): ConfChange {
  const type = admin.changeType === 'AddNode' ? ConfChangeType.AddNode : ConfChangeType.RemoveNode;
  return { type, nodeId: admin.peer.id, context: encodeCommand({ kind: 'Admin', header, admin }) };
}

/** The admin command a ConfChange entry carries; asserts that the two agree. */
export function changePeerOf(cc: ConfChange): { header: CommandHeader; admin: ChangePeerRequest } {
  assert(cc.context !== undefined && cc.context.length > 0, `conf change for node ${cc.nodeId} has no context`);
  const cmd: RaftCommand = decodeCommand(cc.context);
  assert(cmd.kind === 'Admin' && cmd.admin.type === 'ChangePeer', 'a conf change must carry a ChangePeer command');
  const admin = cmd.admin;
  assert(admin.peer.id === cc.nodeId, `conf change node ${cc.nodeId} disagrees with its command (${admin.peer.id})`);
  const expected = admin.changeType === 'AddNode' ? ConfChangeType.AddNode : ConfChangeType.RemoveNode;
  assert(cc.type === expected, `conf change type ${cc.type} disagrees with its command (${admin.changeType})`);
  return { header: cmd.header, admin };
}

/**
 * The region after the change, or why it is refused. Like TiKV, a member
 * change is checked against confVer only: it was proposed under one
 * membership and means nothing under another (one change at a time, so the
 * proposer's confVer must be exactly the current one). A refused change is
 * not applied to Raft either, so Raft's voters and region.peers stay equal.
 */
export function applyChangePeer(region: RegionMeta, header: CommandHeader, admin: ChangePeerRequest): ChangePeerOutcome {
  if (header.regionId !== region.id) return { ok: false, error: { type: 'RegionNotFound', regionId: header.regionId } };
  if (header.epoch.confVer !== region.epoch.confVer) {
    return { ok: false, error: { type: 'EpochNotMatch', currentRegions: [cloneRegion(region)] } };
  }
  const next = cloneRegion(region);
  const peer: PeerMeta = { id: admin.peer.id, storeId: admin.peer.storeId };
  if (admin.changeType === 'AddNode') {
    // A duplicate id or a second peer on one store would break the region's
    // invariants; such a command is stale in effect (the change happened).
    if (findPeer(region, peer.id) !== undefined || region.peers.some((p) => p.storeId === peer.storeId)) {
      return { ok: false, error: { type: 'EpochNotMatch', currentRegions: [cloneRegion(region)] } };
    }
    next.peers.push(peer);
  } else {
    if (findPeer(region, peer.id) === undefined || region.peers.length === 1) {
      return { ok: false, error: { type: 'EpochNotMatch', currentRegions: [cloneRegion(region)] } };
    }
    next.peers = next.peers.filter((p) => p.id !== peer.id);
  }
  next.epoch.confVer++;
  return { ok: true, region: next };
}
