// The worker's TxnRegionClient: Percolator commands and reads on the Raft
// regions, through RegionRouter (leader discovery, epoch errors, retries).
// Mirrors test/unit/api/memory-txn-regions.ts, with what a real cluster
// adds: a command whose keys split after grouping is re-run per region, and
// one-phase commit follows the peer's max_ts protocol (Peer.maxReadTs):
// refused with MaxTsUnknown or CommitTsTooOld, it retries with a fresh TSO
// timestamp, which is why this client holds the TSO.

import {
  type PrewriteAndCommit,
  type PrewriteAndCommitOutcome,
  type TxnCommandOutcome,
  type TxnCommandOutcomes,
  type TxnGet,
  type TxnGetOutcome,
  type TxnScan,
  type TxnScanOutcome,
  txnSpan,
} from '../percolator';
import type { RegionMeta } from '../store/region';
import type { MaxTsFloor, WriteRequest, WriteResponse } from '../store/requests';
import { assert, unreachable } from '../util/assert';
import { compareBytes } from '../util/bytes';
import { UnavailableError } from './errors';
import type { RegionRouter } from './region-router';
import type { OnePhaseOutcome, RegionSpan, RoutedTxnCommand, TxnRegionClient } from './txn-region-client';

/** Refusals a 1PC may meet in a row (each costs a TSO round trip; leader changes cause them) before we call the region unavailable. */
const onePhaseAttemptsMax = 8;
/** Times a reverse scan re-plans because the region it aimed at shrank under it. */
const reverseScanPlansMax = 8;

/** Outcomes after which a per-region re-run goes on to the next region. */
const successTypes: ReadonlySet<TxnCommandOutcome['type']> = new Set(['Prewritten', 'Committed', 'RolledBack', 'Resolved', 'LockTtl', 'Locked']);

export class RoutedTxnRegions implements TxnRegionClient {
  constructor(
    private readonly router: RegionRouter,
    /** A fresh TSO timestamp (TsoClient.getTimestamp). */
    private readonly timestamp: () => Promise<bigint>,
  ) {}

  async groupByRegion(keys: readonly Uint8Array[]): Promise<Uint8Array[][]> {
    const groups = new Map<number, { region: RegionMeta; keys: Uint8Array[] }>();
    for (const key of keys) {
      const region = await this.router.regionOf(key);
      const group = groups.get(region.id);
      if (group === undefined) groups.set(region.id, { region, keys: [key] });
      else group.keys.push(key);
    }
    return [...groups.values()].sort((a, b) => compareBytes(a.region.startKey, b.region.startKey)).map((g) => g.keys);
  }

  async command<C extends RoutedTxnCommand>(cmd: C): Promise<TxnCommandOutcomes[C['type']]> {
    const value = await this.write(cmd, undefined);
    switch (value.type) {
      case 'TxnOutcome':
        // The peer ran `cmd`, whose outcome type is the one its type names.
        return value.outcome as TxnCommandOutcomes[C['type']];
      case 'TxnSpansRegions':
        return this.commandPerRegion(cmd);
      default:
        throw new Error(`a ${cmd.type} answered ${value.type}`);
    }
  }

  /** The keys split since they were grouped: one command per region, first failure wins (see TxnRegionClient.command). */
  private async commandPerRegion<C extends RoutedTxnCommand>(cmd: C): Promise<TxnCommandOutcomes[C['type']]> {
    const span = txnSpan(cmd);
    // Range scopes are not sent by the coordinator; single-key commands cannot span.
    assert(span.kind === 'keys' && span.keys.length > 1, `${cmd.type} cannot span regions`);
    const groups = await this.groupByRegion(span.keys);
    let last: TxnCommandOutcomes[C['type']] | undefined;
    for (const keys of groups) {
      const out = await this.command(restrictTo(cmd, keys));
      if (!successTypes.has(out.type)) return out;
      last = out;
    }
    assert(last !== undefined, 'a command has keys');
    return last;
  }

