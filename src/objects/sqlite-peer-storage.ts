// PeerStorage over a Durable Object's SQLite database: the raft log, the raft
// state (hard state, apply state, peer id), the region meta and the region's
// data, all in one database so that one `transactionSync` makes a whole
// Ready durable or none of it (DESIGN.md, "A region peer").
//
// What workerd's SqlStorage does, as verified under vitest-pool-workers:
// - BLOB columns come back as ArrayBuffer (a zero-length blob as an empty
//   ArrayBuffer, not null); Uint8Array bindings are accepted and only the
//   view's bytes are stored, so subarrays bind correctly.
// - INTEGER columns come back as number; values beyond 2^53 silently lose
//   precision, hence the safe-integer assertions on everything read back.
// - SQLite compares BLOBs with memcmp and a proper prefix sorts first, which
//   is exactly compareBytes' order, so `ORDER BY key` is the key order.
// - transactionSync(fn) rolls everything back when fn throws and rethrows
//   the very same error object; nested calls become savepoints. SQL BEGIN
//   and SAVEPOINT are refused, and PRAGMA user_version is not authorized.
// - Tables are STRICT, so a value of the wrong type is refused at write time
//   instead of being stored and misread later.

import {
  type Entry,
  EntryType,
  type HardState,
  type InitialState,
  type Snapshot,
  SnapshotTemporarilyUnavailableError,
  entrySize,
} from '../raft';
import { emptyHardState } from '../raft/storage';
import {
  type LogBounds,
  assertApplyStateAdvance,
  assertHardStateAdvance,
  assertIndex,
  assertKeyValue,
  assertPeerIdChange,
  assertRegionChange,
  assertScanOptions,
  assertStorageInvariants,
  assertValidApplyState,
  assertValidEntry,
  assertValidHardState,
  checkEntriesRange,
  checkTermIndex,
  cloneApplyState,
  emptyApplyState,
  entriesToAppend,
  firstIndexOf,
  lastIndexOf,
} from '../store/peer-storage-checks';
import type { ApplyState, ColumnFamily, KvPair, PeerStorage, ScanOptions, WriteBatch } from '../store/peer-storage';
import { type PeerMeta, type RegionMeta, assertValidRegion, cloneRegion } from '../store/region';
import { SnapshotCache } from '../store/snapshot';
import { type SplitHandoff, assertValidHandoff } from '../store/split';
import { decodeTagged, encodeTagged } from '../store/command-codec';
import { assert, unreachable } from '../util/assert';

/** Log rows read per query: bounds the memory of one entries() call before maxSize cuts it. */
const logReadPageRows = 256;

/** Column families as stored in kv.cf. The numbers are on disk: never renumber. */
const cfCodes: Record<ColumnFamily, number> = { raw: 0, default: 1, lock: 2, write: 3 };

/** Entry types as stored in raft_log.type. The numbers are on disk: never renumber. */
function entryTypeCode(t: EntryType): number {
  switch (t) {
    case EntryType.Normal:
      return 0;
    case EntryType.ConfChange:
      return 1;
    default:
      return unreachable(t, 'entry type');
  }
}

function entryTypeFromCode(code: number, index: number): EntryType {
  assert(code === 0 || code === 1, `raft_log row ${index}: unknown entry type code ${code}`);
  return code === 0 ? EntryType.Normal : EntryType.ConfChange;
}

const schema = [
  // The raft log. Invariant: holds exactly the indexes [logFirst, logLast].
  `CREATE TABLE IF NOT EXISTS raft_log (
     idx INTEGER PRIMARY KEY,
     term INTEGER NOT NULL,
     type INTEGER NOT NULL,
     data BLOB NOT NULL
   ) STRICT`,
  // At most one row (slot 0); absent means the empty state. `commit` is an
  // SQL keyword, hence commit_index.
  `CREATE TABLE IF NOT EXISTS raft_state (
     slot INTEGER PRIMARY KEY CHECK (slot = 0),
     term INTEGER NOT NULL,
     vote INTEGER NOT NULL,
     commit_index INTEGER NOT NULL,
     applied_index INTEGER NOT NULL,
     truncated_index INTEGER NOT NULL,
     truncated_term INTEGER NOT NULL,
     peer_id INTEGER
   ) STRICT`,
  // At most one row (slot 0): the region this peer belongs to, once known.
  `CREATE TABLE IF NOT EXISTS region (
     slot INTEGER PRIMARY KEY CHECK (slot = 0),
     id INTEGER NOT NULL,
     start_key BLOB NOT NULL,
     end_key BLOB NOT NULL,
     version INTEGER NOT NULL,
     conf_ver INTEGER NOT NULL,
     peers TEXT NOT NULL
   ) STRICT`,
  // All column families in one table: the primary key (cf, key) is the
  // B-tree order, so a scan of one family is one index range.
  `CREATE TABLE IF NOT EXISTS kv (
     cf INTEGER NOT NULL,
     key BLOB NOT NULL,
     value BLOB NOT NULL,
     PRIMARY KEY (cf, key)
   ) STRICT, WITHOUT ROWID`,
  // Splits applied whose new peer has not confirmed its rows yet
  // (src/store/split.ts), keyed by the new region's id; the handoff as
  // tagged JSON. Usually empty; a row lives from a split's apply until the
  // host's handoff finishes.
  `CREATE TABLE IF NOT EXISTS split_handoff (
     new_region_id INTEGER PRIMARY KEY,
     data BLOB NOT NULL
   ) STRICT`,
];

