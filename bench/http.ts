// HTTP throughput of the raw API under `wrangler dev`: regionkv (a 3-peer
// Raft region behind the Hono worker, started as `npm start` starts it) next
// to the baseline worker in bench/baseline (the same routes on ONE
// unreplicated SQLite Durable Object). Both servers run side by side. For
// each op (raw put, then raw get of keys put before) and concurrency, the
// run is cut into short slices that alternate between the two targets, so
// that noise from whatever else the machine does lands on both.
//
//   npm run bench:http                       prints a table, writes bench/results/http.json
//   BENCH_SECONDS=10 npm run bench:http      seconds per target and run (default 5)
//   BENCH_SLICE_SECONDS=2 npm run bench:http alternating slice length (default 1)
//   BENCH_KEEP_LOGS=1 npm run bench:http     keep the servers' logs and state

import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  type LoadResult,
  type ReloadState,
  type Server,
  type Summary,
  failureOf,
  firstWrite,
  freePort,
  machineInfo,
  rawRequest,
  round,
  runLoad,
  benchRun,
  runSlice,
  sliceSchedule,
  spawnServer,
  stopServer,
  summarize,
  valueBytes,
  waitForHealth,
  warmUpLoadMs,
  wranglerBin,
} from './harness';
import { printTable, resultsPath } from './table';

const { secondsPerRun, slicesPerRun, sliceMs } = sliceSchedule();
const concurrencies = [1, 32] as const;

type TargetName = 'regionkv' | 'baseline';
type Op = 'put' | 'get';

interface Row extends Summary {
  target: TargetName;
  op: Op;
  concurrency: number;
}

interface Ratio {
  op: Op;
  concurrency: number;
  /** regionkv ops/s divided by the baseline's. */
  ratio: number;
  goal: number | undefined;
}

/** regionkv's goals at concurrency 32 (issue 3, "Benchmark"). */
const goals: Record<Op, number> = { put: 0.7, get: 0.8 };

/** One row from a run's slices: their latencies, errors, time and CPU added up. */
function toRow(target: TargetName, op: Op, concurrency: number, slices: LoadResult[]): Row {
  return { target, op, concurrency, ...summarize(slices) };
}

// -----------------------------------------------------------------------------
// The run

