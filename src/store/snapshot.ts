// Region snapshots: what a leader sends a follower whose next entry was
// compacted away (DESIGN.md, "A region peer": the leader's data tables at
// the applied index, streamed in chunks, applied atomically on the receiver).
//
// Generating. Raft asks PeerStorage.snapshot() synchronously, on the leader.
// SQLite cannot hold a read view across an await, so the rows are copied
// right then, in one synchronous pass, into `Snapshot.data`: the region meta
// and every row of every column family inside the region's range. A copy is
// reused while it is still newer than the truncated index (see SnapshotCache).
//
// Sending. The peer cuts `data` into chunks below the RPC limits and sends
// one envelope per chunk, each carrying the Raft Snapshot message with its
// data left out (see chunkSnapshotMessage). The receiver reassembles the
// chunks in memory (SnapshotReceiver) and steps the whole message into Raft
// only once every chunk is there. A lost chunk loses the snapshot: the
// leader, hearing nothing, sends it all again within two election timeouts
// (Raft's retryUnconfirmedSnapshots), or sooner if the follower answers.
//
// Applying. Ready.snapshot is installed by applySnapshot in the Ready's one
// transaction: the region's data is replaced (so deletions made since the
// follower's last applied entry are carried over: the rows are simply not
// there), and the region meta, apply state and log follow the snapshot.

import type { Message, Snapshot, SnapshotMetadata } from '../raft';
import { MessageType } from '../raft';
import { assert } from '../util/assert';
import { cfRange } from './cf-range';
import { decodeTagged, encodeTagged } from './command-codec';
import { assertValidApplyState } from './peer-storage-checks';
import { type ColumnFamily, type KvPair, type PeerStorage, type WriteBatch, columnFamilies } from './peer-storage';
import { type RegionMeta, assertValidRegion, cloneRegion, isEpochStale } from './region';

/** What Snapshot.data holds, decoded. */
export interface SnapshotData {
  region: RegionMeta;
  /** Every row of each column family inside the region's range, in key order. */
  rows: Record<ColumnFamily, KvPair[]>;
}

/** The chunk of a snapshot's data that one envelope carries. */
export interface SnapshotChunk {
  /** Identifies the snapshot together with the envelope's sender and message term. */
  snapshotIndex: number;
  /** 0-based position of this chunk. Invariant: seq < total. */
  seq: number;
  total: number;
  data: Uint8Array;
}

/**
 * Bytes of snapshot data per chunk: each chunk travels in an RPC of its own
 * (Durable Object RPC payloads are bounded at 32 MiB; one megabyte keeps a
 * chunk cheap to retry and far below that).
 */
export const snapshotChunkBytesDefault = 1024 * 1024;
/** Bounds what one snapshot can make a receiver hold in memory (chunks × chunk size). */
export const snapshotChunksMax = 256;
/** Rows read per scan while generating: bounds one query's result, not the snapshot. */
const generateScanRows = 1024;
/** Bounds the rows of one snapshot, so a corrupt range cannot loop forever. */
export const snapshotRowsMax = 10_000_000;
/** Format version, the first byte of Snapshot.data. */
const formatVersion = 1;

// -----------------------------------------------------------------------------
// Encoding: [version u8][region JSON length u32][region JSON] then, per column
// family in `columnFamilies` order, [count u32] and count × [key length u32]
// [key][value length u32][value]. Binary, because base64 JSON would make every
// region's snapshot a third larger.

