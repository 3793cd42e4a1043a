// `regionkv bench`: N operations from C concurrent workers against a URL,
// a progress bar on stderr, and latency percentiles for the summary table.

import { type RegionKV, RegionKVError } from '../client/index';

export interface BenchOptions {
  ops: number;
  concurrency: number;
  /** How many distinct keys the load touches (fewer = more contention). */
  keySpace: number;
  workload: 'put' | 'get' | 'mixed' | 'txn';
  raw: boolean;
}

export interface BenchSummary {
  ops: number;
  errors: number;
  seconds: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Errors by code, to say why a run failed. */
  errorCodes: Record<string, number>;
  /** The message of the first error, if any. */
  firstError: string | undefined;
}

interface BenchIo {
  stderr: (text: string) => void;
  stderrIsTty: boolean;
}

/** The q-quantile of sorted samples (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? 0;
}

export function progressBar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}

export async function runBench(kv: RegionKV, options: BenchOptions, io: BenchIo): Promise<BenchSummary> {
  const space = options.raw ? kv.raw : kv;
  const keyOf = (i: number) => `bench/${String(i % options.keySpace).padStart(8, '0')}`;
  const value = 'x'.repeat(100);
  const one = async (i: number): Promise<void> => {
    const key = keyOf(i);
    const write = options.workload === 'put' || (options.workload === 'mixed' && i % 2 === 0);
    if (options.workload === 'txn') {
      await kv.transaction(async (tx) => {
        const n = Number((await tx.get(key)) ?? '0');
        tx.put(key, String(n + 1));
      });
    } else if (write) {
      await space.put(key, value);
    } else {
      await space.get(key);
    }
  };

  const latencies: number[] = [];
  const errorCodes: Record<string, number> = {};
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  let done = 0;
  // Redrawing in place only makes sense on a terminal; elsewhere (CI logs,
  // tests) print a line per 10 % so the output stays short.
  let lastTenth = -1;
  const report = () => {
    if (io.stderrIsTty) io.stderr(`\r${progressBar(done, options.ops)}`);
    else {
      const tenth = Math.floor((done / options.ops) * 10);
      if (tenth !== lastTenth) {
        lastTenth = tenth;
        io.stderr(`${progressBar(done, options.ops)}\n`);
      }
    }
  };
  const started = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= options.ops) return;
      const t0 = performance.now();
      try {
        await one(i);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        const code = err instanceof RegionKVError ? err.code : 'CLIENT';
        errorCodes[code] = (errorCodes[code] ?? 0) + 1;
        firstError ??= err instanceof Error ? `${code}: ${err.message}` : String(err);
      }
      done++;
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.ops) }, worker));
  const seconds = (performance.now() - started) / 1000;
  if (io.stderrIsTty) io.stderr('\n');
  latencies.sort((a, b) => a - b);
  return {
    ops: options.ops,
    errors,
    seconds,
    opsPerSecond: (options.ops - errors) / seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    maxMs: latencies.at(-1) ?? 0,
    errorCodes,
    firstError,
  };
}