async function main(): Promise<void> {
  const servers: Server<TargetName>[] = [];
  const stopAll = () => Promise.all(servers.map(stopServer));
  await benchRun('http', stopAll, async (workDir) => {
    const [regionkvPort, baselinePort, regionkvInspector, baselineInspector] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    // regionkv exactly as `npm start` runs it, on its own port and fresh
    // state. Each server gets its own devtools port: two wrangler devs
    // starting together would otherwise both take 9229, and one would die.
    servers.push(
      spawnServer(
        'regionkv',
        regionkvPort,
        'npm',
        ['start', '--silent', '--', '--inspector-port', String(regionkvInspector)],
        { PORT: String(regionkvPort), PERSIST_DIR: join(workDir, 'regionkv-state') },
        workDir,
      ),
    );
    servers.push(
      spawnServer(
        'baseline',
        baselinePort,
        wranglerBin,
        [
          'dev',
          '-c',
          'bench/baseline/wrangler.toml',
          '--ip',
          '127.0.0.1',
          '--port',
          String(baselinePort),
          '--persist-to',
          join(workDir, 'baseline-state'),
          '--inspector-port',
          String(baselineInspector),
        ],
        {},
        workDir,
      ),
    );
    const [regionkv, baseline] = servers as [Server<TargetName>, Server<TargetName>];
    await Promise.all(servers.map(waitForHealth));
    for (const server of servers) {
      const ms = await firstWrite(server);
      console.log(`${server.name}: first write succeeded after ${Math.round(ms)} ms`);
    }
    // A short load on each, so that neither pays for JIT, connection setup
    // or object start-up inside a measured run.
    for (const server of servers) {
      await runLoad(server, 32, warmUpLoadMs, async (loop, seq) => failureOf(await rawRequest(server, 'put', `warmup-${loop}-${seq}`)));
    }

    const loadBefore = loadavg();
    const rows: Row[] = [];
    const reloadState = new Map<TargetName, ReloadState>(
      servers.map((server) => [server.name, { seen: server.reloads().started, slicesRerun: 0 }]),
    );
    const written: Record<TargetName, string[]> = { regionkv: [], baseline: [] };
    for (const op of ['put', 'get'] as const) {
      for (const concurrency of concurrencies) {
        const slices: Record<TargetName, LoadResult[]> = { regionkv: [], baseline: [] };
        for (let slice = 0; slice < slicesPerRun; slice++) {
          // Alternate which target goes first (ABBA...), so that neither
          // always runs right after the other.
          const order = slice % 2 === 0 ? [regionkv, baseline] : [baseline, regionkv];
          for (const server of order) {
            const keys = written[server.name];
            const keyFor =
              op === 'put'
                ? (loop: number, seq: number) => `bench-c${concurrency}-s${slice}-${loop}-${seq}`
                : () => keys[Math.floor(Math.random() * keys.length)]!;
            if (op === 'get' && keys.length === 0) throw new Error(`${server.name}: no keys were put, nothing to get`);
            const operation = async (loop: number, seq: number) => {
              const key = keyFor(loop, seq);
              const failure = failureOf(await rawRequest(server, op, key));
              if (failure === undefined && op === 'put') keys.push(key);
              return failure;
            };
            slices[server.name].push(
              await runSlice(server, reloadState, () => runLoad(server, concurrency, sliceMs, operation)),
            );
          }
        }
        for (const server of servers) {
          const row = toRow(server.name, op, concurrency, slices[server.name]);
          rows.push(row);
          console.log(
            `  ${row.target} ${row.op} c${row.concurrency}: ${row.opsPerSec} ops/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ` +
              `${row.errors} errors; per slice ${row.sliceOpsPerSec.join(', ')}`,
          );
        }
      }
    }
    const loadAfter = loadavg();

    const ratios: Ratio[] = [];
    for (const op of ['put', 'get'] as const) {
      for (const concurrency of concurrencies) {
        const ours = rows.find((r) => r.target === 'regionkv' && r.op === op && r.concurrency === concurrency)!;
        const base = rows.find((r) => r.target === 'baseline' && r.op === op && r.concurrency === concurrency)!;
        ratios.push({
          op,
          concurrency,
          ratio: round(ours.opsPerSec / base.opsPerSec, 3),
          goal: concurrency === 32 ? goals[op] : undefined,
        });
      }
    }

    printTable(
      `HTTP raw API under wrangler dev: ${secondsPerRun} s per target and run (in ${slicesPerRun} alternating slices), ${valueBytes}-byte values`,
      ['target', 'op', 'concurrency', 'ops/s', 'p50 ms', 'p99 ms', 'errors', 'server cpu ms/op', 'client cpu ms/op'],
      rows.map((r) => [
        r.target,
        r.op,
        String(r.concurrency),
        r.opsPerSec.toFixed(1),
        r.p50Ms.toFixed(2),
        r.p99Ms.toFixed(2),
        String(r.errors),
        r.serverCpuMsPerOp === undefined ? '' : r.serverCpuMsPerOp.toFixed(2),
        r.clientCpuMsPerOp.toFixed(2),
      ]),
    );
    printTable(
      'regionkv / baseline (ops/s)',
      ['op', 'concurrency', 'ratio', 'goal'],
      ratios.map((r) => [
        r.op,
        String(r.concurrency),
        r.ratio.toFixed(3),
        r.goal === undefined ? '' : `>= ${r.goal} ${r.ratio >= r.goal ? 'met' : 'NOT met'}`,
      ]),
    );
    for (const server of servers) {
      const { slicesRerun } = reloadState.get(server.name)!;
      const total = server.reloads().started;
      if (total > 0) {
        console.log(
          `note: ${server.name} reloaded ${total} time(s) during the run (its sources changed); ` +
            `${slicesRerun} slice(s) it spoiled were run again`,
        );
      }
    }
    for (const r of rows) {
      for (const sample of r.errorSamples) console.log(`error sample (${r.target} ${r.op} c${r.concurrency}): ${sample}`);
    }

    const out = {
      timestamp: new Date().toISOString(),
      machine: { ...machineInfo(), loadAvgBefore: loadBefore.map((x) => round(x, 2)), loadAvgAfter: loadAfter.map((x) => round(x, 2)) },
      config: { secondsPerRun, slicesPerRun, valueBytes, concurrencies: [...concurrencies] },
      reloads: Object.fromEntries(
        servers.map((server) => [server.name, { total: server.reloads().started, slicesRerun: reloadState.get(server.name)!.slicesRerun }]),
      ),
      rows,
      ratios,
    };
    writeFileSync(resultsPath('http.json'), `${JSON.stringify(out, null, 2)}\n`);
  });
}

await main();
