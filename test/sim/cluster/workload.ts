// TinyKV's generic test as a workload on the simulated cluster: N writers run
// concurrently; writer c puts fresh keys "<c> <seq>" (seq zero-padded, so key
// order is put order) and now and then scans its own range, which must hold
// exactly what it put so far, in order. Readers (and writers, between puts)
// also read other writers' keys and ranges.
//
// The rules every read is checked against, for one writer's keys (each key
// is put once, never deleted, so each is a register written once):
// - a key that was never put does not appear;
// - a put acknowledged before the read started appears, with the value of
//   the attempt that was acknowledged (no earlier attempt can apply after
//   it: each went either to the same leader, which takes requests in the
//   order they arrive, or to a leader of an older term, whose entries can
//   only come before it in the log);
// - a put that some read showed (acknowledged or not: an in-flight put, or
//   one answered 503, may take effect) appears in every read that starts
//   after that read finished — once visible, never gone;
// - whatever appears was written by an attempt of that put which was not
//   answered with an error promising it never applies (StaleCommand,
//   NotLeader, RegionNotFound).
//
// Each attempt the router makes for a put writes a value of its own
// ("x <c> <seq> <attempt>"), so a value read back names the attempt that
// wrote it. The same values, decoded from the applied Raft log, check every
// attempt's answer against what was applied.

import { UnavailableError } from '../../../src/api/errors';
import { EntryType } from '../../../src/raft';
import { decodeCommand } from '../../../src/store/command-codec';
import type { KvPair } from '../../../src/store/peer-storage';
import type { RegionError, Result, WriteResponse } from '../../../src/store/requests';
import { fromUtf8, utf8 } from '../../../src/util/bytes';
import { SimFailure, type SimCluster, type SimWorker } from './cluster';

export interface WorkloadOptions {
  /** Clients that put (and read). */
  clients: number;
  /** Clients that only read other clients' keys, so that some reads never queue behind a hung put. */
  readers?: number;
  /** Probability that a writer's next operation is a scan of its own range. */
  scanRate?: number;
  /** Probability that a reader's next operation is a scan (else a get). */
  readerScanRate?: number;
  /** Probability that a writer's next operation reads a key of another writer. */
  crossGetRate?: number;
  /** Probability that a writer reads back the key it just put, once acknowledged. */
  getAfterPutRate?: number;
  /**
   * Between two operations a client waits a uniform [0, thinkMaxMs): clients
   * drift apart instead of moving in lockstep, and a simulated second holds
   * fewer operations, which keeps many seeds affordable.
   */
  thinkMaxMs?: number;
}

export interface WorkloadStats {
  puts: number;
  acked: number;
  uncertain: number;
  attempts: number;
  /** Attempts answered with a region error, by error type. */
  rejected: Record<string, number>;
  scans: number;
  gets: number;
  /** Reads that gave up with 503 (nothing to check). */
  readsUnavailable: number;
}

type AttemptOutcome = { kind: 'ok' } | { kind: 'rejected'; error: RegionError['type'] };

export interface PutRecord {
  client: number;
  seq: number;
  key: string;
  /** The value each attempt wrote, in attempt order. */
  attempts: string[];
  state: 'pending' | 'acked' | 'uncertain';
  /** The value of the attempt that was acknowledged. */
  ackedValue: string | undefined;
  startedAt: number;
  /** When the put was acknowledged or gave up. */
  endedAt: number | undefined;
  /** When the first read that showed this put finished: reads that start later must show it. */
  seenAt: number | undefined;
}

interface Writer {
  id: number;
  worker: SimWorker;
  nextSeq: number;
  /** Indexed by seq. */
  puts: PutRecord[];
}

/** Errors that come before a proposal exists or that promise it never applies. */
const notAppliedErrors: ReadonlySet<RegionError['type']> = new Set(['NotLeader', 'RegionNotFound', 'StaleCommand']);

/** Scan pages are small enough that a writer's range takes several, exercising `more`. */
const scanPageLimit = 500;

/** A reader with nothing to read yet waits this long before looking again. */
const idleReaderMs = 20;

export function keyOf(client: number, seq: number): string {
  return `${client} ${String(seq).padStart(8, '0')}`;
}

