// Transactions over HTTP under `wrangler dev` (issue 6, "Benchmark"): ONE
// regionkv server (started as `npm start` starts it), its key space split
// into 4 regions, and side by side in the same run: raw put (the yardstick),
// single-key kv put (a one-phase commit), a 4-key transaction whose keys
// share one region, and a 4-key transaction across the 4 regions (two-phase
// commit). Every run is cut into short slices that rotate between the four
// ops, so that noise from whatever else the machine does lands on all four.
//
// Every op spreads its keys over the 4 regions the same way (the op's loop
// and sequence number pick the region), and every key is fresh, so that
// transactions rarely conflict; the 409s they do meet are counted apart from
// other errors. A transaction op is begin + commit; the commit request alone
// is timed too.
//
//   npm run bench:txn                        prints a table, writes bench/results/txn.json
//   BENCH_SECONDS=10 npm run bench:txn       seconds per op and run (default 5)
//   BENCH_SLICE_SECONDS=2 npm run bench:txn  rotating slice length (default 1)
//   BENCH_KEEP_LOGS=1 npm run bench:txn      keep the server's log and state

import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  type Answer,
  type Failure,
  type LoadResult,
  type ReloadState,
  type Server,
  type Summary,
  failureOf,
  firstWrite,
  freePort,
  jsonHeaders,
  logTail,
  machineInfo,
  percentile,
  putBody,
  rawRequest,
  round,
  runLoad,
  benchRun,
  runSlice,
  sliceSchedule,
  send,
  sleep,
  spawnServer,
  stopServer,
  summarize,
  valueBytes,
  waitForHealth,
  warmUpLoadMs,
} from './harness';
import { printTable, resultsPath } from './table';

const { secondsPerRun, slicesPerRun, sliceMs } = sliceSchedule();
const concurrencies = [1, 32] as const;
/** The goals hold at this concurrency (issue 6, "Benchmark"). */
const goalConcurrency = 32;

/**
 * The split keys, and one key prefix inside each of the 4 regions they make:
 * ["", "f") holds "a…", ["f", "m") "g…", ["m", "s") "n…", ["s", end) "t…".
 */
const splitKeys = ['f', 'm', 's'] as const;
const regionPrefixes = ['a', 'g', 'n', 't'] as const;
/** How long the splits, and the first writes to each new region, may take. */
const splitTimeoutMs = 60_000;

const ops = ['raw put', 'kv put', 'txn 4 keys, 1 region', 'txn 4 keys, 4 regions'] as const;
type Op = (typeof ops)[number];
type TargetName = 'regionkv';

interface Row extends Summary {
  op: Op;
  concurrency: number;
  /** 409s (conflicts): counted in neither `ops` nor `errors`. */
  conflicts: number;
  /** p50 and p99 of the commit request alone, for the transaction ops. */
  commitP50Ms: number | undefined;
  commitP99Ms: number | undefined;
}

interface Ratio {
  name: string;
  concurrency: number;
  ratio: number;
  goal: { atLeast: number } | { atMost: number } | undefined;
}

const value = 'v'.repeat(valueBytes);

// -----------------------------------------------------------------------------
// Requests

function kvPut(server: Server, key: string): Promise<Answer> {
  return send(`${server.baseUrl}/v1/kv/${encodeURIComponent(key)}`, { method: 'PUT', headers: jsonHeaders, body: putBody });
}

function post(server: Server, path: string, body: unknown): Promise<Answer> {
  return send(`${server.baseUrl}${path}`, { method: 'POST', headers: jsonHeaders, body: JSON.stringify(body) });
}

function startTsOf(answer: Answer): string {
  const parsed: unknown = JSON.parse(answer.body);
  if (typeof parsed === 'object' && parsed !== null && 'startTs' in parsed && typeof parsed.startTs === 'string') {
    return parsed.startTs;
  }
  throw new Error(`begin answered no startTs: ${answer.body.slice(0, 200)}`);
}

/**
 * begin, then commit of a put of each key. `commitMs` gets the commit
 * request's latency when it succeeds.
 */
