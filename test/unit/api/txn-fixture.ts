// A coordinator over in-memory regions with a fake clock: the TSO hands out
// `clockMs * 2^18 + logical`, sleeping moves the clock, and background work
// is collected so a test can wait for it (or never run it, like a worker
// that died after answering).

import {
  defaultTxnCoordinatorConfig,
  newTxnCounters,
  TxnCoordinator,
  type TxnCoordinatorConfig,
  type TxnCounters,
} from '../../../src/api/txn-coordinator';
import type { TxnRegionClient } from '../../../src/api/txn-region-client';
import { composeTs } from '../../../src/percolator';
import { utf8 } from '../../../src/util/bytes';
import { MemoryTxnRegions } from './memory-txn-regions';

export class FakeClock {
  /** Starts well past 0 so that lock TTLs measured from startTs are realistic. */
  nowMs = 1_700_000_000_000;
  private lastTs = 0n;

  /** A TSO timestamp: strictly increasing, physical part = the clock. */
  timestamp(): bigint {
    let ts = composeTs(this.nowMs, 0);
    if (ts <= this.lastTs) ts = this.lastTs + 1n;
    this.lastTs = ts;
    return ts;
  }

  advance(ms: number): void {
    this.nowMs += ms;
  }
}

/** Split keys that cut the space into n regions (1..4): at "g", "n" and "t", as many as needed. */
export function splitKeysFor(regionCount: number): Uint8Array[] {
  return ['g', 'n', 't'].slice(0, regionCount - 1).map((k) => utf8(k));
}

export interface Fixture {
  regions: MemoryTxnRegions;
  clock: FakeClock;
  counters: TxnCounters;
  coordinator: TxnCoordinator;
  /** Background work started so far; `settle()` waits for all of it. */
  pending: Promise<void>[];
  settle(): Promise<void>;
  /** Another coordinator (another worker) over the same regions and clock. */
  another(overrides?: Partial<TxnCoordinatorConfig>): TxnCoordinator;
}

export function txnFixture(regionCount: number, overrides: Partial<TxnCoordinatorConfig> = {}, seed = 1): Fixture {
  const regions = new MemoryTxnRegions(splitKeysFor(regionCount), seed);
  const clock = new FakeClock();
  const counters = newTxnCounters();
  const pending: Promise<void>[] = [];
  const make = (client: TxnRegionClient, config: Partial<TxnCoordinatorConfig>) =>
    new TxnCoordinator(
      {
        regions: client,
        timestamp: async () => clock.timestamp(),
        now: () => clock.nowMs,
        sleep: async (ms) => {
          clock.advance(ms);
          await new Promise<void>((resolve) => setImmediate(resolve));
        },
        background: (work) => {
          pending.push(work);
        },
        counters,
      },
      { ...defaultTxnCoordinatorConfig, ...config },
    );
  return {
    regions,
    clock,
    counters,
    coordinator: make(regions, overrides),
    pending,
    async settle() {
      // Background work may start more background work; a few rounds reach the end.
      for (let round = 0; round < 10 && pending.length > 0; round++) await Promise.all(pending.splice(0));
    },
    another: (config = {}) => make(regions, { ...overrides, ...config }),
  };
}
