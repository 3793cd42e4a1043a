// regionkv/client: the TypeScript SDK of regionkv (API.md). It uses only
// `fetch` and web-platform globals, so the same module runs in Workers,
// browsers and Node >= 20.
//
//   const kv = new RegionKV({ url: 'http://127.0.0.1:8787', token: 'dev-token' });
//   await kv.put('greeting', 'hello');
//   await kv.transaction(async (tx) => {
//     const n = Number((await tx.get('counter')) ?? '0');
//     tx.put('counter', String(n + 1));
//   });

import {
  type As,
  type Data,
  type Out,
  type ReadOptions,
  type WireEncoding,
  chooseEncoding,
  decodeData,
  encodeData,
} from './encoding';
import { RegionKVError } from './errors';
import { type FetchLike, Transport, asRecord, field, isString, parseTs } from './http';
import { type ScanOptions, type ScanResult, parseScan, scanBody } from './pairs';
import { Transaction, type TxnScanOptions } from './transaction';

export { RegionKVError, retryableTxnCodes, type ErrorCode } from './errors';
export type { As, Data, Out, ReadOptions } from './encoding';
export type { FetchLike } from './http';
export type { Pair, ScanOptions, ScanResult } from './pairs';
export { Transaction, type TxnScanOptions } from './transaction';

export interface RetryOptions {
  /** Retries after the first attempt (default 10). */
  retries?: number;
  /** The first backoff, doubled on each retry (default 10 ms). */
  baseDelayMs?: number;
  /** The cap of one backoff (default 1000 ms). */
  maxDelayMs?: number;
}

export interface RegionKVOptions {
  /** The worker's base URL, e.g. `https://regionkv.example.workers.dev`. */
  url: string;
  /** The API token (`API_TOKEN`). */
  token: string;
  /** The admin token for `admin.*` member changes; defaults to `token`. */
  adminToken?: string;
  /** A fetch to use instead of the global one (tests, service bindings). */
  fetch?: FetchLike;
  /** Abort a request after this long (default: no client-side timeout). */
  timeoutMs?: number;
  /** Defaults of transaction(); each call may override them. */
  retry?: RetryOptions;
  /** For tests: how backoff waits and where its jitter comes from. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface TransactionOptions extends RetryOptions {}

const defaultRetry: Required<RetryOptions> = { retries: 10, baseDelayMs: 10, maxDelayMs: 1000 };

function withEncoding(path: string, encoding: WireEncoding): string {
  return encoding === 'base64' ? `${path}?encoding=base64` : path;
}

function keyPath(prefix: string, key: Data, encoding: WireEncoding): string {
  return withEncoding(`${prefix}/${encodeURIComponent(encodeData(key, encoding))}`, encoding);
}

/** GET of a single key: the value, or null on 404 (an absent key is not an error for callers). */
async function getOne<A extends As>(transport: Transport, prefix: string, key: Data, as: A | undefined): Promise<Out<A> | null> {
  const encoding = chooseEncoding([key], as);
  let answer: unknown;
  try {
    answer = await transport.request('GET', keyPath(prefix, key, encoding));
  } catch (err) {
    if (err instanceof RegionKVError && err.code === 'NOT_FOUND') return null;
    throw err;
  }
  return decodeData(field(asRecord(answer, 'get'), 'value', isString, 'get'), encoding, as);
}

function putBody(value: Data, encoding: WireEncoding): Record<string, unknown> {
  return encoding === 'base64' ? { value: encodeData(value, encoding), encoding } : { value: encodeData(value, encoding) };
}

export class RegionKV {
  readonly raw: RawClient;
  readonly admin: AdminClient;
  private readonly transport: Transport;
  private readonly retry: Required<RetryOptions>;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(options: RegionKVOptions) {
    // Bound: in Workers an unbound global fetch throws "Illegal invocation".
    const fetchFn = options.fetch ?? ((input: string, init?: RequestInit) => fetch(input, init));
    this.transport = new Transport({ url: options.url, token: options.token, fetch: fetchFn, timeoutMs: options.timeoutMs });
    this.retry = { ...defaultRetry, ...options.retry };
    this.sleep = options.sleep ?? ((ms) => new Promise((done) => setTimeout(done, ms)));
    this.random = options.random ?? Math.random;
    this.raw = new RawClient(this.transport);
    this.admin = new AdminClient(this.transport, options.adminToken ?? options.token);
  }