export function encodeSnapshotData(snap: SnapshotData): Uint8Array {
  assertValidRegion(snap.region);
  const regionBytes = encodeTagged(cloneRegion(snap.region));
  let size = 1 + 4 + regionBytes.length;
  for (const cf of columnFamilies) {
    size += 4;
    for (const p of snap.rows[cf]) size += 8 + p.key.length + p.value.length;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  out[at++] = formatVersion;
  view.setUint32(at, regionBytes.length);
  at += 4;
  out.set(regionBytes, at);
  at += regionBytes.length;
  for (const cf of columnFamilies) {
    const rows = snap.rows[cf];
    view.setUint32(at, rows.length);
    at += 4;
    for (const p of rows) {
      view.setUint32(at, p.key.length);
      at += 4;
      out.set(p.key, at);
      at += p.key.length;
      view.setUint32(at, p.value.length);
      at += 4;
      out.set(p.value, at);
      at += p.value.length;
    }
  }
  assert(at === size, `snapshot encoding wrote ${at} of ${size} bytes`);
  return out;
}

export function decodeSnapshotData(data: Uint8Array): SnapshotData {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  const need = (n: number) => assert(at + n <= data.length, `snapshot data truncated at byte ${at}`);
  const u32 = (): number => {
    need(4);
    const n = view.getUint32(at);
    at += 4;
    return n;
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    const b = data.slice(at, at + n);
    at += n;
    return b;
  };
  need(1);
  assert(data[at++] === formatVersion, `snapshot data: unknown format ${data[0]}`);
  const region = decodeTagged(bytes(u32())) as RegionMeta;
  assert(typeof region === 'object' && region !== null && Array.isArray(region.peers), 'snapshot data: bad region');
  assertValidRegion(region);
  const rows = { raw: [], default: [], lock: [], write: [] } as Record<ColumnFamily, KvPair[]>;
  for (const cf of columnFamilies) {
    const count = u32();
    // Each row takes at least 8 bytes, which bounds the loop by the data's size.
    assert(count * 8 <= data.length - at, `snapshot data: ${count} ${cf} rows cannot fit`);
    for (let i = 0; i < count; i++) {
      const key = bytes(u32());
      const value = bytes(u32());
      rows[cf].push({ key, value });
    }
  }
  assert(at === data.length, `snapshot data: ${data.length - at} trailing bytes`);
  return { region, rows };
}

/** Only the region meta, without decoding every row (the receiver's epoch check). */
export function decodeSnapshotRegion(data: Uint8Array): RegionMeta {
  assert(data.length >= 5 && data[0] === formatVersion, 'snapshot data: bad header');
  const n = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1);
  assert(5 + n <= data.length, 'snapshot data: region truncated');
  const region = decodeTagged(data.subarray(5, 5 + n)) as RegionMeta;
  assert(typeof region === 'object' && region !== null && Array.isArray(region.peers), 'snapshot data: bad region');
  assertValidRegion(region);
  return region;
}

// -----------------------------------------------------------------------------
// Generating (leader)

/** Every row of `cf` in [start, end), paging through the storage's scan. */
function scanAll(storage: PeerStorage, cf: ColumnFamily, start: Uint8Array, end: Uint8Array): KvPair[] {
  const out: KvPair[] = [];
  let from = start;
  for (let pages = 0; ; pages++) {
    assert(pages * generateScanRows <= snapshotRowsMax, `snapshot: column family ${cf} has too many rows`);
    const page = storage.scan(cf, { start: from, end, limit: generateScanRows });
    for (const p of page) out.push(p);
    if (page.length < generateScanRows) return out;
    // The smallest key after the last one: the last key with a zero byte appended.
    const last = page[page.length - 1]!.key;
    from = new Uint8Array(last.length + 1);
    from.set(last);
  }
}

/**
 * The region's snapshot at the applied index, read synchronously. Its
 * confState is the region's peers, which is the Raft configuration at the
 * applied index, because conf changes update the region meta when applied.
 */
export function generateSnapshot(storage: PeerStorage): Snapshot {
  const region = storage.region();
  assert(region !== undefined, 'only an initialized peer generates snapshots');
  const { appliedIndex } = storage.applyState();
  const metadata: SnapshotMetadata = {
    index: appliedIndex,
    term: storage.term(appliedIndex),
    confState: { voters: region.peers.map((p) => p.id) },
  };
  const rows = { raw: [], default: [], lock: [], write: [] } as Record<ColumnFamily, KvPair[]>;
  for (const cf of columnFamilies) {
    const range = cfRange(cf, region.startKey, region.endKey);
    rows[cf] = scanAll(storage, cf, range.start, range.end);
  }
  return { metadata, data: encodeSnapshotData({ region, rows }) };
}

