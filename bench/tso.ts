// Timestamp oracle throughput: timestamps per second the SchedulerObject
// serves to a worker through the coalescing TsoClient (issue 5's goal:
// ≥ 20,000/s at concurrency 64, locally).
//
// Runs the real worker in workerd through Miniflare (the same one `wrangler
// dev` uses): the worker as `wrangler deploy --dry-run` builds it, SQLite
// storage persisted to a temporary directory, plus a bench-only worker
// (bench/tso-worker.ts) whose SCHEDULER binding points at regionkv's
// SchedulerObject and which runs `concurrency` loops of getTimestamp()
// inside workerd. For comparison, the same client also runs in Node, its
// RPCs going through Miniflare's Node-to-workerd proxy: that row measures
// the proxy, not the oracle, because each RPC's result comes back as a
// remote object whose every property read is a synchronous round trip.
//
//   npx tsx bench/tso.ts          prints a table, writes bench/results/tso.json
//   BENCH_SECONDS=5 ...           seconds per row (default 3)

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsoClient } from '../src/api/tso-client';
import type * as EsbuildModule from '../node_modules/wrangler/node_modules/esbuild';
import type * as MiniflareModule from '../node_modules/wrangler/node_modules/miniflare';
import type { TimestampBatch } from '../src/scheduler/tso';
import { printTable, resultsPath } from './table';
import type { TsoRunResult } from './tso-worker';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const secondsPerRow = Number(process.env.BENCH_SECONDS ?? 3);
const workerConcurrencies = [1, 16, 64, 256];
const nodeConcurrency = 64;

// Miniflare and esbuild as wrangler itself resolves them, so the runtime is
// the one `npm start` serves with. The hoisted copies belong to the vitest
// pool, and its Miniflare (a 5.x alpha) takes a different options shape, so
// the types come from wrangler's copies too.
const fromWrangler = createRequire(join(root, 'node_modules', 'wrangler', 'package.json'));
const { Miniflare } = fromWrangler('miniflare') as typeof MiniflareModule;
const esbuild = fromWrangler('esbuild') as typeof EsbuildModule;

/** The subset of a DO stub this bench calls through Miniflare's proxy. */
interface SchedulerProxy {
  getTimestamps(count: number): Promise<TimestampBatch>;
}

interface Row {
  /** Where the TsoClient ran: in a worker inside workerd, or in Node through Miniflare's proxy. */
  client: 'worker' | 'worker, no batching' | 'node+proxy';
  concurrency: number;
  timestampsPerSec: number;
  rpcsPerSec: number;
  avgBatch: number;
  seconds: number;
}

function compatibilityDate(): string {
  const toml = readFileSync(join(root, 'wrangler.toml'), 'utf8');
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  if (date === undefined) throw new Error('no compatibility_date in wrangler.toml');
  return date;
}

