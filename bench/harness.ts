// Shared by the HTTP benchmarks (bench/http.ts, bench/txn.ts): starting a
// wrangler dev server in its own process group and stopping it, waiting for
// it to serve, closed-loop load with latency and CPU figures, and slices that
// are run again when wrangler reloads the worker under them.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, cpus, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const wranglerBin = join(root, 'node_modules', '.bin', 'wrangler');

export const valueBytes = 100;
export const token = 'dev-token';

/** How long a server may take to answer its health route after spawning. */
export const startTimeoutMs = 90_000;
/** How long regionkv may take to bootstrap and elect a leader (first write succeeds). */
export const warmUpTimeoutMs = 60_000;
export const warmUpLoadMs = 1_000;
/** A server still alive this long after SIGTERM gets SIGKILL. */
export const stopGraceMs = 5_000;
/** Error samples kept per run, to say what went wrong. */
export const errorSamplesMax = 3;
/** A slice spoiled by a reload of its server is run again, at most this many times in all. */
export const sliceAttemptsMax = 4;

/** The env every wrangler here runs with: no telemetry, no banner, no fetch of request.cf. */
export const wranglerEnv = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
};

export interface Server<N extends string = string> {
  name: N;
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

// -----------------------------------------------------------------------------
// Servers

export function freePort(): Promise<number> {
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
export function spawnServer<N extends string>(
  name: N,
  port: number,
  command: string,
  args: string[],
  env: Record<string, string>,
  workDir: string,
): Server<N> {
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
export function reloadCounter(logPath: string): () => { started: number; finished: number } {
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

export function logTail(server: Server, lines = 30): string {
  try {
    return readFileSync(server.logPath, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // The group is gone already.
  }
}

/** SIGTERM to the whole group, SIGKILL after the grace period, then wait until no member is left. */
export async function stopServer(server: Server): Promise<void> {
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
export const clockTicksPerSec = 100;

/** CPU time (user + system) of every live process in group `pgid`, in ms; undefined where /proc is unavailable. */
export function groupCpuMs(pgid: number | undefined): number | undefined {
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

export async function waitForHealth(server: Server): Promise<void> {
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
/** The body of every put: a `valueBytes`-byte value. */
export const putBody = JSON.stringify({ value });
export const headers = { authorization: `Bearer ${token}` };
export const jsonHeaders = { ...headers, 'content-type': 'application/json' };

export interface Answer {
  status: number;
  body: string;
}

/** One request; the body is always read: it keeps the connection reusable and is part of the cost. */
export async function send(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, { headers, ...init });
  const body = await res.text();
  return { status: res.status, body };
}

export function rawRequest(server: Server, op: 'put' | 'get', key: string): Promise<Answer> {
  const url = `${server.baseUrl}/v1/raw/${encodeURIComponent(key)}`;
  return op === 'put' ? send(url, { method: 'PUT', headers: jsonHeaders, body: putBody }) : send(url);
}

/** Writes until one succeeds: regionkv's first request bootstraps the cluster and elects a leader. */
export async function firstWrite(server: Server): Promise<number> {
  const start = performance.now();
  const deadline = Date.now() + warmUpTimeoutMs;
  let last = 'no attempt';
  for (let i = 0; Date.now() < deadline; i++) {
    if (server.hasExited()) throw new Error(`${server.name} exited during warm-up:\n${logTail(server)}`);
    try {
      const { status, body } = await rawRequest(server, 'put', `warmup-first-${i}`);
      if (status === 200) return performance.now() - start;
      last = `${status} ${body.slice(0, 200)}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(200);
  }
  throw new Error(`${server.name}: no warm-up write succeeded within ${warmUpTimeoutMs} ms; last: ${last}`);
}

export interface LoadResult {
  latenciesMs: number[];
  errors: number;
  /** How many of the errors were 409s (conflicts: a transaction that lost). */
  conflicts: number;
  errorSamples: string[];
  seconds: number;
  serverCpuMs: number | undefined;
  clientCpuMs: number;
}

/** How one operation ended: undefined for success, else the status (if any) and what went wrong. */
export type Failure = { status: number | undefined; message: string } | undefined;

/** Turns an answer into a Failure: anything but a 200 fails. */
export function failureOf(answer: Answer): Failure {
  return answer.status === 200 ? undefined : { status: answer.status, message: `${answer.status} ${answer.body.slice(0, 200)}` };
}

/**
 * `concurrency` loops, each running one operation after the other until the
 * deadline; `operation(loop, seq)` runs one, of however many requests, and
 * says whether it failed. Its latency counts only when it succeeded.
 */
export async function runLoad(
  server: Server,
  concurrency: number,
  durationMs: number,
  operation: (loop: number, seq: number) => Promise<Failure>,
): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let conflicts = 0;
  const serverCpuBefore = groupCpuMs(server.proc.pid);
  const clientCpuBefore = process.cpuUsage();
  const start = performance.now();
  const deadline = start + durationMs;
  const loop = async (id: number): Promise<void> => {
    for (let seq = 0; performance.now() < deadline; seq++) {
      const t0 = performance.now();
      let outcome: Failure;
      try {
        outcome = await operation(id, seq);
      } catch (e) {
        outcome = { status: undefined, message: `fetch failed: ${e instanceof Error ? e.message : String(e)}` };
      }
      const t1 = performance.now();
      if (outcome === undefined) {
        latenciesMs.push(t1 - t0);
      } else {
        errors++;
        if (outcome.status === 409) conflicts++;
        if (errorSamples.length < errorSamplesMax) errorSamples.push(outcome.message);
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
    conflicts,
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

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}


/** What a run's slices add up to; the caller adds which target, op and concurrency. */
export interface Summary {
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

/** A run's slices added up: their latencies, errors, time and CPU. */
export function summarize(slices: LoadResult[]): Summary {
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

export interface ReloadState {
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
export async function runSlice<N extends string>(
  server: Server<N>,
  reloads: Map<N, ReloadState>,
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function machineInfo() {
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

/**
 * How long each measured run lasts (BENCH_SECONDS, default 5) and how it is
 * cut into slices (BENCH_SLICE_SECONDS, default 1). The targets' or ops'
 * slices alternate, so noise from whatever else the machine does (bursts
 * last seconds) lands on all of their figures rather than on one.
 */
export function sliceSchedule(): { secondsPerRun: number; sliceSeconds: number; slicesPerRun: number; sliceMs: number } {
  const secondsPerRun = Number(process.env.BENCH_SECONDS ?? 5);
  const sliceSeconds = Number(process.env.BENCH_SLICE_SECONDS ?? 1);
  const slicesPerRun = Math.max(1, Math.round(secondsPerRun / sliceSeconds));
  return { secondsPerRun, sliceSeconds, slicesPerRun, sliceMs: (secondsPerRun * 1000) / slicesPerRun };
}

/**
 * Runs one benchmark in a fresh work directory (server state and logs):
 * stops its servers on the way out, also on Ctrl-C or SIGTERM, and deletes
 * the directory after a clean run unless BENCH_KEEP_LOGS is set.
 */
export async function benchRun(
  name: string,
  stop: () => Promise<unknown>,
  body: (workDir: string) => Promise<void>,
): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), `regionkv-bench-${name}-`));
  const onSignal = (signal: NodeJS.Signals) => {
    void stop().then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let ok = false;
  try {
    await body(workDir);
    ok = true;
  } finally {
    await stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (ok && process.env.BENCH_KEEP_LOGS === undefined) rmSync(workDir, { recursive: true, force: true });
    else console.error(`server logs and state kept in ${workDir}`);
  }
}