  /** The value of `key` at a fresh timestamp; null when absent. */
  get<A extends As = 'string'>(key: Data, options: ReadOptions<A> = {}): Promise<Out<A> | null> {
    return getOne(this.transport, '/v1/kv', key, options.as);
  }

  /** Writes one key in a transaction of its own; resolves to its commitTs. */
  async put(key: Data, value: Data): Promise<bigint> {
    const encoding = chooseEncoding([key, value], undefined);
    // The encoding goes in the body only (it covers the path key too).
    const path = `/v1/kv/${encodeURIComponent(encodeData(key, encoding))}`;
    const answer = await this.transport.request('PUT', path, putBody(value, encoding));
    return parseTs(asRecord(answer, 'put').commitTs, 'put.commitTs');
  }

  /** Deletes one key (also when absent) in a transaction of its own; resolves to its commitTs. */
  async delete(key: Data): Promise<bigint> {
    const encoding = chooseEncoding([key], undefined);
    const answer = await this.transport.request('DELETE', keyPath('/v1/kv', key, encoding));
    return parseTs(asRecord(answer, 'delete').commitTs, 'delete.commitTs');
  }

  /** A consistent scan of the transactional key space at a fresh startTs. */
  async scan<A extends As = 'string'>(options: TxnScanOptions<A>): Promise<ScanResult<A>> {
    const startTs = await this.begin();
    const encoding = chooseEncoding([options.start, ...(options.end === undefined ? [] : [options.end])], options.as);
    const body = { ...scanBody(options, encoding), startTs: startTs.toString(), reverse: options.reverse ?? false };
    return parseScan(await this.transport.request('POST', '/v1/txn/scan', body), encoding, options.as, 'txn/scan');
  }

  /** A fresh startTs from the timestamp oracle. */
  async begin(): Promise<bigint> {
    return parseTs(asRecord(await this.transport.request('POST', '/v1/txn/begin', {}), 'begin').startTs, 'begin.startTs');
  }

  /**
   * Runs `body` in a transaction and commits its buffered writes. A 409
   * (WRITE_CONFLICT, KEY_LOCKED, TXN_ABORTED) from a read or the commit runs
   * `body` again in a new transaction after a jittered exponential backoff,
   * up to `retries` times; then the last 409 is thrown. Any other error is
   * thrown at once and nothing is committed. `body` may therefore run more
   * than once: keep side effects out of it. `body` may call `tx.commit()`
   * itself as its last step, e.g. to read `tx.commitTs`.
   */
  async transaction<T>(body: (tx: Transaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const retry = { ...this.retry, ...options };
    for (let attempt = 0; ; attempt++) {
      const tx = new Transaction(this.transport, await this.begin());
      try {
        const result = await body(tx);
        // The callback may commit itself (to learn the commitTs); a 409 from
        // that commit still lands in the catch below and is retried.
        if (!tx.isCommitted) await tx.commit();
        return result;
      } catch (err) {
        tx.close();
        if (!(err instanceof RegionKVError && err.retryable) || attempt >= retry.retries) throw err;
      }
      await this.sleep(backoffMs(attempt, retry, this.random));
    }
  }
}

/**
 * "Equal jitter": half of the exponential step is fixed so retries always
 * wait a little, the other half random so competing clients spread out
 * instead of colliding again in lockstep.
 */
export function backoffMs(attempt: number, retry: Required<RetryOptions>, random: () => number): number {
  const step = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attempt);
  return step / 2 + (step / 2) * random();
}

/** The raw key space: linearizable single-key operations, no transactions. */
export class RawClient {
  constructor(private readonly transport: Transport) {}

  get<A extends As = 'string'>(key: Data, options: ReadOptions<A> = {}): Promise<Out<A> | null> {
    return getOne(this.transport, '/v1/raw', key, options.as);
  }

