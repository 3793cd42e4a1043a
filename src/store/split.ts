// Region split (TiKV's exec_batch_split, TinyKV 3B). Applying a Split entry
// is pure and deterministic: every replica turns region [start, end) into
// [start, splitKey) at version + 1 and describes the new region
// [splitKey, end) with the same epoch, one new peer per old one on the same
// stores. TiKV keeps both regions' data in one store engine, so its split
// moves no data. Here each Durable Object holds exactly one peer, so the
// rows of [splitKey, end) must move to the new peer's object on the same
// store. That cannot happen inside the apply transaction (another object),
// so the apply records a durable *split handoff* in the same transaction
// and leaves the rows where they are; the host then initializes the new
// peer object from them and, once it confirms, deletes the rows and the
// handoff (finishHandoff). A crash anywhere in between leaves the handoff
// on disk and the host retries it on load and on every tick; initializing
// the new peer is idempotent. No write can reach [splitKey, end) in the old
// object meanwhile: its region no longer covers those keys.

import { assert } from '../util/assert';
import { compareBytes } from '../util/bytes';
import type { AdminRequest } from './admin';
import { cfRange } from './cf-range';
import type { CommandHeader } from './command-codec';
import type { SeedRow } from './peer-seed';
import { type ColumnFamily, type PeerStorage, type WriteBatch, columnFamilies } from './peer-storage';
import { type PeerMeta, type RegionMeta, assertValidRegion, cloneRegion, findPeer, keyInRegion } from './region';
import type { RegionError } from './requests';

export type SplitRequest = Extract<AdminRequest, { type: 'Split' }>;

export type SplitOutcome = { ok: true; left: RegionMeta; right: RegionMeta } | { ok: false; error: RegionError };

/**
 * What an applied split leaves for the host to finish: the rows of `right`'s
 * range in this object belong to `newPeer`, to be created from them.
 */
export interface SplitHandoff {
  /** The old region right after the split (it may change again before the handoff is done). */
  left: RegionMeta;
  /** The new region as the split created it. */
  right: RegionMeta;
  /** The new region's peer on this object's store: the object to initialize. */
  newPeer: PeerMeta;
  /** The log index of the Split entry, for logs and tests. */
  index: number;
}

/**
 * Bounds the rows one handoff carries in one RPC, as seeds are bounded
 * (peer-seed.ts). A bigger half is refused at proposal time (checkSplitSize),
 * never at apply, where a refusal would have to be deterministic.
 */
export const splitRowsMax = 20_000;
/** Bytes of keys and values one handoff carries: well below the 32 MiB Durable Object RPC limit. */
export const splitBytesMax = 16 * 1024 * 1024;

/**
 * The regions after a split, or why it is refused. Like TiKV, a split is
 * checked against `version` (another split or a merge makes the key
 * meaningless for this range); membership changes do not matter to it, but
 * the new peers are built from the members at apply time, so the number of
 * new peer ids must match them.
 */
export function applySplit(region: RegionMeta, header: CommandHeader, admin: SplitRequest): SplitOutcome {
  if (header.regionId !== region.id) return { ok: false, error: { type: 'RegionNotFound', regionId: header.regionId } };
  const stale: SplitOutcome = { ok: false, error: { type: 'EpochNotMatch', currentRegions: [cloneRegion(region)] } };
  if (header.epoch.version !== region.epoch.version) return stale;
  if (admin.newPeerIds.length !== region.peers.length) return stale;
  if (!isStrictlyInside(admin.splitKey, region)) {
    return { ok: false, error: { type: 'KeyNotInRegion', key: admin.splitKey, region: cloneRegion(region) } };
  }
  const version = region.epoch.version + 1;
  const left = cloneRegion(region);
  left.endKey = admin.splitKey.slice();
  left.epoch.version = version;
  const right: RegionMeta = {
    id: admin.newRegionId,
    startKey: admin.splitKey.slice(),
    endKey: region.endKey.slice(),
    epoch: { version, confVer: region.epoch.confVer },
    peers: region.peers.map((p, i) => ({ id: admin.newPeerIds[i]!, storeId: p.storeId })),
  };
  assertValidRegion(left);
  assertValidRegion(right);
  assert(left.id !== right.id, `split of region ${region.id} reuses its id`);
  return { ok: true, left, right };
}

/** A split key must leave both halves non-empty: start < key < end (TiKV: check_key_in_region, not at start). */
export function isStrictlyInside(key: Uint8Array, region: RegionMeta): boolean {
  return key.length > 0 && compareBytes(key, region.startKey) > 0 && keyInRegion(key, region);
}

/**
 * Applies a committed Split inside the Ready's transaction: the region meta
 * becomes the left half and the handoff of the right half is recorded. The
 * rows stay until finishHandoff. `self` is this replica's peer.
 */
export function execSplit(
  batch: WriteBatch,
  region: RegionMeta,
  self: PeerMeta,
  index: number,
  header: CommandHeader,
  admin: SplitRequest,
): SplitOutcome & { handoff?: SplitHandoff } {
  const outcome = applySplit(region, header, admin);
  if (!outcome.ok) return outcome;
  const at = region.peers.findIndex((p) => p.id === self.id);
  assert(at >= 0, `peer ${self.id} applies a split of region ${region.id} it is not in`);
  const newPeer = outcome.right.peers[at]!;
  assert(newPeer.storeId === self.storeId, 'a split peer lives on its parent peer store');
  const handoff: SplitHandoff = { left: outcome.left, right: outcome.right, newPeer, index };
  batch.setRegion(outcome.left);
  batch.putPendingSplit(handoff);
  return { ...outcome, handoff };
}

