// The scheduler's SQLite schema and row codecs. Everything the scheduler
// must not forget lives here: the id allocator's bound, the region table
// with each region's leader, the routing version, and the bootstrap plan.
// Rows are checked on the way in and on the way out (TigerBeetle style):
// the region table is the cluster's map, and a corrupt row must stop the
// scheduler rather than misroute.

import { type RegionRecord, type RegistryState } from '../scheduler/region-registry';
import { type IdLimitStore } from '../scheduler/id-allocator';
import { composeTs, decodeTs, encodeTs, logicalOf, physicalOf } from '../scheduler/tso';
import { type PeerMeta, type RegionMeta, assertValidRegion, findPeer } from '../store/region';
import { assert } from '../util/assert';

/** Schema changes, applied in order, each once; append only. */
const migrations: readonly string[] = [
  `CREATE TABLE regions (
     id INTEGER PRIMARY KEY,
     start_key BLOB NOT NULL,
     end_key BLOB NOT NULL,
     version INTEGER NOT NULL,
     conf_ver INTEGER NOT NULL,
     peers TEXT NOT NULL,
     leader_peer_id INTEGER
   );
   CREATE TABLE bootstrap_plan (
     id INTEGER PRIMARY KEY,
     start_key BLOB NOT NULL,
     end_key BLOB NOT NULL,
     version INTEGER NOT NULL,
     conf_ver INTEGER NOT NULL,
     peers TEXT NOT NULL
   );`,
  // The TSO's window end, as a timestamp in an 8-byte big-endian BLOB (not
  // in `meta`: SQLite integers reach JavaScript as doubles, exact only up to
  // 2^53, and timestamps are 64-bit). One row, kept so by the CHECK.
  `CREATE TABLE tso_window (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     window_end BLOB NOT NULL
   );`,
];

/** Keys of the `meta` table; every value is an integer. */
const metaKeys = {
  schemaVersion: 'schema_version',
  idLimit: 'id_limit',
  routingVersion: 'routing_version',
  /** 1 once the cluster is bootstrapped: the plan is saved, or regions were found already running. */
  bootstrapped: 'bootstrapped',
  /** 1 once every peer of the bootstrap plan has confirmed its bootstrap. */
  peersInitialized: 'peers_initialized',
} as const;
type MetaKey = (typeof metaKeys)[keyof typeof metaKeys];

type RegionRow = {
  id: number;
  start_key: ArrayBuffer;
  end_key: ArrayBuffer;
  version: number;
  conf_ver: number;
  peers: string;
  leader_peer_id: number | null;
};

/** What bootstrap left behind. */
export interface BootstrapRecord {
  bootstrapped: boolean;
  /** The first region as planned; undefined if not bootstrapped, or if the cluster was found already running. */
  plan: RegionMeta | undefined;
  /** Every peer of the plan confirmed its bootstrap (or there was no plan to carry out). */
  peersInitialized: boolean;
}

function toBlob(bytes: Uint8Array): ArrayBuffer {
  // A copy, so the blob holds exactly these bytes even if `bytes` is a view into a larger buffer.
  return bytes.slice().buffer;
}

function assertId(value: unknown, what: string): asserts value is number {
  assert(typeof value === 'number' && Number.isSafeInteger(value) && value > 0, `corrupt ${what}: ${String(value)}`);
}

function decodePeers(text: string, regionId: number): PeerMeta[] {
  const parsed: unknown = JSON.parse(text);
  assert(Array.isArray(parsed), `region ${regionId}: peers are not a list`);
  return parsed.map((p: unknown) => {
    assert(typeof p === 'object' && p !== null, `region ${regionId}: corrupt peer`);
    const { id, storeId } = p as Record<string, unknown>;
    assertId(id, `region ${regionId} peer id`);
    assertId(storeId, `region ${regionId} store id`);
    return { id, storeId };
  });
}

function encodePeers(peers: PeerMeta[]): string {
  return JSON.stringify(peers.map((p) => ({ id: p.id, storeId: p.storeId })));
}

function decodeRegion(row: Omit<RegionRow, 'leader_peer_id'>): RegionMeta {
  assert(
    row.start_key instanceof ArrayBuffer && row.end_key instanceof ArrayBuffer,
    `region ${row.id}: keys are not blobs`,
  );
  const region: RegionMeta = {
    id: row.id,
    startKey: new Uint8Array(row.start_key),
    endKey: new Uint8Array(row.end_key),
    epoch: { version: row.version, confVer: row.conf_ver },
    peers: decodePeers(row.peers, row.id),
  };
  assertValidRegion(region);
  return region;
}

