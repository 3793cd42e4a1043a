// A `wrangler dev` server for end-to-end tests, started exactly as a user
// starts it: `npm start` in the repository, with PORT and PERSIST_DIR in the
// environment (package.json's start script honours both).
//
// The server runs in its own process group (npm → sh → wrangler → workerd),
// so stop() can end all of it at once and check that nothing survived.
// Should the test process die first, three guards end the group: the
// process 'exit' handler, handlers for SIGINT/SIGTERM/SIGHUP, and a small
// watchdog shell that outlives a SIGKILL of the test process.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEV_TOKEN = 'dev-token';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const host = '127.0.0.1';
/** The ports the harness may use; far from `npm start`'s default 8787. */
const portRange = { first: 8790, last: 8899 } as const;
/** Tries of a fresh port when another process took the chosen one first. */
const portAttempts = 5;
/** Lines of server output kept for error messages. */
const logLines = 200;

export interface DevServerOptions {
  /** How long start() waits for GET /v1/health to answer (default 60 s). */
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before it sends SIGKILL (default 10 s). */
  stopGraceMs?: number;
  /** Echo the server's output to this process's stderr (default: env E2E_VERBOSE=1). */
  verbose?: boolean;
}

interface Running {
  child: ChildProcess;
  /** The process group: the id of the `npm` child, which leads it. */
  pgid: number;
  port: number;
  exited: Promise<void>;
  watchdog: ChildProcess | undefined;
}

/** Every server of this process not yet disposed of, for the crash guards. */
const live = new Set<DevServer>();

export class DevServer {
  /** The root of this server's temporary files: `state/` (persisted) and `logs/`. */
  readonly baseDir: string;
  /** The `--persist-to` directory; it outlives stop() so start() can reuse it. */
  readonly persistDir: string;
  private readonly logDir: string;
  private readonly readyTimeoutMs: number;
  private readonly stopGraceMs: number;
  private readonly verbose: boolean;
  private running: Running | undefined;
  private output: string[] = [];

  constructor(options: DevServerOptions = {}) {
    this.baseDir = mkdtempSync(join(tmpdir(), 'regionkv-e2e-'));
    this.persistDir = join(this.baseDir, 'state');
    this.logDir = join(this.baseDir, 'logs');
    mkdirSync(this.persistDir);
    mkdirSync(this.logDir);
    this.readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
    this.stopGraceMs = options.stopGraceMs ?? 10_000;
    this.verbose = options.verbose ?? process.env.E2E_VERBOSE === '1';
    live.add(this);
    installGuards();
  }

  /** The base URL, e.g. `http://127.0.0.1:8790`; only while running. */
  get url(): string {
    if (this.running === undefined) throw new Error('the dev server is not running');
    return `http://${host}:${this.running.port}`;
  }

  /** The process group of the running server, for checks that it is gone after stop(). */
  get processGroup(): number | undefined {
    return this.running?.pgid;
  }

  /** The last lines the server printed. */
  log(): string {
    return this.output.join('');
  }

  /**
   * Starts `npm start` on a free port and the persist directory, and resolves
   * once GET /v1/health answers 200. A port taken between the probe and
   * workerd's bind is retried on another port.
   */
  async start(): Promise<void> {
    if (this.running !== undefined) throw new Error(`the dev server already runs at ${this.url}`);
    const deadline = Date.now() + this.readyTimeoutMs;
    const tried = new Set<number>();
    for (let attempt = 1; ; attempt++) {
      const port = await findFreePort(tried);
      tried.add(port);
      const outcome = await this.launch(port, deadline);
      if (outcome === 'ready') return;
      if (attempt >= portAttempts) {
        throw new Error(`wrangler dev found no free port after ${attempt} tries:\n${this.log()}`);
      }
    }
  }

  /** Ends the whole process group (SIGTERM, then SIGKILL) and waits until none of it is alive. */
  async stop(): Promise<void> {
    const running = this.running;
    if (running === undefined) return;
    const { pgid } = running;
    signalGroup(pgid, 'SIGTERM');
    if (!(await waitUntil(() => liveProcessesInGroup(pgid).length === 0, this.stopGraceMs))) {
      signalGroup(pgid, 'SIGKILL');
      if (!(await waitUntil(() => liveProcessesInGroup(pgid).length === 0, 5_000))) {
        throw new Error(`processes of group ${pgid} survived SIGKILL: ${liveProcessesInGroup(pgid).join(', ')}`);
      }
    }
    await running.exited;
    running.watchdog?.kill('SIGKILL');
    this.running = undefined;
  }

  /** stop(), then removes the temporary directory with the persisted state. */
  async dispose(): Promise<void> {
    try {
      await this.stop();
    } finally {
      rmSync(this.baseDir, { recursive: true, force: true });
      live.delete(this);
      if (live.size === 0) uninstallGuards();
    }
  }

