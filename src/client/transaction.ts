// One optimistic transaction: snapshot reads at startTs, writes buffered in
// memory and sent in a single commit (Percolator prewrite + commit happen on
// the server). Reads see the transaction's own buffered writes, as users of
// TiKV's client expect.

import {
  type As,
  type Data,
  type Out,
  type ReadOptions,
  bytesId,
  chooseEncoding,
  compareBytes,
  decodeData,
  encodeData,
  toBytes,
  utf8Decode,
} from './encoding';
import { type Transport, parseTs } from './http';
import { type Pair, type ScanOptions, type ScanResult, parseScan, scanBody, wirePairs } from './pairs';

export interface TxnScanOptions<A extends As = 'string'> extends ScanOptions<A> {
  reverse?: boolean;
}

interface BufferedWrite {
  key: Data;
  keyBytes: Uint8Array;
  /** null: a delete. */
  value: Data | null;
}

export class Transaction {
  private readonly writes = new Map<string, BufferedWrite>();
  private finished = false;
  private committed = false;
  private commitTsValue: bigint | null = null;

  constructor(
    private readonly transport: Transport,
    /** The snapshot every read of this transaction sees. */
    readonly startTs: bigint,
  ) {}

  /** The value of `key` at startTs, or this transaction's own write of it; null when absent. */
  async get<A extends As = 'string'>(key: Data, options: ReadOptions<A> = {}): Promise<Out<A> | null> {
    this.checkOpen();
    const buffered = this.writes.get(bytesId(toBytes(key)));
    if (buffered !== undefined) return buffered.value === null ? null : outOf(buffered.value, options.as);
    const encoding = chooseEncoding([key], options.as);
    const body: Record<string, unknown> = {
      startTs: this.startTs.toString(),
      keys: [encodeData(key, encoding)],
    };
    if (encoding === 'base64') body.encoding = 'base64';
    const [pair] = wirePairs(await this.transport.request('POST', '/v1/txn/get', body), 'txn/get');
    if (pair === undefined || pair.value === null) return null;
    return decodeData(pair.value, encoding, options.as);
  }

  /**
   * The pairs of [start, end) at startTs merged with this transaction's
   * buffered writes. When the server says `more`, buffered puts past its last
   * key are left for the next page so the pages stay in key order.
   */
  async scan<A extends As = 'string'>(options: TxnScanOptions<A>): Promise<ScanResult<A>> {
    this.checkOpen();
    // Bytes on the wire for the merge: comparisons must be on bytes, not UTF-16.
    const inputs: Data[] = [options.start, ...(options.end === undefined ? [] : [options.end])];
    const encoding = chooseEncoding(inputs, 'bytes');
    const body = { ...scanBody(options, encoding), startTs: this.startTs.toString(), reverse: options.reverse ?? false };
    const answer = await this.transport.request('POST', '/v1/txn/scan', body);
    const fetched = parseScan(answer, encoding, 'bytes', 'txn/scan');

    const start = toBytes(options.start);
    const end = options.end === undefined ? undefined : toBytes(options.end);
    const reverse = options.reverse ?? false;
    const order = (a: Uint8Array, b: Uint8Array) => (reverse ? compareBytes(b, a) : compareBytes(a, b));
    const last = fetched.pairs.at(-1)?.key;

    const merged = new Map<string, { key: Uint8Array; value: Data }>();
    for (const pair of fetched.pairs) merged.set(bytesId(pair.key), pair);
    for (const [id, write] of this.writes) {
      const k = write.keyBytes;
      const inRange = compareBytes(k, start) >= 0 && (end === undefined || end.length === 0 || compareBytes(k, end) < 0);
      if (!inRange) continue;
      if (write.value === null) {
        merged.delete(id);
      } else if (!fetched.more || last === undefined || order(k, last) <= 0) {
        merged.set(id, { key: k, value: write.value });
      }
    }
    const sorted = [...merged.values()].sort((a, b) => order(a.key, b.key));
    const limit = options.limit ?? 100;
    const pairs: Pair<A>[] = sorted.slice(0, limit).map((p) => ({ key: outOf(p.key, options.as), value: outOf(p.value, options.as) }));
    return { pairs, more: fetched.more || sorted.length > limit };
  }

  /** Buffers a write; nothing reaches the server before commit. */
  put(key: Data, value: Data): void {
    this.checkOpen();
    const keyBytes = toBytes(key);
    this.writes.set(bytesId(keyBytes), { key, keyBytes, value });
  }

  /** Buffers a delete (also of a key that is absent). */
  delete(key: Data): void {
    this.checkOpen();
    const keyBytes = toBytes(key);
    this.writes.set(bytesId(keyBytes), { key, keyBytes, value: null });
  }

  /** The number of buffered mutations. */
  get size(): number {
    return this.writes.size;
  }

  /**
   * Sends the buffered writes in one commit. A transaction that wrote nothing
   * skips the call: its reads were already a consistent snapshot, and the
   * server would answer `commitTs: null` anyway.
   */
  async commit(): Promise<bigint | null> {
    this.checkOpen();
    this.finished = true;
    this.committed = true;
    if (this.writes.size === 0) return null;
    const all: Data[] = [];
    for (const w of this.writes.values()) {
      all.push(w.key);
      if (w.value !== null) all.push(w.value);
    }
    const encoding = chooseEncoding(all, undefined);
    const mutations = [...this.writes.values()].map((w) =>
      w.value === null
        ? { op: 'delete', key: encodeData(w.key, encoding) }
        : { op: 'put', key: encodeData(w.key, encoding), value: encodeData(w.value, encoding) },
    );
    const body: Record<string, unknown> = { startTs: this.startTs.toString(), mutations };
    if (encoding === 'base64') body.encoding = 'base64';
    const answer = await this.transport.request('POST', '/v1/txn/commit', body);
    const commitTs = typeof answer === 'object' && answer !== null && 'commitTs' in answer ? answer.commitTs : undefined;
    this.commitTsValue = commitTs === null ? null : parseTs(commitTs, 'txn/commit.commitTs');
    return this.commitTsValue;
  }

  /** Whether commit() was called (by the callback or by RegionKV.transaction). */
  get isCommitted(): boolean {
    return this.committed;
  }

  /** The commitTs once committed; null before, or for a read-only transaction. */
  get commitTs(): bigint | null {
    return this.commitTsValue;
  }

  /** Ends the transaction without committing; later calls on it throw. */
  close(): void {
    this.finished = true;
  }

  private checkOpen(): void {
    // A callback that keeps `tx` and uses it after it returned would write
    // into a transaction that no longer commits: fail loudly instead.
    if (this.finished) throw new Error('this transaction is finished; use the tx of the running callback');
  }
}

function outOf<A extends As>(data: Data, as: A | undefined): Out<A> {
  if (as === 'bytes') return toBytes(data) as Out<A>;
  return (typeof data === 'string' ? data : utf8Decode(data)) as Out<A>;
}