/**
 * Remembers the last generated snapshot, so that a leader retrying a
 * snapshot, or sending one to two followers, does not copy the region each
 * time. A copy stays good while its index is at or above the truncated index:
 * a follower that installs it can continue from the log. Memory only.
 */
export class SnapshotCache {
  private last: Snapshot | undefined;

  snapshot(storage: PeerStorage): Snapshot {
    const { truncatedState, appliedIndex } = storage.applyState();
    const last = this.last;
    // Reused while a follower installing it can continue from our log, and
    // never from a future the storage does not have (after destroy, say).
    if (last !== undefined && last.metadata.index >= truncatedState.index && last.metadata.index <= appliedIndex) {
      return last;
    }
    this.last = generateSnapshot(storage);
    return this.last;
  }

  /** The storage was replaced underneath (a snapshot was installed, or destroyed): forget the copy. */
  clear(): void {
    this.last = undefined;
  }
}

// -----------------------------------------------------------------------------
// Chunking (both sides)

/**
 * Splits a Snapshot message into per-chunk copies whose snapshot carries no
 * data, and the chunks. The caller's message (and the cached snapshot it
 * points to) is not modified.
 */
export function chunkSnapshotMessage(
  m: Message,
  chunkBytes: number,
): { message: Message; chunk: SnapshotChunk }[] {
  assert(m.type === MessageType.Snapshot && m.snapshot !== undefined, 'only Snapshot messages are chunked');
  assert(Number.isSafeInteger(chunkBytes) && chunkBytes > 0, `bad snapshot chunk size ${chunkBytes}`);
  const data = m.snapshot.data;
  const total = Math.max(1, Math.ceil(data.length / chunkBytes));
  assert(total <= snapshotChunksMax, `snapshot of ${data.length} bytes needs ${total} chunks, over ${snapshotChunksMax}`);
  const bare: Message = { ...m, snapshot: { metadata: m.snapshot.metadata, data: new Uint8Array(0) } };
  const out: { message: Message; chunk: SnapshotChunk }[] = [];
  for (let seq = 0; seq < total; seq++) {
    out.push({
      message: bare,
      chunk: {
        snapshotIndex: m.snapshot.metadata.index,
        seq,
        total,
        data: data.subarray(seq * chunkBytes, Math.min(data.length, (seq + 1) * chunkBytes)),
      },
    });
  }
  return out;
}

interface Assembly {
  term: number;
  snapshotIndex: number;
  total: number;
  chunks: (Uint8Array | undefined)[];
  received: number;
  message: Message;
}

/**
 * Reassembles chunked snapshots, per sender. A sender has one snapshot in
 * flight at a time, so a chunk of another snapshot (another index or term)
 * replaces what was gathered from that sender; duplicates are ignored.
 */
export class SnapshotReceiver {
  /** By sender peer id. Invariant: each assembly has received < total. */
  private assemblies = new Map<number, Assembly>();

  /** Takes one chunk; returns the whole Snapshot message once every chunk is there. */
  receive(message: Message, chunk: SnapshotChunk): Message | undefined {
    const snap = message.snapshot;
    if (message.type !== MessageType.Snapshot || snap === undefined) return undefined;
    const { seq, total, snapshotIndex } = chunk;
    // Malformed input from the network is dropped, not asserted: the sender retries.
    if (!Number.isSafeInteger(total) || total < 1 || total > snapshotChunksMax) return undefined;
    if (!Number.isSafeInteger(seq) || seq < 0 || seq >= total) return undefined;
    if (snapshotIndex !== snap.metadata.index) return undefined;
    let a = this.assemblies.get(message.from);
    if (a === undefined || a.term !== message.term || a.snapshotIndex !== snapshotIndex || a.total !== total) {
      a = { term: message.term, snapshotIndex, total, chunks: new Array<Uint8Array | undefined>(total), received: 0, message };
      this.assemblies.set(message.from, a);
    }
    if (a.chunks[seq] !== undefined) return undefined;
    a.chunks[seq] = chunk.data;
    a.received++;
    if (a.received < a.total) return undefined;
    this.assemblies.delete(message.from);
    let size = 0;
    for (const c of a.chunks) size += c!.length;
    const data = new Uint8Array(size);
    let at = 0;
    for (const c of a.chunks) {
      data.set(c!, at);
      at += c!.length;
    }
    return { ...a.message, snapshot: { metadata: snap.metadata, data } };
  }