async function transaction(server: Server, keys: string[], commitMs: number[]): Promise<Failure> {
  const begun = await post(server, '/v1/txn/begin', {});
  if (begun.status !== 200) return failureOf(begun);
  const startTs = startTsOf(begun);
  const t0 = performance.now();
  const committed = await post(server, '/v1/txn/commit', {
    startTs,
    mutations: keys.map((key) => ({ op: 'put', key, value })),
  });
  const failure = failureOf(committed);
  if (failure === undefined) commitMs.push(performance.now() - t0);
  return failure;
}

/** One op of each kind; `tag` makes its keys fresh, `region` picks the region (or the first of four). */
function runOp(server: Server, op: Op, tag: string, region: number, commitMs: number[]): Promise<Failure> {
  const prefix = regionPrefixes[region % regionPrefixes.length]!;
  switch (op) {
    case 'raw put':
      return rawRequest(server, 'put', `${prefix}/raw-${tag}`).then(failureOf);
    case 'kv put':
      return kvPut(server, `${prefix}/kv-${tag}`).then(failureOf);
    case 'txn 4 keys, 1 region':
      return transaction(
        server,
        [0, 1, 2, 3].map((i) => `${prefix}/one-${tag}-${i}`),
        commitMs,
      );
    case 'txn 4 keys, 4 regions':
      return transaction(
        server,
        regionPrefixes.map((p) => `${p}/four-${tag}`),
        commitMs,
      );
  }
}

// -----------------------------------------------------------------------------
// Regions

interface ClusterRegion {
  id: number;
  startKey: string;
  endKey: string;
  leader: number | null;
}

function isClusterRegion(x: unknown): x is ClusterRegion {
  return (
    typeof x === 'object' &&
    x !== null &&
    'id' in x &&
    typeof x.id === 'number' &&
    'startKey' in x &&
    typeof x.startKey === 'string' &&
    'endKey' in x &&
    typeof x.endKey === 'string' &&
    'leader' in x &&
    (x.leader === null || typeof x.leader === 'number')
  );
}

async function clusterRegions(server: Server): Promise<ClusterRegion[]> {
  const answer = await send(`${server.baseUrl}/v1/cluster`);
  if (answer.status !== 200) throw new Error(`GET /v1/cluster: ${answer.status} ${answer.body.slice(0, 200)}`);
  const parsed: unknown = JSON.parse(answer.body);
  const regions: unknown = typeof parsed === 'object' && parsed !== null && 'regions' in parsed ? parsed.regions : undefined;
  if (!Array.isArray(regions) || !regions.every(isClusterRegion)) {
    throw new Error(`GET /v1/cluster answered no regions: ${answer.body.slice(0, 200)}`);
  }
  return regions.map((r) => ({ id: r.id, startKey: r.startKey, endKey: r.endKey, leader: r.leader }));
}

/** The region holding `key` (keys here are ASCII, so string order is byte order). */
function regionOf(regions: ClusterRegion[], key: string): ClusterRegion | undefined {
  return regions.find((r) => r.startKey <= key && (r.endKey === '' || key < r.endKey));
}

/** Splits at each split key (retrying what is unavailable), then writes to each region until the writes succeed. */
async function splitIntoRegions(server: Server): Promise<ClusterRegion[]> {
  const deadline = Date.now() + splitTimeoutMs;
  for (const key of splitKeys) {
    for (let attempt = 1; ; attempt++) {
      const answer = await post(server, '/v1/admin/split', { key });
      if (answer.status === 200) break;
      // A key that already starts a region (a split retried after a timeout) is a 400.
      if ((await clusterRegions(server)).some((r) => r.startKey === key)) break;
      if (Date.now() > deadline || server.hasExited()) {
        throw new Error(`split at "${key}" failed after ${attempt} attempts: ${answer.status} ${answer.body.slice(0, 300)}\n${logTail(server)}`);
      }
      await sleep(500);
    }
  }
  for (const prefix of regionPrefixes) {
    let last = 'no attempt';
    for (let i = 0; ; i++) {
      const answers = [await kvPut(server, `${prefix}/warmup-region-${i}`), await rawRequest(server, 'put', `${prefix}/warmup-region-${i}`)];
      const failed = answers.find((a) => a.status !== 200);
      if (failed === undefined) break;
      last = `${failed.status} ${failed.body.slice(0, 200)}`;
      if (Date.now() > deadline || server.hasExited()) throw new Error(`no write to region "${prefix}…" succeeded; last: ${last}`);
      await sleep(200);
    }
  }
  const regions = await clusterRegions(server);
  const holding = regionPrefixes.map((p) => regionOf(regions, `${p}/x`)?.id);
  if (new Set(holding).size !== regionPrefixes.length || holding.includes(undefined)) {
    throw new Error(`the keys ${regionPrefixes.join(', ')} are not in 4 different regions: ${JSON.stringify(regions)}`);
  }
  return regions;
}