  /** The crash path: SIGKILL the group without waiting, remove the files. Synchronous. */
  killNow(): void {
    if (this.running !== undefined) signalGroup(this.running.pgid, 'SIGKILL');
    this.running?.watchdog?.kill('SIGKILL');
    this.running = undefined;
    live.delete(this);
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  private async launch(port: number, deadline: number): Promise<'ready' | 'port-taken'> {
    this.output = [];
    const child = spawn('npm', ['start'], {
      cwd: repoRoot,
      env: serverEnv(port, this.persistDir, this.logDir),
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pgid = child.pid;
    if (pgid === undefined) {
      await new Promise<void>((done) => child.once('error', () => done()));
      throw new Error(`could not spawn npm start in ${repoRoot}`);
    }
    let exitCode: string | undefined;
    const exited = new Promise<void>((done) => {
      child.once('exit', (code, signal) => {
        exitCode = signal ?? String(code);
        done();
      });
    });
    this.running = { child, pgid, port, exited, watchdog: startWatchdog(pgid, this.baseDir) };

    const record = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.output.push(text);
      if (this.output.length > logLines) this.output.splice(0, this.output.length - logLines);
      if (this.verbose) process.stderr.write(`[dev-server :${port}] ${text}`);
    };
    child.stdout?.on('data', record);
    child.stderr?.on('data', record);

    // Wrangler prints the line once workerd has bound the port. Only then is
    // a health answer known to come from this server and not from another
    // process on the same port.
    const readyLine = `Ready on http://${host}:${port}`;
    let bound = false;
    const failed = async (why: string) => {
      await this.stop();
      return new Error(`wrangler dev on port ${port} ${why}:\n${this.log()}`);
    };
    for (;;) {
      if (exitCode !== undefined) {
        const log = this.log();
        await this.stop();
        if (log.includes('Address already in use')) return 'port-taken';
        throw new Error(`wrangler dev on port ${port} exited (${exitCode}) before it was ready:\n${log}`);
      }
      if (Date.now() > deadline) {
        throw await failed(`did not answer GET /v1/health within ${this.readyTimeoutMs} ms`);
      }
      bound ||= this.log().includes(readyLine);
      if (bound && (await healthy(port))) return 'ready';
      await sleep(200);
    }
  }
}

/** The environment of `npm start`: this one, minus what vitest adds, plus the server's settings. */
function serverEnv(port: number, persistDir: string, logDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('VITEST') || name === 'TEST' || (name === 'NODE_ENV' && value === 'test')) continue;
    env[name] = value;
  }
  return {
    ...env,
    PORT: String(port),
    PERSIST_DIR: persistDir,
    // Nothing leaves the machine: no telemetry, no update check (the banner),
    // no request.cf lookup (the last two are also in the start script).
    WRANGLER_SEND_METRICS: 'false',
    WRANGLER_HIDE_BANNER: 'true',
    CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    WRANGLER_LOG_PATH: logDir,
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  };
}

/** A port in the harness range that 127.0.0.1 can bind now; the start is random so parallel runs spread out. */
async function findFreePort(skip: ReadonlySet<number>): Promise<number> {
  const count = portRange.last - portRange.first + 1;
  const offset = Math.floor(Math.random() * count);
  for (let i = 0; i < count; i++) {
    const port = portRange.first + ((offset + i) % count);
    if (!skip.has(port) && (await canBind(port))) return port;
  }
  throw new Error(`no free port in ${portRange.first}-${portRange.last} on ${host}`);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', () => done(false));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => done(true)));
  });
}

async function healthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}:${port}/v1/health`, { signal: AbortSignal.timeout(5_000) });
    const body: unknown = await res.json();
    return res.status === 200 && typeof body === 'object' && body !== null && 'ok' in body && body.ok === true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'ESRCH')) throw err;
  }
}

/**
 * The processes of a group that are still alive. Zombies do not count: the
 * container's init may be slow to reap the orphans of a killed group, and a
 * zombie holds neither ports nor files. Where there is no /proc, any member.
 */
export function liveProcessesInGroup(pgid: number): number[] {
  if (!existsSync('/proc/self/stat')) {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z') members.push(Number(entry));
  }
  return members;
}

/** The live processes of a group whose command line mentions `needle` (e.g. `workerd`). */
export function groupProcessesMatching(pgid: number, needle: string): number[] {
  return liveProcessesInGroup(pgid).filter((pid) => commandLine(pid).includes(needle));
}

/** Whether a process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  if (existsSync('/proc/self/stat')) {
    const stat = procStat(pid);
    return stat !== undefined && stat.state !== 'Z';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function procStat(pid: number): { state: string; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = fields[0];
    const pgrp = Number(fields[2]);
    return state === undefined ? undefined : { state, pgrp };
  } catch {
    return undefined; // gone meanwhile
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/**
 * A detached shell that, once this process is gone (even by SIGKILL, which
 * runs no handler), SIGKILLs the server's group and removes its files.
 */
function startWatchdog(pgid: number, baseDir: string): ChildProcess | undefined {
  const script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -KILL -- "-$2" 2>/dev/null; rm -rf -- "$3"';
  const args = ['-c', script, 'regionkv-e2e-watchdog', String(process.pid), String(pgid), baseDir];
  const watchdog = spawn('sh', args, {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.on('error', () => undefined);
  watchdog.unref();
  return watchdog;
}

const fatalSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let guardsInstalled = false;

function killAllNow(): void {
  for (const server of [...live]) {
    try {
      server.killNow();
    } catch {
      // best effort on the way out; the watchdog covers what is left
    }
  }
}

function onExit(): void {
  killAllNow();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  uninstallGuards();
  // With no other listener the default action (exit) is what the sender meant.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installGuards(): void {
  if (guardsInstalled) return;
  guardsInstalled = true;
  process.on('exit', onExit);
  for (const signal of fatalSignals) process.on(signal, onSignal);
}

function uninstallGuards(): void {
  if (!guardsInstalled) return;
  guardsInstalled = false;
  process.off('exit', onExit);
  for (const signal of fatalSignals) process.off(signal, onSignal);
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