  async commitOnePhase(input: PrewriteAndCommit): Promise<OnePhaseOutcome> {
    let cmd = input;
    let floor: MaxTsFloor | undefined;
    for (let attempt = 0; attempt < onePhaseAttemptsMax; attempt++) {
      const value = await this.write(cmd, floor);
      switch (value.type) {
        case 'TxnOutcome':
          return value.outcome as PrewriteAndCommitOutcome;
        case 'TxnSpansRegions':
          return { type: 'NotOneRegion' };
        case 'MaxTsUnknown': {
          // Fetched after the refusal, so it bounds every read an earlier leader served (Peer.maxReadTs).
          const ts = await this.timestamp();
          cmd = { ...cmd, commitTs: ts };
          floor = { term: value.term, ts };
          continue;
        }
        case 'CommitTsTooOld': {
          // A read ts that came from the TSO is below a fresh one. One that
          // is not (a client read at a startTs of its own making, ahead of
          // the oracle) would refuse every 1PC here: two-phase commit does
          // not depend on max_ts, so fall back to it rather than fail.
          const ts = await this.timestamp();
          if (ts <= value.maxReadTs) return { type: 'NotOneRegion' };
          cmd = { ...cmd, commitTs: ts };
          floor = undefined;
          continue;
        }
        case 'Written':
          throw new Error('a one-phase commit answered Written');
        default:
          return unreachable(value);
      }
    }
    throw new UnavailableError('the region kept refusing a one-phase commit', 1);
  }

  async get(req: TxnGet): Promise<TxnGetOutcome> {
    const { value } = await this.router.onRegionOf(req.key, (peer, header) => peer.read(header, { type: 'Txn', read: req }));
    assert(value.type === 'TxnRead', `expected a TxnRead answer, got ${value.type}`);
    return value.outcome as TxnGetOutcome;
  }

  async scanRegion(req: TxnScan): Promise<{ outcome: TxnScanOutcome; region: RegionSpan }> {
    if (req.reverse !== true) {
      const { value } = await this.router.onRegionOf(req.start, (peer, header) => peer.read(header, { type: 'Txn', read: req }));
      assert(value.type === 'TxnRead', `expected a TxnRead answer, got ${value.type}`);
      return { outcome: value.outcome as TxnScanOutcome, region: spanOf(value.region) };
    }
    for (let plan = 0; plan < reverseScanPlansMax; plan++) {
      // The region holding the keys just below req.end: walk from req.start
      // (the router has no "region before"; routes are cached, so this is cheap).
      let target = await this.router.regionOf(req.start);
      while (target.endKey.length > 0 && (req.end.length === 0 || compareBytes(target.endKey, req.end) < 0)) {
        target = await this.router.regionOf(target.endKey);
      }
      const start = compareBytes(req.start, target.startKey) >= 0 ? req.start : target.startKey;
      const read: TxnScan = { ...req, start };
      const { value } = await this.router.onRegionOf(start, (peer, header) => peer.read(header, { type: 'Txn', read }));
      assert(value.type === 'TxnRead', `expected a TxnRead answer, got ${value.type}`);
      const served = value.region;
      // The region split under us and no longer reaches req.end: the top of
      // the range was not scanned, so plan again rather than skip it.
      if (served.endKey.length > 0 && (req.end.length === 0 || compareBytes(served.endKey, req.end) < 0)) continue;
      return { outcome: value.outcome as TxnScanOutcome, region: spanOf(served) };
    }
    throw new UnavailableError('the regions kept changing under a reverse scan', 1);
  }

  /** Proposes one command on the leader of the region of its first key (the peer routes by it too). */
  private async write(cmd: RoutedTxnCommand | PrewriteAndCommit, floor: MaxTsFloor | undefined): Promise<WriteResponse> {
    const span = txnSpan(cmd);
    const key = span.kind === 'keys' ? span.keys[0] : span.start;
    assert(key !== undefined, `${cmd.type} has no key to route by`);
    const request: WriteRequest = floor === undefined ? { type: 'Txn', command: cmd } : { type: 'Txn', command: cmd, maxTsFloor: floor };
    const { value } = await this.router.onRegionOf(key, (peer, header) => peer.write(header, [request]));
    return value;
  }
}

function spanOf(region: RegionMeta): RegionSpan {
  return { startKey: region.startKey, endKey: region.endKey };
}

/** The same command on a subset of its keys. */
function restrictTo<C extends RoutedTxnCommand>(cmd: C, keys: Uint8Array[]): C {
  const wanted = new Set(keys);
  switch (cmd.type) {
    case 'Prewrite':
      return { ...cmd, mutations: cmd.mutations.filter((m) => wanted.has(m.key)) };
    case 'Commit':
    case 'Rollback':
      return { ...cmd, keys };
    case 'ResolveLock':
      return { ...cmd, scope: { keys } };
    case 'CheckTxnStatus':
    case 'TxnHeartbeat':
      return cmd;
    default:
      return unreachable(cmd);
  }
}