// -----------------------------------------------------------------------------
// The run

function toRow(op: Op, concurrency: number, slices: LoadResult[], commitMs: number[]): Row {
  const summary = summarize(slices);
  const conflicts = slices.reduce((acc, s) => acc + s.conflicts, 0);
  const sortedCommits = [...commitMs].sort((a, b) => a - b);
  const isTxn = op.startsWith('txn');
  return {
    op,
    concurrency,
    ...summary,
    errors: summary.errors - conflicts,
    conflicts,
    commitP50Ms: isTxn ? round(percentile(sortedCommits, 50), 2) : undefined,
    commitP99Ms: isTxn ? round(percentile(sortedCommits, 99), 2) : undefined,
  };
}

function goalText(r: Ratio): string {
  if (r.goal === undefined) return '';
  const met = 'atLeast' in r.goal ? r.ratio >= r.goal.atLeast : r.ratio <= r.goal.atMost;
  const bound = 'atLeast' in r.goal ? `>= ${r.goal.atLeast}` : `<= ${r.goal.atMost}`;
  return `${bound} ${met ? 'met' : 'NOT met'}`;
}

async function main(): Promise<void> {
  let server: Server<TargetName> | undefined;
  const stop = () => (server === undefined ? Promise.resolve() : stopServer(server));
  await benchRun('txn', stop, async (workDir) => {
    const [port, inspectorPort] = [await freePort(), await freePort()];
    // regionkv exactly as `npm start` runs it, on its own port, devtools
    // port and fresh state.
    server = spawnServer(
      'regionkv',
      port,
      'npm',
      ['start', '--silent', '--', '--inspector-port', String(inspectorPort)],
      { PORT: String(port), PERSIST_DIR: join(workDir, 'regionkv-state') },
      workDir,
    );
    const regionkv = server;
    await waitForHealth(regionkv);
    console.log(`regionkv: first write succeeded after ${Math.round(await firstWrite(regionkv))} ms`);
    const splitStart = performance.now();
    const regions = await splitIntoRegions(regionkv);
    console.log(
      `regionkv: split at ${splitKeys.map((k) => `"${k}"`).join(', ')} and wrote to each region in ${Math.round(performance.now() - splitStart)} ms; ` +
        `regions ${regions.map((r) => `${r.id} ["${r.startKey}", "${r.endKey}")`).join(', ')}`,
    );
    // A short load of each op, so that none pays for JIT, connection setup
    // or object start-up inside a measured run.
    for (const op of ops) {
      await runLoad(regionkv, 32, warmUpLoadMs / 2, (loop, seq) => runOp(regionkv, op, `warmup-${loop}-${seq}`, loop + seq, []));
    }

    const loadBefore = loadavg();
    const rows: Row[] = [];
    const reloadState = new Map<TargetName, ReloadState>([['regionkv', { seen: regionkv.reloads().started, slicesRerun: 0 }]]);
    for (const concurrency of concurrencies) {
      const slices = new Map<Op, LoadResult[]>(ops.map((op) => [op, []]));
      const commits = new Map<Op, number[]>(ops.map((op) => [op, []]));
      for (let slice = 0; slice < slicesPerRun; slice++) {
        // Rotate which op goes first (ABCD, BCDA, ...), so that none always
        // runs right after the same other.
        const order = ops.map((_, i) => ops[(i + slice) % ops.length]!);
        for (const op of order) {
          let sliceCommits: number[] = [];
          const result = await runSlice(regionkv, reloadState, () => {
            // A slice run again starts its commit latencies afresh.
            sliceCommits = [];
            const commitMs = sliceCommits;
            return runLoad(regionkv, concurrency, sliceMs, (loop, seq) =>
              runOp(regionkv, op, `c${concurrency}-s${slice}-${loop}-${seq}`, loop + seq, commitMs),
            );
          });
          slices.get(op)!.push(result);
          commits.get(op)!.push(...sliceCommits);
        }
      }
      for (const op of ops) {
        const row = toRow(op, concurrency, slices.get(op)!, commits.get(op)!);
        rows.push(row);
        console.log(
          `  ${row.op} c${row.concurrency}: ${row.opsPerSec} ops/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ` +
            `${row.errors} errors, ${row.conflicts} 409s; per slice ${row.sliceOpsPerSec.join(', ')}`,
        );
      }
    }
    const loadAfter = loadavg();

    const rowOf = (op: Op, concurrency: number) => rows.find((r) => r.op === op && r.concurrency === concurrency)!;
    const ratios: Ratio[] = [];
    for (const concurrency of concurrencies) {
      const raw = rowOf('raw put', concurrency);
      const kv = rowOf('kv put', concurrency);
      const cross = rowOf('txn 4 keys, 4 regions', concurrency);
      const atGoal = concurrency === goalConcurrency;
      ratios.push({
        name: 'kv put / raw put (ops/s)',
        concurrency,
        ratio: round(kv.opsPerSec / raw.opsPerSec, 3),
        goal: atGoal ? { atLeast: 0.6 } : undefined,
      });
      ratios.push({
        name: '4-region txn (begin + commit) p50 / raw put p50',
        concurrency,
        ratio: round(cross.p50Ms / raw.p50Ms, 3),
        goal: atGoal ? { atMost: 3 } : undefined,
      });
      ratios.push({
        name: '4-region commit request alone p50 / raw put p50',
        concurrency,
        ratio: round((cross.commitP50Ms ?? Number.NaN) / raw.p50Ms, 3),
        goal: atGoal ? { atMost: 3 } : undefined,
      });
    }

    printTable(
      `Transactions under wrangler dev, 4 regions: ${secondsPerRun} s per op and run (in ${slicesPerRun} rotating slices), ${valueBytes}-byte values`,
      ['op', 'concurrency', 'ops/s', 'p50 ms', 'p99 ms', 'errors', '409s', 'commit p50 ms', 'commit p99 ms', 'server cpu ms/op'],
      rows.map((r) => [
        r.op,
        String(r.concurrency),
        r.opsPerSec.toFixed(1),
        r.p50Ms.toFixed(2),
        r.p99Ms.toFixed(2),
        String(r.errors),
        String(r.conflicts),
        r.commitP50Ms === undefined ? '' : r.commitP50Ms.toFixed(2),
        r.commitP99Ms === undefined ? '' : r.commitP99Ms.toFixed(2),
        r.serverCpuMsPerOp === undefined ? '' : r.serverCpuMsPerOp.toFixed(2),
      ]),
    );
    printTable(
      'Ratios',
      ['ratio', 'concurrency', 'value', 'goal'],
      ratios.map((r) => [r.name, String(r.concurrency), r.ratio.toFixed(3), goalText(r)]),
    );
    const { slicesRerun } = reloadState.get('regionkv')!;
    const reloadsTotal = regionkv.reloads().started;
    if (reloadsTotal > 0) {
      console.log(
        `note: regionkv reloaded ${reloadsTotal} time(s) during the run (its sources changed); ` +
          `${slicesRerun} slice(s) it spoiled were run again`,
      );
    }
    for (const r of rows) {
      for (const sample of r.errorSamples) console.log(`error sample (${r.op} c${r.concurrency}): ${sample}`);
    }

    const out = {
      timestamp: new Date().toISOString(),
      machine: { ...machineInfo(), loadAvgBefore: loadBefore.map((x) => round(x, 2)), loadAvgAfter: loadAfter.map((x) => round(x, 2)) },
      config: {
        secondsPerRun,
        slicesPerRun,
        valueBytes,
        concurrencies: [...concurrencies],
        splitKeys: [...splitKeys],
        regionPrefixes: [...regionPrefixes],
      },
      regions,
      reloads: { total: reloadsTotal, slicesRerun },
      rows,
      ratios,
    };
    writeFileSync(resultsPath('txn.json'), `${JSON.stringify(out, null, 2)}\n`);
  });
}

await main();