  /** Chunks held, for tests and status. */
  pendingSenders(): number {
    return this.assemblies.size;
  }
}

// -----------------------------------------------------------------------------
// Receiving and applying (follower)

export type SnapshotRefusal = 'WrongRegion' | 'StaleEpoch';

/**
 * TiKV's check_snapshot, before Raft sees the snapshot: refuse one for
 * another region, or one whose epoch is older than ours (it was taken
 * before a split or conf change we already applied; installing it would
 * move our region back). A store-wide check that the snapshot's range does
 * not overlap a newer region held by another peer on this store is not
 * possible here: each Durable Object holds exactly one peer and knows of no
 * other. The scheduler's registry, which refuses stale epochs, is where
 * such an overlap would be seen.
 */
export function checkSnapshot(ours: RegionMeta | undefined, theirs: RegionMeta): SnapshotRefusal | undefined {
  if (ours === undefined) return undefined;
  if (ours.id !== theirs.id) return 'WrongRegion';
  if (isEpochStale(theirs.epoch, ours.epoch)) return 'StaleEpoch';
  return undefined;
}

/**
 * Installs a snapshot inside the Ready's batch: replaces the region's data
 * (every column family, over both the old and the new key range), sets the
 * region meta, the apply state (applied = truncated = the snapshot's index)
 * and drops the whole log, whose entries are either in the snapshot or
 * conflict with it. Works on a storage with no region yet (a new peer): it
 * then simply has nothing to delete. The caller sets the hard state Raft
 * hands out with the same Ready, and the peer id if it was not set yet.
 */
export function applySnapshot(batch: WriteBatch, storage: PeerStorage, snapshot: Snapshot): SnapshotData {
  const { index, term } = snapshot.metadata;
  const decoded = decodeSnapshotData(snapshot.data);
  const region = decoded.region;
  const ours = storage.region();
  assert(checkSnapshot(ours, region) === undefined, `snapshot at ${index} of region ${region.id} is refused by region ${ours?.id}`);
  const voters = [...snapshot.metadata.confState.voters].sort((a, b) => a - b);
  const members = region.peers.map((p) => p.id).sort((a, b) => a - b);
  assert(
    voters.length === members.length && voters.every((v, i) => v === members[i]),
    `snapshot at ${index}: confState ${voters.join(',')} disagrees with the region's peers ${members.join(',')}`,
  );
  const current = storage.applyState();
  assert(index > current.appliedIndex, `snapshot at ${index} is not newer than applied ${current.appliedIndex}`);
  for (const cf of columnFamilies) {
    if (ours !== undefined) {
      const old = cfRange(cf, ours.startKey, ours.endKey);
      batch.deleteRange(cf, old.start, old.end);
    }
    const fresh = cfRange(cf, region.startKey, region.endKey);
    batch.deleteRange(cf, fresh.start, fresh.end);
    for (const p of decoded.rows[cf]) batch.put(cf, p.key, p.value);
  }
  batch.setRegion(region);
  const applyState = { appliedIndex: index, truncatedState: { index, term } };
  assertValidApplyState(applyState);
  batch.setApplyState(applyState);
  batch.deleteEntriesUpTo(Number.MAX_SAFE_INTEGER);
  return decoded;
}

/** For logs and tests: a short description of a snapshot. */
export function describeSnapshot(snapshot: Snapshot): string {
  const region = decodeSnapshotRegion(snapshot.data);
  return `snapshot of region ${region.id} at ${snapshot.metadata.index}/${snapshot.metadata.term} (${snapshot.data.length} bytes)`;
}