/** Every row of [start, end) of `cf`, in pages; at most `max` rows, or undefined if there are more. */
function scanBounded(storage: PeerStorage, cf: ColumnFamily, start: Uint8Array, end: Uint8Array, max: number): SeedRow[] | undefined {
  const found = storage.scan(cf, { start, end, limit: max + 1 });
  if (found.length > max) return undefined;
  return found.map((p) => ({ cf, key: p.key, value: p.value }));
}

/** The rows of the user-key range [start, end) in every column family; undefined if over splitRowsMax or splitBytesMax. */
export function rowsInRange(storage: PeerStorage, start: Uint8Array, end: Uint8Array): SeedRow[] | undefined {
  const rows: SeedRow[] = [];
  let bytes = 0;
  for (const cf of columnFamilies) {
    const range = cfRange(cf, start, end);
    const found = scanBounded(storage, cf, range.start, range.end, splitRowsMax - rows.length);
    if (found === undefined) return undefined;
    for (const row of found) bytes += row.key.length + row.value.length;
    if (bytes > splitBytesMax) return undefined;
    rows.push(...found);
  }
  return rows;
}

/** The rows a handoff moves: what this object still holds of the new region's range. */
export function handoffRows(storage: PeerStorage, handoff: SplitHandoff): SeedRow[] {
  const rows = rowsInRange(storage, handoff.right.startKey, handoff.right.endKey);
  // Refused at proposal time, and nothing writes to the range since.
  assert(rows !== undefined, `split handoff of region ${handoff.right.id} holds more than ${splitRowsMax} rows`);
  return rows;
}

/**
 * Whether a split at `splitKey` keeps the moved half within one handoff; the
 * leader checks it before proposing (the apply must not depend on data size).
 */
export function checkSplitSize(storage: PeerStorage, region: RegionMeta, splitKey: Uint8Array): boolean {
  return rowsInRange(storage, splitKey, region.endKey) !== undefined;
}

/** The new peer confirmed: the moved rows and the handoff go, in one transaction. */
export function finishHandoff(storage: PeerStorage, handoff: SplitHandoff): void {
  const region = storage.region();
  // The handoff's range is outside whatever this region has become: splits
  // only shrink it, and nothing else moves its range (no merge yet).
  assert(
    region === undefined || !keyInRegion(handoff.right.startKey, region),
    `region ${region?.id} covers the moved range of region ${handoff.right.id}`,
  );
  storage.write((batch) => {
    for (const cf of columnFamilies) {
      const range = cfRange(cf, handoff.right.startKey, handoff.right.endKey);
      batch.deleteRange(cf, range.start, range.end);
    }
    batch.deletePendingSplit(handoff.right.id);
  });
}

/** Asserts that `peer` is the handoff's target, for the new object's side. */
export function assertSplitTarget(peer: PeerMeta, region: RegionMeta): void {
  assertValidRegion(region);
  assert(findPeer(region, peer.id)?.storeId === peer.storeId, `peer ${peer.id} is not in split region ${region.id}`);
}

export function cloneHandoff(h: SplitHandoff): SplitHandoff {
  return { left: cloneRegion(h.left), right: cloneRegion(h.right), newPeer: { ...h.newPeer }, index: h.index };
}

/** Checks a handoff on its way to and from storage (TigerBeetle: assert both sides). */
export function assertValidHandoff(h: SplitHandoff): void {
  assertValidRegion(h.left);
  assertValidRegion(h.right);
  assert(Number.isSafeInteger(h.index) && h.index > 0, `split handoff of region ${h.right.id}: bad index ${h.index}`);
  assert(findPeer(h.right, h.newPeer.id)?.storeId === h.newPeer.storeId, `split handoff: peer ${h.newPeer.id} not in region ${h.right.id}`);
  assert(h.left.epoch.version >= 1 && h.right.epoch.version >= 1, 'split handoff regions have epochs');
}

/** What the host does for a handoff; the Durable Object calls the scheduler and the new peer's object. */
export interface SplitHandoffHost {
  /** Tells the routing table both halves in one call, so it never has a gap. */
  reportSplit(left: RegionMeta, right: RegionMeta): Promise<void>;
  /** Initializes the new peer from the rows (idempotent); true once it holds the region. */
  initSplitPeer(peer: PeerMeta, region: RegionMeta, rows: SeedRow[]): Promise<boolean>;
}

/**
 * Finishes every pending handoff of `storage`, oldest split first. Routing
 * learns both halves before the new peer exists, so the new region's
 * leader, which reports only its own half, can never open a gap on the
 * left. Answers whether none is left pending; the caller retries otherwise.
 */
export async function runHandoffs(storage: PeerStorage, host: SplitHandoffHost): Promise<boolean> {
  const pending = storage.pendingSplits().sort((a, b) => a.index - b.index);
  for (const handoff of pending) {
    await host.reportSplit(handoff.left, handoff.right);
    // Read synchronously and passed as a copy: no SQL cursor across the await.
    const rows = handoffRows(storage, handoff);
    if (!(await host.initSplitPeer(handoff.newPeer, handoff.right, rows))) return false;
    // Still pending? A destroy meanwhile emptied everything, handoffs included.
    if (storage.pendingSplits().some((h) => h.right.id === handoff.right.id)) finishHandoff(storage, handoff);
  }
  return true;
}
