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

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printTable, resultsPath } from './table';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wranglerBin = join(root, 'node_modules', '.bin', 'wrangler');

const secondsPerRun = Number(process.env.BENCH_SECONDS ?? 5);
/**
 * Each run is cut into slices of about this length, and the two targets'
 * slices alternate: noise from whatever else the machine does (bursts last
 * seconds) then lands on both targets' figures rather than on one.
 */
const sliceSeconds = Number(process.env.BENCH_SLICE_SECONDS ?? 1);
const slicesPerRun = Math.max(1, Math.round(secondsPerRun / sliceSeconds));
const sliceMs = (secondsPerRun * 1000) / slicesPerRun;
const concurrencies = [1, 32] as const;
const valueBytes = 100;
const token = 'dev-token';
/** How long a server may take to answer its health route after spawning. */
const startTimeoutMs = 90_000;
/** How long regionkv may take to bootstrap and elect a leader (first write succeeds). */
const warmUpTimeoutMs = 60_000;
const warmUpLoadMs = 1_000;
/** A server still alive this long after SIGTERM gets SIGKILL. */
const stopGraceMs = 5_000;
/** Error samples kept per run, to say what went wrong. */
const errorSamplesMax = 3;
/** A slice spoiled by a reload of its server is run again, at most this many times in all. */
const sliceAttemptsMax = 4;

/** The env every wrangler here runs with: no telemetry, no banner, no fetch of request.cf. */
const wranglerEnv = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
};

type TargetName = 'regionkv' | 'baseline';
type Op = 'put' | 'get';

interface Server {
  name: TargetName;
  baseUrl: string;
  proc: ChildProcess;
  logPath: string;
  /**
   * How many reloads of the worker wrangler has started and finished so
   * far: it rebuilds whenever a source file changes, and swapping in the new
   * build (between the two log lines) resets every Durable Object.
   */
  reloads: () => { started: number; finished: number };
  /** Whether the process group leader has exited. */
  hasExited: () => boolean;
}

interface Row {
  target: TargetName;
  op: Op;
  concurrency: number;
  ops: number;
  errors: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /**
   * CPU time (user + system) of the server's whole process group (wrangler's
   * node processes and workerd) per successful op; undefined without /proc.
   */
  serverCpuMsPerOp: number | undefined;
  /** CPU time of this load-generating process per successful op. */
  clientCpuMsPerOp: number;
  /** ops/s of each slice, in order: how steady the run was. */
  sliceOpsPerSec: number[];
  errorSamples: string[];
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

// -----------------------------------------------------------------------------
// Servers

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      if (address === null || typeof address === 'string') {
        srv.close();
        reject(new Error('no port from the OS'));
        return;
      }
      const port = address.port;
      srv.close(() => resolve(port));
    });
  });
}

/** Spawns `command` as the leader of a new process group, output to a log file. */
function spawnServer(
  name: TargetName,
  port: number,
  command: string,
  args: string[],
  env: Record<string, string>,
  workDir: string,
): Server {
  const logPath = join(workDir, `${name}.log`);
  const log = openSync(logPath, 'w');
  const proc = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...wranglerEnv, ...env },
    // Its own process group, so that wrangler's workerd children die with it.
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  let exited = false;
  proc.once('exit', () => {
    exited = true;
  });
  // A command that cannot be spawned at all reports here, not by throwing.
  proc.once('error', (e) => {
    exited = true;
    writeFileSync(logPath, `could not start ${command}: ${e.message}\n`, { flag: 'a' });
  });
  return {
    name,
    baseUrl: `http://127.0.0.1:${port}`,
    proc,
    logPath,
    reloads: reloadCounter(logPath),
    hasExited: () => exited,
  };
}

/** Counts wrangler's reload messages in a growing log, reading only what was appended since the last call. */
function reloadCounter(logPath: string): () => { started: number; finished: number } {
  let offset = 0;
  const count = { started: 0, finished: 0 };
  let partialLine = '';
  const chunk = Buffer.alloc(64 * 1024);
  return () => {
    let fd: number;
    try {
      fd = openSync(logPath, 'r');
    } catch {
      return { ...count };
    }
    try {
      for (let n = readSync(fd, chunk, 0, chunk.length, offset); n > 0; n = readSync(fd, chunk, 0, chunk.length, offset)) {
        offset += n;
        const lines = (partialLine + chunk.subarray(0, n).toString('utf8')).split('\n');
        partialLine = lines.pop() ?? '';
        for (const line of lines) {
          if (line.includes('Reloading local server')) count.started++;
          if (line.includes('Local server updated and ready')) count.finished++;
        }
      }
    } finally {
      closeSync(fd);
    }
    return { ...count };
  };
}

