// A TxnRegionClient over in-memory regions: the key space is cut at the
// given split keys, and each region is a MemoryPeerStorage on which commands
// run through applyTxnCommand inside storage.write (as a peer applies them)
// and reads through readTxn. So coordinator tests exercise the real MVCC
// code; only Raft and the network are left out.
//
// Every call yields to the event loop a few times (a seeded choice), so
// concurrent transactions interleave between their region calls the way
// they do between RPCs. Tests can intercept calls to make them fail (a
// coordinator that dies at some step) and count commands by type.

import {
  applyTxnCommand,
  readTxn,
  txnSpan,
  type PrewriteAndCommit,
  type TxnCommandOutcomes,
  type TxnGet,
  type TxnGetOutcome,
  type TxnScan,
  type TxnScanOutcome,
} from '../../../src/percolator';
import type { OnePhaseOutcome, RegionSpan, RoutedTxnCommand, TxnRegionClient } from '../../../src/api/txn-region-client';
import { MemoryPeerStorage } from '../../../src/store/memory-peer-storage';
import { assert } from '../../../src/util/assert';
import { compareBytes } from '../../../src/util/bytes';

interface MemoryRegion extends RegionSpan {
  storage: MemoryPeerStorage;
  /**
   * The greatest ts a read was served at here (TiKV's max_ts). A one-phase
   * commit goes above it, as TxnRegionClient.commitOnePhase requires.
   */
  maxReadTs: bigint;
}

/** A call as the interceptor sees it, before it runs. */
export type RegionCall =
  | { kind: 'command'; cmd: RoutedTxnCommand }
  | { kind: 'onePhase'; cmd: PrewriteAndCommit }
  | { kind: 'get'; req: TxnGet }
  | { kind: 'scan'; req: TxnScan };

export class MemoryTxnRegions implements TxnRegionClient {
  readonly regions: MemoryRegion[];
  /** Commands run (or refused by the interceptor), by type: 'Prewrite', 'PrewriteAndCommit', 'TxnGet', …. */
  readonly counts = new Map<string, number>();
  /**
   * Runs before every call and is awaited (so it may run other calls first);
   * throwing makes the call fail as an RPC would.
   */
  intercept: ((call: RegionCall) => void | Promise<void>) | undefined;
  private seed: number;

  /** splitKeys: where regions start, ascending; n split keys make n + 1 regions. */
  constructor(splitKeys: readonly Uint8Array[] = [], seed = 1) {
    for (let i = 1; i < splitKeys.length; i++) {
      assert(compareBytes(splitKeys[i - 1]!, splitKeys[i]!) < 0, 'split keys must ascend');
    }
    const bounds = [new Uint8Array(0), ...splitKeys, new Uint8Array(0)];
    this.regions = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      this.regions.push({ startKey: bounds[i]!, endKey: bounds[i + 1]!, storage: new MemoryPeerStorage(), maxReadTs: 0n });
    }
    this.seed = seed;
  }

  async groupByRegion(keys: readonly Uint8Array[]): Promise<Uint8Array[][]> {
    await this.yieldSome();
    const groups = this.regions.map((): Uint8Array[] => []);
    for (const key of keys) groups[this.indexOf(key)]!.push(key);
    return groups.filter((g) => g.length > 0);
  }

  async command<C extends RoutedTxnCommand>(cmd: C): Promise<TxnCommandOutcomes[C['type']]> {
    await this.enter({ kind: 'command', cmd }, cmd.type);
    const span = txnSpan(cmd);
    assert(span.kind === 'keys', 'the coordinator sends keyed commands only');
    const region = this.regionOfAll(span.keys);
    assert(region !== undefined, `${cmd.type} keys span regions`);
    const out = this.apply(region, cmd);
    await this.yieldSome();
    return out;
  }

  async commitOnePhase(cmd: PrewriteAndCommit): Promise<OnePhaseOutcome> {
    await this.enter({ kind: 'onePhase', cmd }, cmd.type);
    const region = this.regionOfAll(cmd.mutations.map((m) => m.key));
    if (region === undefined) return { type: 'NotOneRegion' };
    const commitTs = cmd.commitTs > region.maxReadTs ? cmd.commitTs : region.maxReadTs + 1n;
    const out = this.apply(region, { ...cmd, commitTs });
    await this.yieldSome();
    return out;
  }

  async get(req: TxnGet): Promise<TxnGetOutcome> {
    await this.enter({ kind: 'get', req }, req.type);
    const region = this.regions[this.indexOf(req.key)]!;
    if (req.ts > region.maxReadTs) region.maxReadTs = req.ts;
    const out = readTxn(req, region.storage);
    await this.yieldSome();
    return out;
  }

  async scanRegion(req: TxnScan): Promise<{ outcome: TxnScanOutcome; region: RegionSpan }> {
    await this.enter({ kind: 'scan', req }, req.type);
    const region = this.regions[req.reverse === true ? this.indexBefore(req.end) : this.indexOf(req.start)]!;
    if (req.ts > region.maxReadTs) region.maxReadTs = req.ts;
    const start = compareBytes(req.start, region.startKey) >= 0 ? req.start : region.startKey;
    const end =
      region.endKey.length === 0 || (req.end.length > 0 && compareBytes(req.end, region.endKey) <= 0) ? req.end : region.endKey;
    const outcome = readTxn({ ...req, start, end }, region.storage);
    await this.yieldSome();
    return { outcome, region: { startKey: region.startKey, endKey: region.endKey } };
  }

  /** How many locks the regions hold, for asserting that a transaction left none behind. */
  lockCount(): number {
    return this.regions.reduce(
      (n, r) => n + r.storage.scan('lock', { start: new Uint8Array(0), end: new Uint8Array(0), limit: 1_000_000 }).length,
      0,
    );
  }

  count(type: string): number {
    return this.counts.get(type) ?? 0;
  }

  private apply<C extends RoutedTxnCommand | PrewriteAndCommit>(region: MemoryRegion, cmd: C): TxnCommandOutcomes[C['type']] {
    let out: TxnCommandOutcomes[C['type']] | undefined;
    region.storage.write((batch) => {
      out = applyTxnCommand(cmd, region.storage, batch);
    });
    assert(out !== undefined, 'the command ran');
    return out;
  }

  private async enter(call: RegionCall, type: string): Promise<void> {
    await this.yieldSome();
    this.counts.set(type, this.count(type) + 1);
    await this.intercept?.(call);
  }

  private indexOf(key: Uint8Array): number {
    for (let i = this.regions.length - 1; i >= 0; i--) {
      if (compareBytes(key, this.regions[i]!.startKey) >= 0) return i;
    }
    return 0;
  }

  /** The region holding the keys just below `end` (the last region when end is empty). */
  private indexBefore(end: Uint8Array): number {
    if (end.length === 0) return this.regions.length - 1;
    for (let i = this.regions.length - 1; i >= 0; i--) {
      if (compareBytes(this.regions[i]!.startKey, end) < 0) return i;
    }
    return 0;
  }

  private regionOfAll(keys: readonly Uint8Array[]): MemoryRegion | undefined {
    assert(keys.length > 0, 'a command has keys');
    const index = this.indexOf(keys[0]!);
    return keys.every((k) => this.indexOf(k) === index) ? this.regions[index] : undefined;
  }

  /** 0..2 turns of the event loop, from a small LCG so that a seed replays the same interleaving. */
  private async yieldSome(): Promise<void> {
    this.seed = (this.seed * 1103515245 + 12345) % 2147483648;
    const turns = this.seed % 3;
    for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
