// How the transaction coordinator reaches the regions. Each method addresses
// the region holding a key (or the start of a range) and runs one Percolator
// command or read there, answering the percolator outcome union unchanged.
// Region errors (a leader change, a split, a lost peer) are the client's
// business: it refreshes its routes and retries the one call that failed,
// and throws UnavailableError (errors.ts) when it gives up, so the
// coordinator never re-sends a batch that already succeeded.
//
// The worker's implementation is built on RegionRouter.onRegionOf and a peer
// RPC that proposes the command (or serves the read after ReadIndex); tests
// use test/unit/api/memory-txn-regions.ts, which runs the real MVCC code over
// in-memory storage.

import type {
  CheckTxnStatus,
  Commit,
  PrewriteAndCommit,
  PrewriteAndCommitOutcome,
  Prewrite,
  ResolveLock,
  Rollback,
  TxnCommandOutcomes,
  TxnGet,
  TxnGetOutcome,
  TxnHeartbeat,
  TxnScan,
  TxnScanOutcome,
} from '../percolator';

/** The key range of a region as the client knew it when it served a call: [startKey, endKey), empty endKey = unbounded. */
export interface RegionSpan {
  startKey: Uint8Array;
  endKey: Uint8Array;
}

/** The commands the coordinator sends to the region of their keys (all but 1PC, which has its own method). */
export type RoutedTxnCommand = Prewrite | Commit | Rollback | CheckTxnStatus | ResolveLock | TxnHeartbeat;

/**
 * What a one-phase commit can answer: the command's outcomes, or
 * NotOneRegion when its keys no longer live in one region (a split since
 * they were grouped); then nothing was written and the coordinator falls
 * back to two-phase commit.
 */
export type OnePhaseOutcome = PrewriteAndCommitOutcome | { type: 'NotOneRegion' };

export interface TxnRegionClient {
  /**
   * The keys partitioned by the region that holds them now: every key in
   * exactly one group, groups in key order of their regions. A grouping can
   * go stale (a split); `command` copes with that, see below.
   */
  groupByRegion(keys: readonly Uint8Array[]): Promise<Uint8Array[][]>;

  /**
   * Runs a keyed command on the region of its keys (for CheckTxnStatus and
   * TxnHeartbeat: of `primary`). If the keys turn out to span regions (they
   * split after grouping), the client runs the command once per region and
   * answers the first outcome that is not a success, else the success: a
   * per-region command is all-or-nothing in its region, which is all that
   * Percolator asks of it.
   */
  command<C extends RoutedTxnCommand>(cmd: C): Promise<TxnCommandOutcomes[C['type']]>;

  /**
   * One-phase commit (1PC) of a transaction whose keys all live in one
   * region. A commitTs straight from the TSO is not enough for snapshot
   * isolation: the command becomes visible only when it applies, and a
   * reader at a ts above commitTs that the region served before then would
   * see the key change under its snapshot. So the region must commit at a
   * ts above every read ts it has served for these keys (TiKV's max_ts per
   * region), and the Committed outcome carries the commitTs actually used,
   * which is what the coordinator reports. That rule lives with the peer
   * because only the leader knows which reads it served; this method exists
   * so it has one place to go. The in-memory client raises `cmd.commitTs`
   * to maxReadTs + 1; the worker's peers refuse a commitTs at or below it
   * and the client retries with a fresh TSO ts (Peer.maxReadTs,
   * src/api/routed-txn-regions.ts), so commit timestamps stay oracle values.
   */
  commitOnePhase(cmd: PrewriteAndCommit): Promise<OnePhaseOutcome>;

  /** A snapshot read of one key on the leader of its region (after ReadIndex). */
  get(req: TxnGet): Promise<TxnGetOutcome>;

  /**
   * A snapshot scan of the part of [req.start, req.end) that lies in one
   * region: the region holding req.start when forward, the one holding the
   * keys just below req.end when reverse. Answers the outcome and the region
   * it ran in, so the caller can go on to the next region.
   */
  scanRegion(req: TxnScan): Promise<{ outcome: TxnScanOutcome; region: RegionSpan }>;
}