function logTail(server: Server, lines = 30): string {
  try {
    return readFileSync(server.logPath, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is gone already.
  }
}

/** SIGTERM to the whole group, SIGKILL after the grace period, then wait until no member is left. */
async function stopServer(server: Server): Promise<void> {
  const pgid = server.proc.pid;
  if (pgid === undefined) return;
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + stopGraceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(100);
  if (groupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
  const hardDeadline = Date.now() + stopGraceMs;
  while (groupAlive(pgid) && Date.now() < hardDeadline) await sleep(100);
  if (groupAlive(pgid)) console.error(`warning: process group ${pgid} (${server.name}) is still alive`);
}

/** USER_HZ: the unit of the times in /proc/<pid>/stat (100 on Linux). */
const clockTicksPerSec = 100;

/** CPU time (user + system) of every live process in group `pgid`, in ms; undefined where /proc is unavailable. */
function groupCpuMs(pgid: number | undefined): number | undefined {
  if (pgid === undefined) return undefined;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  let ticks = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after "(comm)": state ppid pgrp session tty tpgid flags minflt
    // cminflt majflt cmajflt utime stime ...
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / clockTicksPerSec;
}

async function waitForHealth(server: Server): Promise<void> {
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (server.hasExited()) throw new Error(`${server.name} exited while starting:\n${logTail(server)}`);
    try {
      const res = await fetch(`${server.baseUrl}/v1/health`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await sleep(250);
  }
  throw new Error(`${server.name} did not answer /v1/health within ${startTimeoutMs} ms:\n${logTail(server)}`);
}

// -----------------------------------------------------------------------------
// Load

const value = 'v'.repeat(valueBytes);
const putBody = JSON.stringify({ value });
const headers = { authorization: `Bearer ${token}` };

async function request(server: Server, op: Op, key: string): Promise<{ status: number; body: string }> {
  const url = `${server.baseUrl}/v1/raw/${encodeURIComponent(key)}`;
  const res =
    op === 'put'
      ? await fetch(url, { method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: putBody })
      : await fetch(url, { headers });
  // Always read the body: it keeps the connection reusable and is part of the cost.
  const body = await res.text();
  return { status: res.status, body };
}

/** Writes until one succeeds: regionkv's first request bootstraps the cluster and elects a leader. */
async function firstWrite(server: Server): Promise<number> {
  const start = performance.now();
  const deadline = Date.now() + warmUpTimeoutMs;
  let last = 'no attempt';
  for (let i = 0; Date.now() < deadline; i++) {
    if (server.hasExited()) throw new Error(`${server.name} exited during warm-up:\n${logTail(server)}`);
    try {
      const { status, body } = await request(server, 'put', `warmup-first-${i}`);
      if (status === 200) return performance.now() - start;
      last = `${status} ${body.slice(0, 200)}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(200);
  }
  throw new Error(`${server.name}: no warm-up write succeeded within ${warmUpTimeoutMs} ms; last: ${last}`);
}

interface LoadResult {
  latenciesMs: number[];
  errors: number;
  errorSamples: string[];
  seconds: number;
  serverCpuMs: number | undefined;
  clientCpuMs: number;
}

/**
 * `concurrency` loops, each sending one request after the other until the
 * deadline. `keyFor(loop, seq)` names the key of each request.
 */
async function runLoad(
  server: Server,
  op: Op,
  concurrency: number,
  durationMs: number,
  keyFor: (loop: number, seq: number) => string,
  onSuccess: (key: string) => void = () => undefined,
): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  const serverCpuBefore = groupCpuMs(server.proc.pid);
  const clientCpuBefore = process.cpuUsage();
  const start = performance.now();
  const deadline = start + durationMs;
  const loop = async (id: number): Promise<void> => {
    for (let seq = 0; performance.now() < deadline; seq++) {
      const key = keyFor(id, seq);
      const t0 = performance.now();
      let outcome: string | undefined;
      try {
        const { status, body } = await request(server, op, key);
        if (status !== 200) outcome = `${status} ${body.slice(0, 200)}`;
      } catch (e) {
        outcome = `fetch failed: ${e instanceof Error ? e.message : String(e)}`;
      }
      const t1 = performance.now();
      if (outcome === undefined) {
        latenciesMs.push(t1 - t0);
        onSuccess(key);
      } else {
        errors++;
        if (errorSamples.length < errorSamplesMax) errorSamples.push(outcome);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, id) => loop(id)));
  const seconds = (performance.now() - start) / 1000;
  const serverCpuAfter = groupCpuMs(server.proc.pid);
  const clientCpu = process.cpuUsage(clientCpuBefore);
  return {
    latenciesMs,
    errors,
    errorSamples,
    seconds,
    // Only live processes count, so a process that exited meanwhile (wrangler
    // restarts workerd on a reload) makes the difference meaningless.
    serverCpuMs:
      serverCpuBefore === undefined || serverCpuAfter === undefined || serverCpuAfter < serverCpuBefore
        ? undefined
        : serverCpuAfter - serverCpuBefore,
    clientCpuMs: (clientCpu.user + clientCpu.system) / 1000,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** One row from a run's slices: their latencies, errors, time and CPU added up. */
function toRow(target: TargetName, op: Op, concurrency: number, slices: LoadResult[]): Row {
  const sum = (f: (s: LoadResult) => number) => slices.reduce((acc, s) => acc + f(s), 0);
  const serverCpuKnown = slices.every((s) => s.serverCpuMs !== undefined);
  const r = {
    latenciesMs: slices.flatMap((s) => s.latenciesMs),
    errors: sum((s) => s.errors),
    errorSamples: slices.flatMap((s) => s.errorSamples).slice(0, errorSamplesMax),
    seconds: sum((s) => s.seconds),
    serverCpuMs: serverCpuKnown ? sum((s) => s.serverCpuMs ?? 0) : undefined,
    clientCpuMs: sum((s) => s.clientCpuMs),
  };
  const sorted = [...r.latenciesMs].sort((a, b) => a - b);
  return {
    target,
    op,
    concurrency,
    ops: sorted.length,
    errors: r.errors,
    seconds: round(r.seconds, 2),
    opsPerSec: round(sorted.length / r.seconds, 1),
    p50Ms: round(percentile(sorted, 50), 2),
    p99Ms: round(percentile(sorted, 99), 2),
    serverCpuMsPerOp: r.serverCpuMs === undefined ? undefined : round(r.serverCpuMs / sorted.length, 3),
    clientCpuMsPerOp: round(r.clientCpuMs / sorted.length, 3),
    sliceOpsPerSec: slices.map((s) => round(s.latenciesMs.length / s.seconds, 1)),
    errorSamples: r.errorSamples,
  };
}

// -----------------------------------------------------------------------------
// The run

interface ReloadState {
  /** Reloads started so far that have been waited out. */
  seen: number;
  /** Slices thrown away because their server reloaded during them. */
  slicesRerun: number;
}

/**
 * Runs one slice on a server whose code did not change under it. wrangler
 * dev reloads the worker when a file under src/ changes (other people may be
 * editing the tree), and a reload resets every object: regionkv then elects
 * a leader again, a stall that says nothing about its speed. A slice during
 * which that happened is thrown away and run again once the server serves.
 */
async function runSlice(
  server: Server,
  reloads: Map<TargetName, ReloadState>,
  run: () => Promise<LoadResult>,
): Promise<LoadResult> {
  const state = reloads.get(server.name)!;
  for (let attempt = 1; ; attempt++) {
    if (server.reloads().started !== state.seen) {
      // Until the new build is swapped in, the old one still answers: wait
      // for the swap, then for a leader again.
      const deadline = Date.now() + startTimeoutMs;
      for (let r = server.reloads(); r.finished < r.started; r = server.reloads()) {
        if (Date.now() > deadline) throw new Error(`${server.name} did not finish reloading:\n${logTail(server)}`);
        await sleep(200);
      }
      state.seen = server.reloads().started;
      await waitForHealth(server);
      await firstWrite(server);
    }
    const result = await run();
    if (server.reloads().started === state.seen) return result;
    state.slicesRerun++;
    console.log(`  ${server.name} reloaded during a slice (a source file changed); running that slice again`);
    if (attempt >= sliceAttemptsMax) {
      throw new Error(`${server.name} reloaded during ${attempt} attempts at one slice; is someone editing its sources?`);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function machineInfo() {
  const cpu = cpus();
  let wranglerVersion = 'unknown';
  try {
    wranglerVersion = execFileSync(wranglerBin, ['--version'], { env: { ...process.env, ...wranglerEnv } })
      .toString()
      .trim()
      .split('\n')
      .pop()!
      .trim();
  } catch {
    // Reported as unknown.
  }
  return {
    platform: platform(),
    release: release(),
    arch: arch(),
    cpuModel: cpu[0]?.model ?? 'unknown',
    cpuCount: cpu.length,
    totalMemGB: round(totalmem() / 1024 ** 3, 1),
    node: process.version,
    wrangler: wranglerVersion,
  };
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'regionkv-bench-http-'));
  const servers: Server[] = [];
  const stopAll = () => Promise.all(servers.map(stopServer));
  const onSignal = (signal: NodeJS.Signals) => {
    void stopAll().then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let ok = false;
  try {
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
    const [regionkv, baseline] = servers as [Server, Server];
    await Promise.all(servers.map(waitForHealth));
    for (const server of servers) {
      const ms = await firstWrite(server);
      console.log(`${server.name}: first write succeeded after ${Math.round(ms)} ms`);
    }
    // A short load on each, so that neither pays for JIT, connection setup
    // or object start-up inside a measured run.
    for (const server of servers) {
      await runLoad(server, 'put', 32, warmUpLoadMs, (loop, seq) => `warmup-${loop}-${seq}`);
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
            const onSuccess = op === 'put' ? (key: string) => void keys.push(key) : undefined;
            if (op === 'get' && keys.length === 0) throw new Error(`${server.name}: no keys were put, nothing to get`);
            slices[server.name].push(
              await runSlice(server, reloadState, () => runLoad(server, op, concurrency, sliceMs, keyFor, onSuccess)),
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
    ok = true;
  } finally {
    await stopAll();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (ok && process.env.BENCH_KEEP_LOGS === undefined) rmSync(workDir, { recursive: true, force: true });
    else console.error(`server logs and state kept in ${workDir}`);
  }
}

await main();