export class Workload {
  readonly stats: WorkloadStats = {
    puts: 0,
    acked: 0,
    uncertain: 0,
    attempts: 0,
    rejected: {},
    scans: 0,
    gets: 0,
    readsUnavailable: 0,
  };
  private readonly writers: Writer[];
  private readonly readers: SimWorker[];
  /** The answer each attempt got, by the value it wrote; absent: no answer arrived (lost, timed out, reset). */
  private readonly outcomes = new Map<string, AttemptOutcome>();
  private stopping = false;
  private runningLoops = 0;
  private readonly scanRate: number;
  private readonly readerScanRate: number;
  private readonly crossRate: number;
  private readonly getRate: number;
  private readonly thinkMaxMs: number;

  constructor(
    private readonly cluster: SimCluster,
    options: WorkloadOptions,
    private readonly rand: () => number,
  ) {
    // Scans cost the simulator in proportion to what was put so far; gets do not.
    this.scanRate = options.scanRate ?? 0.1;
    this.readerScanRate = options.readerScanRate ?? 0.25;
    this.crossRate = options.crossGetRate ?? 0.2;
    this.getRate = options.getAfterPutRate ?? 0.2;
    this.thinkMaxMs = options.thinkMaxMs ?? 40;
    this.writers = Array.from({ length: options.clients }, (_, id) => ({
      id,
      worker: cluster.worker(),
      nextSeq: 0,
      puts: [],
    }));
    this.readers = Array.from({ length: options.readers ?? 0 }, () => cluster.worker());
  }

  /** Starts every client's loop; they run on the simulated clock until `stop`. */
  start(): void {
    this.stopping = false;
    const launch = (loop: Promise<void>) => {
      this.runningLoops++;
      loop.catch((e: unknown) => this.cluster.clock.fail(e)).finally(() => this.runningLoops--);
    };
    for (const writer of this.writers) launch(this.writerLoop(writer));
    this.readers.forEach((worker, i) => launch(this.readerLoop(worker, i)));
  }

  /** Clients finish the operation they are in and stop. */
  stop(): void {
    this.stopping = true;
  }

  running(): boolean {
    return this.runningLoops > 0;
  }

  /** Puts whose first attempt started at or after `t`. */
  putsStartedSince(t: number): PutRecord[] {
    return this.writers.flatMap((w) => w.puts.filter((p) => p.startedAt >= t));
  }

  private async writerLoop(writer: Writer): Promise<void> {
    while (!this.stopping) {
      await this.think();
      const dice = this.rand();
      if (dice < this.scanRate) {
        await this.scanAndCheck(writer.worker, writer, `client ${writer.id} scans its range`);
      } else if (dice < this.scanRate + this.crossRate) {
        const other = this.pick(this.writers.filter((w) => w !== writer && w.nextSeq > 0));
        if (other !== undefined) await this.getAndCheck(writer.worker, other, this.pickSeq(other), `client ${writer.id} reads`);
      } else {
        const put = await this.put(writer);
        if (put.state === 'acked' && this.rand() < this.getRate) {
          await this.getAndCheck(writer.worker, writer, put.seq, `client ${writer.id} reads back`);
        }
      }
    }
  }

  private async readerLoop(worker: SimWorker, index: number): Promise<void> {
    while (!this.stopping) {
      await this.think();
      const writer = this.pick(this.writers.filter((w) => w.nextSeq > 0));
      if (writer === undefined) {
        await this.cluster.clock.delay(idleReaderMs).promise;
      } else if (this.rand() >= this.readerScanRate) {
        await this.getAndCheck(worker, writer, this.pickSeq(writer), `reader ${index}`);
      } else {
        await this.scanAndCheck(worker, writer, `reader ${index} scans client ${writer.id}`);
      }
    }
  }

  private async think(): Promise<void> {
    const ms = Math.floor(this.rand() * this.thinkMaxMs);
    if (ms > 0) await this.cluster.clock.delay(ms).promise;
  }