/** The worker exactly as deploy would upload it: its one module, index.js, in `outdir`. */
function buildRegionkv(outdir: string): string {
  execFileSync(join(root, 'node_modules', '.bin', 'wrangler'), ['deploy', '--dry-run', '--outdir', outdir], {
    cwd: root,
    env: { ...process.env, WRANGLER_HIDE_BANNER: 'true', WRANGLER_SEND_METRICS: 'false' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return join(outdir, 'index.js');
}

async function buildBenchWorker(): Promise<string> {
  const out = await esbuild.build({
    entryPoints: [join(root, 'bench', 'tso-worker.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'neutral',
    external: ['cloudflare:*'],
    write: false,
    logLevel: 'error',
  });
  const file = out.outputFiles[0];
  if (file === undefined) throw new Error('esbuild produced nothing');
  return file.text;
}

function row(client: Row['client'], concurrency: number, timestamps: number, rpcs: number, ms: number): Row {
  const seconds = ms / 1000;
  return {
    client,
    concurrency,
    timestampsPerSec: Math.round(timestamps / seconds),
    rpcsPerSec: Math.round(rpcs / seconds),
    avgBatch: Math.round((timestamps / Math.max(rpcs, 1)) * 10) / 10,
    seconds: Math.round(seconds * 100) / 100,
  };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'regionkv-tso-bench-'));
  const compatDate = compatibilityDate();
  const mf = new Miniflare({
    durableObjectsPersist: join(work, 'state'),
    workers: [
      // First: the one dispatchFetch reaches.
      {
        name: 'tso-bench',
        modules: true,
        script: await buildBenchWorker(),
        compatibilityDate: compatDate,
        durableObjects: { SCHEDULER: { className: 'SchedulerObject', scriptName: 'regionkv', useSQLite: true } },
      },
      {
        name: 'regionkv',
        modules: true,
        scriptPath: buildRegionkv(join(work, 'dist')),
        // Module names are paths relative to this; workerd refuses names with "..".
        modulesRoot: join(work, 'dist'),
        compatibilityDate: compatDate,
        bindings: { TICK_MS: '100', STORES: '1,2,3,4,5', REPLICAS: '3' },
        durableObjects: {
          PEERS: { className: 'PeerObject', useSQLite: true },
          SCHEDULER: { className: 'SchedulerObject', useSQLite: true },
        },
      },
    ],
  });
  try {
    const runInWorker = async (concurrency: number, ms: number, direct = false): Promise<Row> => {
      const started = performance.now();
      const res = await mf.dispatchFetch(`http://bench/?concurrency=${concurrency}&ms=${ms}&direct=${direct ? 1 : 0}`);
      const elapsed = performance.now() - started;
      if (!res.ok) throw new Error(`bench worker: ${res.status} ${await res.text()}`);
      const r = (await res.json()) as TsoRunResult;
      if (!r.monotonic) throw new Error('timestamps went backwards within a loop');
      // Timed here: Date.now() in workerd only moves across I/O.
      return row(direct ? 'worker, no batching' : 'worker', concurrency, r.timestamps, r.rpcs, elapsed);
    };

    // Warm-up: creates the object, runs its migrations, saves the first window, JITs the code.
    await runInWorker(64, 500);
    const rows: Row[] = [];
    for (const c of workerConcurrencies) rows.push(await runInWorker(c, secondsPerRow * 1000));
    rows.push(await runInWorker(64, secondsPerRow * 1000, true));

    // The same client in Node, each RPC crossing Miniflare's proxy into workerd.
    const ns = await mf.getDurableObjectNamespace('SCHEDULER', 'regionkv');
    const stub = ns.get(ns.idFromName('scheduler')) as unknown as SchedulerProxy;
    const client = new TsoClient((count) => stub.getTimestamps(count));
    await client.getTimestamp();
    const rpcs0 = client.rpcCount;
    const ts0 = client.timestampCount;
    const started = performance.now();
    const deadline = started + secondsPerRow * 1000;
    await Promise.all(
      Array.from({ length: nodeConcurrency }, async () => {
        let previous = -1n;
        while (performance.now() < deadline) {
          const ts = await client.getTimestamp();
          if (ts <= previous) throw new Error('timestamps went backwards within a loop');
          previous = ts;
        }
      }),
    );
    const elapsed = performance.now() - started;
    rows.push(row('node+proxy', nodeConcurrency, client.timestampCount - ts0, client.rpcCount - rpcs0, elapsed));

    printTable(
      'TSO: timestamps/s served through the coalescing TsoClient (one SchedulerObject, workerd via Miniflare, SQLite on disk)',
      ['client', 'concurrency', 'timestamps/s', 'RPCs/s', 'avg batch'],
      rows.map((r) => [
        r.client,
        String(r.concurrency),
        r.timestampsPerSec.toLocaleString('en-US'),
        r.rpcsPerSec.toLocaleString('en-US'),
        String(r.avgBatch),
      ]),
    );
    console.log(
      'node+proxy: the client in Node, each result a Miniflare proxy object read by synchronous round trips; measures the proxy.',
    );
    writeFileSync(resultsPath('tso.json'), `${JSON.stringify(rows, null, 2)}\n`);
  } finally {
    await mf.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