type Row = Record<string, SqlStorageValue>;

function int(row: Row, column: string): number {
  const v = row[column];
  assert(typeof v === 'number' && Number.isSafeInteger(v), `column ${column}: expected a safe integer, got ${String(v)}`);
  return v;
}

function bytes(row: Row, column: string): Uint8Array {
  const v = row[column];
  assert(v instanceof ArrayBuffer, `column ${column}: expected a BLOB`);
  return new Uint8Array(v);
}

function text(row: Row, column: string): string {
  const v = row[column];
  assert(typeof v === 'string', `column ${column}: expected TEXT`);
  return v;
}

/** The rows of a query, asserting there is at most one. */
function atMostOne(rows: Row[], what: string): Row | undefined {
  assert(rows.length <= 1, `${what}: ${rows.length} rows where at most one may be`);
  return rows[0];
}

function decodePeers(json: string, regionId: number): PeerMeta[] {
  const parsed: unknown = JSON.parse(json);
  assert(Array.isArray(parsed), `region ${regionId}: peers is not a JSON array`);
  return parsed.map((p: unknown) => {
    assert(typeof p === 'object' && p !== null, `region ${regionId}: a peer is not an object`);
    const { id, storeId } = p as { id?: unknown; storeId?: unknown };
    assert(typeof id === 'number' && Number.isSafeInteger(id), `region ${regionId}: bad peer id`);
    assert(typeof storeId === 'number' && Number.isSafeInteger(storeId), `region ${regionId}: bad store id`);
    return { id, storeId };
  });
}

/**
 * What is read on every Raft step, kept in memory. Fields are replaced, never
 * mutated in place, so a shallow copy is a snapshot to roll back to.
 * Invariant: equal to what the database holds, outside a write.
 */
interface Cached {
  hardState: HardState;
  applyState: ApplyState;
  peerId: number | undefined;
  region: RegionMeta | undefined;
  /** The first and last index in raft_log; both 0 when it is empty. */
  logFirst: number;
  logLast: number;
  /** Term of the entry at logLast (0 when empty): Raft asks for the last term on every append and vote. */
  logLastTerm: number;
}

function emptyCache(): Cached {
  return {
    hardState: emptyHardState(),
    applyState: emptyApplyState(),
    peerId: undefined,
    region: undefined,
    logFirst: 0,
    logLast: 0,
    logLastTerm: 0,
  };
}