  private pick<T>(items: T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.rand() * items.length)];
  }

  /** Mostly recent puts (where the interesting races are), sometimes any. */
  private pickSeq(writer: Writer): number {
    const n = writer.nextSeq;
    return this.rand() < 0.7 ? Math.max(0, n - 1 - Math.floor(this.rand() * 5)) : Math.floor(this.rand() * n);
  }

  // ---------------------------------------------------------------------------
  // Operations

  private async put(writer: Writer): Promise<PutRecord> {
    const clock = this.cluster.clock;
    const seq = writer.nextSeq++;
    const key = keyOf(writer.id, seq);
    const keyBytes = utf8(key);
    const record: PutRecord = {
      client: writer.id,
      seq,
      key,
      attempts: [],
      state: 'pending',
      ackedValue: undefined,
      startedAt: clock.now(),
      endedAt: undefined,
      seenAt: undefined,
    };
    writer.puts.push(record);
    this.stats.puts++;
    try {
      // RoutedRawStore.put is this same call with one value for every attempt;
      // a value per attempt is what lets the checks name the attempt that applied.
      await writer.worker.router.onRegionOf(keyBytes, (peer, header) => {
        const value = `x ${writer.id} ${seq} ${record.attempts.length}`;
        record.attempts.push(value);
        this.stats.attempts++;
        this.cluster.trace(`client ${writer.id}: put ${key} = ${value} to peer ${header.peerId}`);
        const answer = peer.write(header, [{ type: 'RawPut', key: keyBytes, value: utf8(value) }]);
        answer
          .then(
            (result) => {
              this.cluster.trace(`client ${writer.id}: ${value} answered ${result.ok ? 'ok' : result.error.type}`);
              this.recordOutcome(value, result);
            },
            () => undefined, // lost or reset: no answer, the attempt stays possible
          )
          .catch((e: unknown) => this.cluster.clock.fail(e));
        return answer;
      });
      const acked = record.attempts[record.attempts.length - 1]!;
      if (this.outcomes.get(acked)?.kind !== 'ok') {
        throw new SimFailure(`put ${key} was acknowledged, but its last attempt ${acked} was not answered ok`);
      }
      record.state = 'acked';
      record.ackedValue = acked;
      this.stats.acked++;
    } catch (e) {
      if (!(e instanceof UnavailableError)) throw e;
      record.state = 'uncertain';
      this.stats.uncertain++;
      this.cluster.trace(`client ${writer.id}: put ${key} unavailable after ${record.attempts.length} attempts`);
    }
    record.endedAt = clock.now();
    this.checkBounded(`put ${key}`, record.startedAt);
    return record;
  }

  private recordOutcome(value: string, result: Result<WriteResponse>): void {
    const outcome: AttemptOutcome = result.ok ? { kind: 'ok' } : { kind: 'rejected', error: result.error.type };
    if (this.outcomes.has(value)) throw new SimFailure(`attempt ${value} was answered twice`);
    this.outcomes.set(value, outcome);
    if (outcome.kind === 'rejected') this.stats.rejected[outcome.error] = (this.stats.rejected[outcome.error] ?? 0) + 1;
  }

  /** The router promises a 503 by its deadline: an operation may not hang past it. */
  private checkBounded(what: string, startedAt: number): void {
    const policy = this.cluster.policy;
    // The last attempt may start just before the deadline and wait out its
    // RPC timeout; the route lookup and the backoff add a little.
    const boundMs = policy.deadlineMs + policy.rpcTimeoutMs + policy.backoffMaxMs + 200;
    const took = this.cluster.clock.now() - startedAt;
    if (took > boundMs) throw new SimFailure(`${what} took ${took} ms, past the router's bound of ${boundMs} ms`);
  }

  private async getAndCheck(worker: SimWorker, writer: Writer, seq: number, what: string): Promise<void> {
    const clock = this.cluster.clock;
    const key = keyOf(writer.id, seq);
    const issuedAt = clock.now();
    this.stats.gets++;
    let value: Uint8Array | undefined;
    try {
      value = await worker.store.get(utf8(key));
    } catch (e) {
      if (!(e instanceof UnavailableError)) throw e;
      this.stats.readsUnavailable++;
      return;
    }
    this.checkBounded(`get ${key}`, issuedAt);
    const found = new Map<number, string>();
    if (value !== undefined) found.set(seq, fromUtf8(value));
    this.checkRead(writer, found, [seq], issuedAt, `${what}: get ${key} issued at ${issuedAt} ms`);
  }

  /**
   * Scans `writer`'s range (page by page) and checks it. Returns false if
   * the cluster answered 503.
   */
  private async scanAndCheck(worker: SimWorker, writer: Writer, what: string): Promise<boolean> {
    const issuedAt = this.cluster.clock.now();
    const pairs = await this.scanRange(worker, writer.id);
    if (pairs === undefined) return false;
    const where = `${what}: scan issued at ${issuedAt} ms`;
    const found = new Map<number, string>();
    let previous = -1;
    for (const pair of pairs) {
      const key = fromUtf8(pair.key);
      const { client, seq } = this.parseKey(key, where);
      if (client !== writer.id) throw new SimFailure(`${where}: key ${key} is outside the scanned range`);
      if (seq <= previous) throw new SimFailure(`${where}: key ${key} out of order or repeated`);
      previous = seq;
      found.set(seq, fromUtf8(pair.value));
    }
    // Puts started while the scan ran count too: what it showed of them binds later reads.
    const seqs = Array.from({ length: writer.nextSeq }, (_, i) => i);
    this.checkRead(writer, found, seqs, issuedAt, where);
    return true;
  }

  private async scanRange(worker: SimWorker, client: number): Promise<KvPair[] | undefined> {
    const end = utf8(`${client}!`); // '!' follows ' ': the range is exactly the keys "<client> ..."
    let cursor = utf8(`${client} `);
    const pairs: KvPair[] = [];
    this.stats.scans++;
    try {
      for (;;) {
        const page = await worker.store.scan(cursor, end, scanPageLimit);
        pairs.push(...page.pairs);
        if (!page.more) return pairs;
        const last = page.pairs[page.pairs.length - 1]!.key;
        // The smallest key after `last`.
        cursor = new Uint8Array(last.length + 1);
        cursor.set(last);
      }
    } catch (e) {
      if (!(e instanceof UnavailableError)) throw e;
      this.stats.readsUnavailable++;
      return undefined;
    }
  }

  /**
   * Checks what one read issued at `issuedAt` (and finishing now) showed of
   * `writer`'s puts with the given seqs, by the rules at the top of this
   * file, and records what it saw for the reads that come after it.
   */
  private checkRead(writer: Writer, found: Map<number, string>, seqs: number[], issuedAt: number, where: string): void {
    const now = this.cluster.clock.now();
    for (const seq of found.keys()) {
      if (seq >= writer.nextSeq) throw new SimFailure(`${where}: ${keyOf(writer.id, seq)} was never put`);
    }
    for (const seq of seqs) {
      const put = writer.puts[seq]!;
      const value = found.get(seq);
      const ackedBefore = put.state === 'acked' && put.endedAt! <= issuedAt;
      if (value === undefined) {
        if (ackedBefore) {
          throw new SimFailure(`${where}: ${put.key}, acknowledged at ${put.endedAt} ms as ${put.ackedValue}, is missing`);
        }
        if (put.seenAt !== undefined && put.seenAt <= issuedAt) {
          throw new SimFailure(`${where}: ${put.key} was shown by a read that finished at ${put.seenAt} ms and is gone`);
        }
        continue;
      }
      if (ackedBefore && value !== put.ackedValue) {
        throw new SimFailure(`${where}: ${put.key}, acknowledged at ${put.endedAt} ms as ${put.ackedValue}, reads ${value}`);
      }
      this.checkAttemptMayApply(put, value, where);
      if (put.seenAt === undefined || now < put.seenAt) put.seenAt = now;
    }
  }

  private parseKey(key: string, where: string): { client: number; seq: number } {
    const m = /^(\d+) (\d{8})$/.exec(key);
    if (m === null) throw new SimFailure(`${where}: key ${JSON.stringify(key)} was never put by any client`);
    const client = Number(m[1]);
    const seq = Number(m[2]);
    const owner = this.writers[client];
    if (owner === undefined || seq >= owner.nextSeq) throw new SimFailure(`${where}: key ${key} was never put`);
    return { client, seq };
  }

  private checkAttemptMayApply(put: PutRecord, value: string, where: string): void {
    if (!put.attempts.includes(value)) {
      throw new SimFailure(`${where}: ${put.key} holds ${value}, which no attempt of that put wrote`);
    }
    const outcome = this.outcomes.get(value);
    if (outcome?.kind === 'rejected' && notAppliedErrors.has(outcome.error)) {
      throw new SimFailure(`${where}: ${put.key} holds ${value}, whose attempt was answered ${outcome.error}`);
    }
  }

  // ---------------------------------------------------------------------------
  // Checks between rounds and at the end

  /**
   * Every writer's range, scanned through a fresh worker (a new isolate,
   * with an empty route cache), with retries: a 503 at this point is a
   * liveness problem only if it lasts.
   */
  async checkAllClients(what: string, maxMs = 60_000): Promise<void> {
    const worker = this.cluster.worker();
    for (const writer of this.writers) {
      const check = async () => {
        for (let attempt = 0; ; attempt++) {
          if (await this.scanAndCheck(worker, writer, `${what}, client ${writer.id}`)) return;
          if (attempt >= 5) throw new SimFailure(`${what}, client ${writer.id}: the scan kept answering 503`);
        }
      };
      await this.cluster.settle(check(), maxMs, `${what} of client ${writer.id}`);
    }
  }

  /**
   * Checks one peer's applied data directly: nothing in it that was never
   * put or whose attempt was refused; with `complete` (the peer caught up),
   * also every acknowledged put and every put a read has shown.
   */
  checkPeerData(peerId: number, complete: boolean): void {
    const where = `peer ${peerId}'s data at ${this.cluster.clock.now()} ms`;
    const found = new Map<string, string>();
    for (const pair of this.cluster.rawData(peerId)) {
      const key = fromUtf8(pair.key);
      const { client, seq } = this.parseKey(key, where);
      const value = fromUtf8(pair.value);
      this.checkAttemptMayApply(this.writers[client]!.puts[seq]!, value, where);
      found.set(key, value);
    }
    if (!complete) return;
    for (const writer of this.writers) {
      for (const put of writer.puts) {
        const value = found.get(put.key);
        if (put.state === 'acked' && value !== put.ackedValue) {
          throw new SimFailure(`${where}: acknowledged put ${put.key} (${put.ackedValue}) holds ${value ?? 'nothing'}`);
        }
        if (put.seenAt !== undefined && value === undefined) {
          throw new SimFailure(`${where}: ${put.key}, shown by a read at ${put.seenAt} ms, is missing`);
        }
      }
    }
  }

  /** The minority side of a partition must not have applied any of these puts. */
  checkPeerLacks(peerId: number, puts: PutRecord[], what: string): void {
    const storage = this.cluster.storage(peerId);
    for (const put of puts) {
      const value = storage.get('raw', utf8(put.key));
      if (value !== undefined) {
        throw new SimFailure(`peer ${peerId}, ${what}: holds ${put.key} = ${fromUtf8(value)}, put during the partition`);
      }
    }
  }

  /**
   * Checks every answer against the applied log: an attempt answered ok was
   * applied; one answered with an error that promises "not applied" was not;
   * no attempt was applied twice. With `dataOf`, also that the peer's data
   * is the log's puts replayed in order (apply did what the log says).
   */
  checkAppliedLog(dataOf?: number): void {
    const applied = new Set<string>();
    const expected = new Map<string, string>();
    for (const { index, type, data } of this.cluster.appliedEntries()) {
      // A new leader's empty entry, or a membership change: no workload data.
      if (data.length === 0 || type !== EntryType.Normal) continue;
      const command = decodeCommand(data);
      if (command.kind !== 'Write') continue; // admin commands carry no workload data
      for (const request of command.requests) {
        if (request.type !== 'RawPut') throw new SimFailure(`entry ${index}: the workload never sends ${request.type}`);
        const value = fromUtf8(request.value);
        if (applied.has(value)) throw new SimFailure(`entry ${index}: attempt ${value} applied a second time`);
        applied.add(value);
        expected.set(fromUtf8(request.key), value);
      }
    }
    for (const [value, outcome] of this.outcomes) {
      const inLog = applied.has(value);
      if (outcome.kind === 'ok' && !inLog) throw new SimFailure(`attempt ${value} was answered ok but was never applied`);
      if (outcome.kind === 'rejected' && notAppliedErrors.has(outcome.error) && inLog) {
        throw new SimFailure(`attempt ${value} was answered ${outcome.error} but was applied`);
      }
    }
    if (dataOf === undefined) return;
    const data = this.cluster.rawData(dataOf);
    if (data.length !== expected.size) {
      throw new SimFailure(`peer ${dataOf} holds ${data.length} keys, the applied log puts ${expected.size}`);
    }
    for (const pair of data) {
      const key = fromUtf8(pair.key);
      if (expected.get(key) !== fromUtf8(pair.value)) {
        throw new SimFailure(`peer ${dataOf}: ${key} = ${fromUtf8(pair.value)}, the applied log says ${expected.get(key)}`);
      }
    }
  }
}