export class SchedulerStorage implements IdLimitStore {
  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.migrate();
  }

  /** Runs `fn` as one SQLite transaction: its writes are all durable or none are. */
  transaction<T>(fn: () => T): T {
    return this.storage.transactionSync(fn);
  }

  loadIdLimit(): number | undefined {
    return this.getMeta(metaKeys.idLimit);
  }

  saveIdLimit(limit: number): void {
    assert(Number.isSafeInteger(limit) && limit > 0, `invalid id limit ${limit}`);
    const saved = this.getMeta(metaKeys.idLimit);
    assert(saved === undefined || limit > saved, `id limit must only grow: ${saved} -> ${limit}`);
    this.setMeta(metaKeys.idLimit, limit);
  }

  /** The TSO's saved window end in ms, or undefined if the oracle never saved one. */
  loadTsoWindowEnd(): number | undefined {
    const rows = this.sql.exec<{ window_end: ArrayBuffer }>('SELECT window_end FROM tso_window WHERE id = 1').toArray();
    const blob = rows[0]?.window_end;
    if (blob === undefined) return undefined;
    assert(blob instanceof ArrayBuffer && blob.byteLength === 8, 'corrupt TSO window: not an 8-byte blob');
    const end = decodeTs(new Uint8Array(blob));
    // Saved as the first timestamp of a millisecond; anything else is not ours.
    assert(logicalOf(end) === 0, `corrupt TSO window ${end}: logical part set`);
    return physicalOf(end);
  }

  /**
   * Saves the TSO's window end: no timestamp at or above its first one was
   * handed out. Must be durable before any timestamp below it is sent.
   */
  saveTsoWindowEnd(windowEndMs: number): void {
    const end = composeTs(windowEndMs, 0);
    const saved = this.loadTsoWindowEnd();
    assert(saved === undefined || windowEndMs > saved, `TSO window must only grow: ${saved} -> ${windowEndMs}`);
    this.sql.exec('INSERT OR REPLACE INTO tso_window (id, window_end) VALUES (1, ?)', toBlob(encodeTs(end)));
  }

  loadRegistry(): RegistryState {
    const records: RegionRecord[] = [];
    for (const row of this.sql.exec<RegionRow>('SELECT * FROM regions')) {
      const region = decodeRegion(row);
      let leader: PeerMeta | undefined;
      if (row.leader_peer_id !== null) {
        leader = findPeer(region, row.leader_peer_id);
        assert(leader !== undefined, `region ${region.id}: leader ${row.leader_peer_id} is not a member`);
      }
      records.push({ region, leader });
    }
    return { routingVersion: this.getMeta(metaKeys.routingVersion) ?? 0, records };
  }

  /** Writes one region's row as the registry now holds it; `undefined` deletes it (the region is gone). */
  saveRecord(regionId: number, record: RegionRecord | undefined): void {
    if (record === undefined) {
      this.sql.exec('DELETE FROM regions WHERE id = ?', regionId);
      return;
    }
    const { region, leader } = record;
    assert(region.id === regionId, `record of region ${region.id} saved as ${regionId}`);
    assertValidRegion(region);
    const member = leader === undefined || findPeer(region, leader.id) !== undefined;
    assert(member, `region ${regionId}: leader not a member`);
    this.sql.exec(
      `INSERT OR REPLACE INTO regions (id, start_key, end_key, version, conf_ver, peers, leader_peer_id)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      region.id,
      toBlob(region.startKey),
      toBlob(region.endKey),
      region.epoch.version,
      region.epoch.confVer,
      encodePeers(region.peers),
      leader?.id ?? null,
    );
  }

  saveRoutingVersion(version: number): void {
    assert(Number.isSafeInteger(version) && version >= 0, `invalid routing version ${version}`);
    this.setMeta(metaKeys.routingVersion, version);
  }

  loadBootstrap(): BootstrapRecord {
    const rows = this.sql.exec<Omit<RegionRow, 'leader_peer_id'>>('SELECT * FROM bootstrap_plan').toArray();
    assert(rows.length <= 1, `${rows.length} bootstrap plans`);
    const plan = rows[0] === undefined ? undefined : decodeRegion(rows[0]);
    const bootstrapped = this.getMeta(metaKeys.bootstrapped) === 1;
    const peersInitialized = this.getMeta(metaKeys.peersInitialized) === 1;
    assert(bootstrapped || (plan === undefined && !peersInitialized), 'bootstrap state without the bootstrapped flag');
    return { bootstrapped, plan, peersInitialized };
  }

  /**
   * Marks the cluster bootstrapped and records the plan, if there is one:
   * from here on the cluster counts as bootstrapped, whatever the peers answer.
   */
  saveBootstrapped(plan: RegionMeta | undefined): void {
    assert(!this.loadBootstrap().bootstrapped, 'the cluster is bootstrapped twice');
    this.setMeta(metaKeys.bootstrapped, 1);
    if (plan === undefined) return;
    assertValidRegion(plan);
    this.sql.exec(
      `INSERT INTO bootstrap_plan (id, start_key, end_key, version, conf_ver, peers) VALUES (?, ?, ?, ?, ?, ?)`,
      plan.id,
      toBlob(plan.startKey),
      toBlob(plan.endKey),
      plan.epoch.version,
      plan.epoch.confVer,
      encodePeers(plan.peers),
    );
  }

  markPeersInitialized(): void {
    this.setMeta(metaKeys.peersInitialized, 1);
  }

  private migrate(): void {
    this.sql.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)');
    const from = this.getMeta(metaKeys.schemaVersion) ?? 0;
    assert(from <= migrations.length, `schema version ${from} is newer than this code (${migrations.length})`);
    if (from === migrations.length) return;
    this.transaction(() => {
      for (let v = from; v < migrations.length; v++) this.sql.exec(migrations[v]!);
      this.setMeta(metaKeys.schemaVersion, migrations.length);
    });
  }

  private getMeta(key: MetaKey): number | undefined {
    const rows = this.sql.exec<{ value: number }>('SELECT value FROM meta WHERE key = ?', key).toArray();
    const value = rows[0]?.value;
    assert(value === undefined || Number.isSafeInteger(value), `corrupt meta ${key}: ${String(value)}`);
    return value;
  }

  private setMeta(key: MetaKey, value: number): void {
    this.sql.exec('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', key, value);
  }
}