  async put(key: Data, value: Data): Promise<void> {
    const encoding = chooseEncoding([key, value], undefined);
    const path = `/v1/raw/${encodeURIComponent(encodeData(key, encoding))}`;
    await this.transport.request('PUT', path, putBody(value, encoding));
  }

  async delete(key: Data): Promise<void> {
    const encoding = chooseEncoding([key], undefined);
    await this.transport.request('DELETE', keyPath('/v1/raw', key, encoding));
  }

  async scan<A extends As = 'string'>(options: ScanOptions<A>): Promise<ScanResult<A>> {
    const encoding = chooseEncoding([options.start, ...(options.end === undefined ? [] : [options.end])], options.as);
    return parseScan(await this.transport.request('POST', '/v1/raw/scan', scanBody(options, encoding)), encoding, options.as, 'raw/scan');
  }
}

export interface Peer {
  id: number;
  storeId: number;
}

export interface Region<K = string> {
  id: number;
  startKey: K;
  endKey: K;
  epoch: { version: number; confVer: number };
  peers: Peer[];
}

export interface ClusterRegion<K = string> extends Region<K> {
  leader: number | null;
  approximateBytes: number;
  approximateKeys: number;
}

export interface Store {
  id: number;
  regionCount: number;
  leaderCount: number;
  approximateBytes: number;
  locationHint?: string;
}

export interface Cluster<K = string> {
  stores: Store[];
  regions: ClusterRegion<K>[];
}

interface WireRegion {
  startKey: string;
  endKey: string;
}

/** Region keys from base64 (always asked for, so binary boundaries never fail the call) to what the caller wants. */
function regionKeys<R extends WireRegion, A extends As>(region: R, as: A | undefined): Omit<R, 'startKey' | 'endKey'> & { startKey: Out<A>; endKey: Out<A> } {
  return { ...region, startKey: decodeData(region.startKey, 'base64', as), endKey: decodeData(region.endKey, 'base64', as) };
}

/**
 * Cluster view and operations. `cluster()` takes the API token; the others
 * take the admin token. Answers are shape-checked only lightly: they are for
 * operators and the CLI.
 */
export class AdminClient {
  constructor(
    private readonly transport: Transport,
    private readonly adminToken: string,
  ) {}

  async cluster<A extends As = 'string'>(options: ReadOptions<A> = {}): Promise<Cluster<Out<A>>> {
    const answer = asRecord(await this.transport.request('GET', '/v1/cluster?encoding=base64'), 'cluster') as unknown as Cluster<string>;
    return { stores: answer.stores, regions: answer.regions.map((r) => regionKeys(r, options.as)) };
  }

  async split(key: Data): Promise<{ left: Region; right: Region }> {
    const encoding = chooseEncoding([key], undefined);
    const body = encoding === 'base64' ? { key: encodeData(key, encoding), encoding } : { key: encodeData(key, encoding) };
    const answer = (await this.transport.request('POST', '/v1/admin/split', body, this.adminToken)) as { left: Region; right: Region };
    if (encoding === 'utf8') return answer;
    return { left: regionKeys(answer.left, 'string'), right: regionKeys(answer.right, 'string') };
  }

  async transferLeader(regionId: number, toStoreId: number): Promise<{ leader: number }> {
    return (await this.transport.request('POST', '/v1/admin/transfer-leader', { regionId, toStoreId }, this.adminToken)) as { leader: number };
  }

  async addPeer(regionId: number, storeId: number): Promise<Region> {
    return (await this.transport.request('POST', '/v1/admin/add-peer', { regionId, storeId }, this.adminToken)) as Region;
  }

  async removePeer(regionId: number, peerId: number): Promise<Region> {
    return (await this.transport.request('POST', '/v1/admin/remove-peer', { regionId, peerId }, this.adminToken)) as Region;
  }

  async storeDown(storeId: number): Promise<unknown> {
    return this.transport.request('POST', `/v1/admin/stores/${storeId}/down`, {}, this.adminToken);
  }

  async storeUp(storeId: number): Promise<unknown> {
    return this.transport.request('POST', `/v1/admin/stores/${storeId}/up`, {}, this.adminToken);
  }
}