export class SqlitePeerStorage implements PeerStorage {
  private readonly sql: SqlStorage;
  private cache: Cached;
  /** A write is running. Writes do not nest: one Ready, one transaction. */
  private writing = false;
  /** The last snapshot generated; memory only. */
  private readonly snapshots = new SnapshotCache();

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.migrate();
    this.cache = this.load();
  }

  /**
   * Creates the schema; idempotent, so it runs on every construction (the
   * PeerObject constructs this inside blockConcurrencyWhile). A later schema
   * change adds its step here, guarded by what the tables already hold:
   * PRAGMA user_version is not available to Durable Objects.
   */
  migrate(): void {
    this.storage.transactionSync(() => {
      for (const statement of schema) this.sql.exec(statement);
    });
  }

  // ---------------------------------------------------------------------------
  // Raft's Storage

  initialState(): InitialState {
    return {
      hardState: { ...this.cache.hardState },
      confState: { voters: this.cache.region?.peers.map((p) => p.id) ?? [] },
    };
  }

  entries(lo: number, hi: number, maxSize = Number.MAX_SAFE_INTEGER): Entry[] {
    checkEntriesRange(lo, hi, this.bounds());
    const out: Entry[] = [];
    let size = 0;
    let next = lo;
    // Page through the range so that a far-behind follower's request does
    // not load the whole log when maxSize keeps only the first megabyte.
    while (next < hi) {
      const pageRows = Math.min(hi - next, logReadPageRows);
      const rows = this.sql
        .exec('SELECT idx, term, type, data FROM raft_log WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?', next, hi, pageRows)
        .toArray();
      assert(rows.length === pageRows, `raft_log is missing entries in [${next}, ${next + pageRows})`);
      for (const row of rows) {
        const e = this.decodeEntry(row, next);
        size += entrySize(e);
        // Like limitSize: the first entry always goes, the rest while they fit.
        if (out.length > 0 && size > maxSize) return out;
        out.push(e);
        next++;
      }
    }
    return out;
  }

  term(i: number): number {
    const b = this.bounds();
    if (checkTermIndex(i, b)) return this.cache.applyState.truncatedState.term;
    if (i === this.cache.logLast) return this.cache.logLastTerm;
    const row = atMostOne(this.sql.exec('SELECT term FROM raft_log WHERE idx = ?', i).toArray(), 'raft_log term');
    assert(row !== undefined, `raft_log is missing entry ${i}`);
    const term = int(row, 'term');
    assert(term >= 1, `raft_log row ${i}: term ${term}`);
    return term;
  }

  firstIndex(): number {
    return firstIndexOf(this.bounds());
  }

  lastIndex(): number {
    return lastIndexOf(this.bounds());
  }

  /**
   * The region's data at the applied index (src/store/snapshot.ts). Read in
   * one synchronous pass: no await can interleave a write, so the rows are
   * exactly those at the applied index without an SQLite read transaction.
   */
  snapshot(): Snapshot {
    if (this.cache.region === undefined) throw new SnapshotTemporarilyUnavailableError('no region to snapshot yet');
    return this.snapshots.snapshot(this);
  }

  // ---------------------------------------------------------------------------
  // PeerStorage reads

  peerId(): number | undefined {
    return this.cache.peerId;
  }

  region(): RegionMeta | undefined {
    const r = this.cache.region;
    return r === undefined ? undefined : cloneRegion(r);
  }

  applyState(): ApplyState {
    return cloneApplyState(this.cache.applyState);
  }

  get(cf: ColumnFamily, key: Uint8Array): Uint8Array | undefined {
    assertKeyValue(key);
    const rows = this.sql.exec('SELECT value FROM kv WHERE cf = ? AND key = ?', cfCodes[cf], key).toArray();
    const row = atMostOne(rows, 'kv get');
    return row === undefined ? undefined : bytes(row, 'value');
  }

  scan(cf: ColumnFamily, o: ScanOptions): KvPair[] {
    assertScanOptions(o);
    if (o.limit === 0) return [];
    const order = o.reverse === true ? 'DESC' : 'ASC';
    const cursor =
      o.end.length === 0
        ? this.sql.exec(`SELECT key, value FROM kv WHERE cf = ? AND key >= ? ORDER BY key ${order} LIMIT ?`, cfCodes[cf], o.start, o.limit)
        : this.sql.exec(
            `SELECT key, value FROM kv WHERE cf = ? AND key >= ? AND key < ? ORDER BY key ${order} LIMIT ?`,
            cfCodes[cf],
            o.start,
            o.end,
            o.limit,
          );
    const out: KvPair[] = [];
    for (const row of cursor) out.push({ key: bytes(row, 'key'), value: bytes(row, 'value') });
    assert(out.length <= o.limit, 'scan returned more rows than its limit');
    return out;
  }

  pendingSplits(): SplitHandoff[] {
    const out: SplitHandoff[] = [];
    for (const row of this.sql.exec('SELECT new_region_id, data FROM split_handoff ORDER BY new_region_id')) {
      const handoff = decodeTagged(bytes(row, 'data')) as SplitHandoff;
      assertValidHandoff(handoff);
      assert(handoff.right.id === int(row, 'new_region_id'), 'split_handoff: row key disagrees with its region');
      out.push(handoff);
    }
    return out;
  }

  // ---------------------------------------------------------------------------
  // Writes

  write(fn: (batch: WriteBatch) => void): void {
    assert(!this.writing, 'write() does not nest');
    const saved = { ...this.cache };
    this.writing = true;
    let open = true;
    // raft_state changes several times in a typical batch (hard state, apply
    // state); it is written once, at the end.
    let stateDirty = false;
    const live = <A extends unknown[]>(f: (...args: A) => void) => (...args: A): void => {
      assert(open, 'a write batch is used after its write() returned');
      f(...args);
    };
    const batch: WriteBatch = {
      setPeerId: live((id: number) => {
        assertPeerIdChange(this.cache.peerId, id);
        this.cache.peerId = id;
        stateDirty = true;
      }),
      appendEntries: live((entries: Entry[]) => this.appendEntries(entries)),
      setHardState: live((hs: HardState) => {
        assertHardStateAdvance(this.cache.hardState, hs);
        this.cache.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
        stateDirty = true;
      }),
      setApplyState: live((state: ApplyState) => {
        assertApplyStateAdvance(this.cache.applyState, state);
        this.cache.applyState = cloneApplyState(state);
        stateDirty = true;
      }),
      setRegion: live((region: RegionMeta) => this.setRegion(region)),
      put: live((cf: ColumnFamily, key: Uint8Array, value: Uint8Array) => {
        assertKeyValue(key, value);
        this.sql.exec('INSERT OR REPLACE INTO kv (cf, key, value) VALUES (?, ?, ?)', cfCodes[cf], key, value);
      }),
      delete: live((cf: ColumnFamily, key: Uint8Array) => {
        assertKeyValue(key);
        this.sql.exec('DELETE FROM kv WHERE cf = ? AND key = ?', cfCodes[cf], key);
      }),
      deleteEntriesUpTo: live((upTo: number) => this.deleteEntriesUpTo(upTo)),
      deleteRange: live((cf: ColumnFamily, start: Uint8Array, end: Uint8Array) => {
        assertKeyValue(start);
        assertKeyValue(end);
        if (end.length === 0) this.sql.exec('DELETE FROM kv WHERE cf = ? AND key >= ?', cfCodes[cf], start);
        else this.sql.exec('DELETE FROM kv WHERE cf = ? AND key >= ? AND key < ?', cfCodes[cf], start, end);
      }),
      putPendingSplit: live((handoff: SplitHandoff) => {
        assertValidHandoff(handoff);
        this.sql.exec('INSERT OR REPLACE INTO split_handoff (new_region_id, data) VALUES (?, ?)', handoff.right.id, encodeTagged(handoff));
      }),
      deletePendingSplit: live((newRegionId: number) => {
        this.sql.exec('DELETE FROM split_handoff WHERE new_region_id = ?', newRegionId);
      }),
      destroy: live(() => {
        for (const table of ['raft_log', 'raft_state', 'region', 'kv', 'split_handoff']) this.sql.exec(`DELETE FROM ${table}`);
        this.cache = emptyCache();
        // The empty state is the absent row; nothing to write unless set again.
        stateDirty = false;
      }),
    };
    try {
      this.storage.transactionSync(() => {
        fn(batch);
        if (stateDirty) this.saveRaftState();
        assertStorageInvariants(this.cache.hardState, this.cache.applyState, this.bounds());
      });
    } catch (e) {
      // SQLite rolled back; the cache must say what SQLite says again.
      this.cache = saved;
      throw e;
    } finally {
      open = false;
      this.writing = false;
    }
  }

  private bounds(): LogBounds {
    return {
      truncatedIndex: this.cache.applyState.truncatedState.index,
      logFirst: this.cache.logFirst,
      logLast: this.cache.logLast,
    };
  }

  private appendEntries(entries: Entry[]): void {
    const b = this.bounds();
    const fresh = entriesToAppend(entries, b, (i) => this.term(i));
    if (fresh.length === 0) return;
    const start = fresh[0]!.index;
    const last = fresh[fresh.length - 1]!;
    if (b.logLast === 0 || start > b.logLast + 1) {
      // Only compacted leftovers (if anything) precede the new entries: drop
      // them, so the table stays one contiguous run.
      this.sql.exec('DELETE FROM raft_log');
      this.cache.logFirst = start;
    } else {
      // start >= firstIndex >= logFirst here (no hole after the truncated index).
      assert(start >= b.logFirst, `append at ${start} before the log start ${b.logFirst}`);
      this.sql.exec('DELETE FROM raft_log WHERE idx >= ?', start);
    }
    for (const e of fresh) {
      this.sql.exec('INSERT INTO raft_log (idx, term, type, data) VALUES (?, ?, ?, ?)', e.index, e.term, entryTypeCode(e.type), e.data);
    }
    this.cache.logLast = last.index;
    this.cache.logLastTerm = last.term;
  }

  private deleteEntriesUpTo(upTo: number): void {
    assertIndex(upTo, 'deleteEntriesUpTo');
    const { logFirst, logLast } = this.cache;
    if (logLast === 0 || upTo < logFirst) return;
    this.sql.exec('DELETE FROM raft_log WHERE idx <= ?', upTo);
    if (upTo >= logLast) {
      this.cache.logFirst = 0;
      this.cache.logLast = 0;
      this.cache.logLastTerm = 0;
    } else {
      this.cache.logFirst = upTo + 1;
    }
  }

  private setRegion(region: RegionMeta): void {
    assertRegionChange(this.cache.region, region);
    const r = cloneRegion(region);
    const peers = JSON.stringify(r.peers.map((p) => ({ id: p.id, storeId: p.storeId })));
    this.sql.exec(
      `INSERT OR REPLACE INTO region (slot, id, start_key, end_key, version, conf_ver, peers)
       VALUES (0, ?, ?, ?, ?, ?, ?)`,
      r.id,
      r.startKey,
      r.endKey,
      r.epoch.version,
      r.epoch.confVer,
      peers,
    );
    this.cache.region = r;
  }

  private saveRaftState(): void {
    const { hardState: hs, applyState: a, peerId } = this.cache;
    this.sql.exec(
      `INSERT OR REPLACE INTO raft_state
         (slot, term, vote, commit_index, applied_index, truncated_index, truncated_term, peer_id)
       VALUES (0, ?, ?, ?, ?, ?, ?, ?)`,
      hs.term,
      hs.vote,
      hs.commit,
      a.appliedIndex,
      a.truncatedState.index,
      a.truncatedState.term,
      peerId ?? null,
    );
  }

  // ---------------------------------------------------------------------------
  // Loading

  /** Reads back everything the cache holds, checking it as strictly as it was checked on write. */
  private load(): Cached {
    const c = emptyCache();
    const state = atMostOne(this.sql.exec('SELECT * FROM raft_state').toArray(), 'raft_state');
    if (state !== undefined) {
      assert(int(state, 'slot') === 0, 'raft_state: unexpected slot');
      c.hardState = { term: int(state, 'term'), vote: int(state, 'vote'), commit: int(state, 'commit_index') };
      assertValidHardState(c.hardState);
      c.applyState = {
        appliedIndex: int(state, 'applied_index'),
        truncatedState: { index: int(state, 'truncated_index'), term: int(state, 'truncated_term') },
      };
      assertValidApplyState(c.applyState);
      if (state.peer_id !== null) {
        c.peerId = int(state, 'peer_id');
        assert(c.peerId > 0, `raft_state: peer id ${c.peerId}`);
      }
    }
    const region = atMostOne(this.sql.exec('SELECT * FROM region').toArray(), 'region');
    if (region !== undefined) {
      const id = int(region, 'id');
      c.region = {
        id,
        startKey: bytes(region, 'start_key'),
        endKey: bytes(region, 'end_key'),
        epoch: { version: int(region, 'version'), confVer: int(region, 'conf_ver') },
        peers: decodePeers(text(region, 'peers'), id),
      };
      assertValidRegion(c.region);
    }
    const span = this.sql.exec('SELECT min(idx) AS first, max(idx) AS last FROM raft_log').one();
    if (span.last !== null) {
      c.logFirst = int(span, 'first');
      c.logLast = int(span, 'last');
      assert(c.logFirst >= 1 && c.logFirst <= c.logLast, `raft_log spans ${c.logFirst}..${c.logLast}`);
      const row = this.sql.exec('SELECT idx, term, type, data FROM raft_log WHERE idx = ?', c.logLast).one();
      c.logLastTerm = this.decodeEntry(row, c.logLast).term;
    }
    assertStorageInvariants(c.hardState, c.applyState, {
      truncatedIndex: c.applyState.truncatedState.index,
      logFirst: c.logFirst,
      logLast: c.logLast,
    });
    return c;
  }

  private decodeEntry(row: Row, expectedIndex: number): Entry {
    const index = int(row, 'idx');
    assert(index === expectedIndex, `raft_log: expected entry ${expectedIndex}, read ${index}`);
    const e: Entry = {
      index,
      term: int(row, 'term'),
      type: entryTypeFromCode(int(row, 'type'), index),
      data: bytes(row, 'data'),
    };
    assertValidEntry(e);
    return e;
  }
}
