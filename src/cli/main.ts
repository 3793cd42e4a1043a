// The `regionkv` command line (issue 7). It is a thin shell over the SDK in
// src/client, so the CLI and the SDK cannot disagree about the API. main()
// takes its I/O as arguments so tests can run it in-process as well as
// spawned; the bin shim (bin/regionkv) passes the real process.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type Cluster, RegionKV, RegionKVError } from '../client/index';
import { type BenchOptions, runBench } from './bench';
import { formatKey, table } from './format';

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** Whether stderr is a terminal (the bench progress bar redraws in place only there). */
  stderrIsTty: boolean;
}

export const usage = `usage: regionkv <command> [args] [options]

commands:
  get <key>                          print the value (exit 1 if absent)
  put <key> <value>                  write a key, print its commitTs
  delete <key>                       delete a key, print its commitTs
  scan [start] [end]                 print "key<TAB>value" lines (--limit, --reverse)
  txn <file.json>                    commit mutations [{"op":"put"|"delete","key","value"}] in one transaction
  cluster                            tables of stores and regions
  split <key>                        split the region holding <key> at <key>
  transfer-leader <regionId> <storeId>
  add-peer <regionId> <storeId>
  remove-peer <regionId> <peerId>
  bench                              load test (--ops, --concurrency, --workload put|get|mixed|txn)

options:
  --url URL            or REGIONKV_URL (default http://127.0.0.1:8787)
  --token TOKEN        or REGIONKV_TOKEN
  --admin-token TOKEN  or REGIONKV_ADMIN_TOKEN (default: the token)
  --raw                get/put/delete/scan/bench on the raw key space
  --limit N            scan limit (default 100)
  --reverse            scan backwards (transactional space only)
  --json               print JSON instead of text/tables
  -h, --help

exit codes: 0 ok, 1 API error, 2 usage`;

class UsageError extends Error {}

const optionSpec = {
  url: { type: 'string' },
  token: { type: 'string' },
  'admin-token': { type: 'string' },
  raw: { type: 'boolean' },
  limit: { type: 'string' },
  reverse: { type: 'boolean' },
  json: { type: 'boolean' },
  ops: { type: 'string' },
  concurrency: { type: 'string' },
  workload: { type: 'string' },
  'key-space': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function positiveInt(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${name} must be a positive integer, got "${text}"`);
  return Number(text);
}

function expectArgs(args: string[], names: string[]): string[] {
  if (args.length !== names.length) {
    throw new UsageError(`expected ${names.length === 0 ? 'no arguments' : names.map((n) => `<${n}>`).join(' ')}, got ${args.length}`);
  }
  return args;
}

/** Runs one CLI invocation and resolves to its exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  try {
    return await run(argv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`regionkv: ${err.message}\n\n${usage}\n`);
      return 2;
    }
    if (err instanceof RegionKVError) {
      io.stderr(`regionkv: ${err.code}${err.status === 0 ? '' : ` (HTTP ${err.status})`}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function run(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: optionSpec, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    io.stdout(`${usage}\n`);
    return command === undefined && values.help !== true ? 2 : 0;
  }
  const url = values.url ?? io.env.REGIONKV_URL ?? 'http://127.0.0.1:8787';
  const token = values.token ?? io.env.REGIONKV_TOKEN;
  const adminToken = values['admin-token'] ?? io.env.REGIONKV_ADMIN_TOKEN;
  if (token === undefined || token === '') throw new UsageError('no token: pass --token or set REGIONKV_TOKEN');
  const kv = new RegionKV({ url, token, ...(adminToken === undefined ? {} : { adminToken }) });
  const raw = values.raw === true;
  const json = values.json === true;
  const print = (value: unknown, text: string) => io.stdout(`${json ? JSON.stringify(value, null, 2) : text}\n`);

  switch (command) {
    case 'get': {
      const [key] = expectArgs(args, ['key']) as [string];
      const value = raw ? await kv.raw.get(key) : await kv.get(key);
      if (value === null) throw new RegionKVError(404, 'NOT_FOUND', `no value is stored under "${key}"`);
      print({ key, value }, value);
      return 0;
    }
    case 'put': {
      const [key, value] = expectArgs(args, ['key', 'value']) as [string, string];
      if (raw) {
        await kv.raw.put(key, value);
        print({}, 'OK');
      } else {
        const commitTs = await kv.put(key, value);
        print({ commitTs: commitTs.toString() }, `OK commitTs=${commitTs}`);
      }
      return 0;
    }
    case 'delete': {
      const [key] = expectArgs(args, ['key']) as [string];
      if (raw) {
        await kv.raw.delete(key);
        print({}, 'OK');
      } else {
        const commitTs = await kv.delete(key);
        print({ commitTs: commitTs.toString() }, `OK commitTs=${commitTs}`);
      }
      return 0;
    }
    case 'scan': {
      if (args.length > 2) throw new UsageError('scan takes at most [start] [end]');
      const [start = '', end] = args;
      const limit = positiveInt(values.limit, '--limit', 100);
      if (raw && values.reverse === true) throw new UsageError('--reverse is not available on the raw key space');
      const options = { start, ...(end === undefined ? {} : { end }), limit };
      const result = raw ? await kv.raw.scan(options) : await kv.scan({ ...options, reverse: values.reverse === true });
      const lines = result.pairs.map((p) => `${p.key}\t${p.value}\n`).join('');
      if (json) print(result, '');
      else io.stdout(lines + (result.more ? '# more: scan again from after the last key\n' : ''));
      return 0;
    }
    case 'txn': {
      const [file] = expectArgs(args, ['file.json']) as [string];
      const mutations = parseMutations(await readFile(file, 'utf8').catch((err: unknown) => {
        throw new UsageError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
      }));
      let commitTs: bigint | null = null;
      await kv.transaction(async (tx) => {
        for (const m of mutations) {
          if (m.op === 'put') tx.put(m.key, m.value);
          else tx.delete(m.key);
        }
        // Committed here rather than by transaction() to learn the commitTs.
        commitTs = await tx.commit();
      });
      print({ commitTs: commitTs === null ? null : String(commitTs), mutations: mutations.length }, `OK ${mutations.length} mutations commitTs=${commitTs}`);
      return 0;
    }
    case 'cluster': {
      expectArgs(args, []);
      const cluster = await kv.admin.cluster({ as: 'bytes' });
      if (json) {
        const regions = cluster.regions.map((r) => ({ ...r, startKey: formatKey(r.startKey), endKey: formatKey(r.endKey) }));
        print({ stores: cluster.stores, regions }, '');
      } else {
        io.stdout(clusterTables(cluster));
      }
      return 0;
    }
    case 'split': {
      const [key] = expectArgs(args, ['key']) as [string];
      const answer = await kv.admin.split(key);
      print(answer, `split at ${JSON.stringify(key)}: left region ${answer.left.id}, right region ${answer.right.id}`);
      return 0;
    }
    case 'transfer-leader': {
      const [region, store] = expectArgs(args, ['regionId', 'storeId']);
      const answer = await kv.admin.transferLeader(positiveInt(region, 'regionId', 0), positiveInt(store, 'storeId', 0));
      print(answer, `leader of region ${region} is now peer ${answer.leader}`);
      return 0;
    }
    case 'add-peer':
    case 'remove-peer': {
      const [region, other] = expectArgs(args, ['regionId', command === 'add-peer' ? 'storeId' : 'peerId']);
      const regionId = positiveInt(region, 'regionId', 0);
      const otherId = positiveInt(other, command === 'add-peer' ? 'storeId' : 'peerId', 0);
      const answer = command === 'add-peer' ? await kv.admin.addPeer(regionId, otherId) : await kv.admin.removePeer(regionId, otherId);
      print(answer, `region ${answer.id} peers: ${answer.peers.map((p) => `${p.id}@store${p.storeId}`).join(', ')}`);
      return 0;
    }
    case 'bench': {
      expectArgs(args, []);
      const workload = values.workload ?? 'mixed';
      if (workload !== 'put' && workload !== 'get' && workload !== 'mixed' && workload !== 'txn') {
        throw new UsageError(`--workload must be put, get, mixed or txn, got "${workload}"`);
      }
      if (raw && workload === 'txn') throw new UsageError('--workload txn needs the transactional key space (drop --raw)');
      const options: BenchOptions = {
        ops: positiveInt(values.ops, '--ops', 1000),
        concurrency: positiveInt(values.concurrency, '--concurrency', 16),
        keySpace: positiveInt(values['key-space'], '--key-space', 1000),
        workload,
        raw,
      };
      const summary = await runBench(kv, options, io);
      if (json) print(summary, '');
      else io.stdout(table(['workload', 'ops', 'errors', 'seconds', 'ops/s', 'p50 ms', 'p99 ms', 'max ms'], [[
        `${raw ? 'raw ' : ''}${workload}`,
        String(summary.ops),
        String(summary.errors),
        summary.seconds.toFixed(2),
        summary.opsPerSecond.toFixed(1),
        summary.p50Ms.toFixed(1),
        summary.p99Ms.toFixed(1),
        summary.maxMs.toFixed(1),
      ]]));
      if (summary.errors > 0) {
        const codes = Object.entries(summary.errorCodes).map(([code, n]) => `${code} x${n}`).join(', ');
        io.stderr(`regionkv: ${summary.errors} of ${summary.ops} operations failed (${codes}); first: ${summary.firstError}\n`);
      }
      return summary.errors > 0 ? 1 : 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

type Mutation = { op: 'put'; key: string; value: string } | { op: 'delete'; key: string };

/** The txn file: an array of mutations, or `{"mutations": [...]}` (the body of POST /v1/txn/commit). */
export function parseMutations(text: string): Mutation[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`the txn file is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const list = Array.isArray(data) ? data : typeof data === 'object' && data !== null && 'mutations' in data ? data.mutations : undefined;
  if (!Array.isArray(list)) throw new UsageError('the txn file must hold an array of mutations or {"mutations": [...]}');
  return list.map((item: unknown, i): Mutation => {
    const m = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {};
    if (typeof m.key !== 'string') throw new UsageError(`mutation ${i}: "key" must be a string`);
    if (m.op === 'delete') return { op: 'delete', key: m.key };
    if (m.op === 'put' && typeof m.value === 'string') return { op: 'put', key: m.key, value: m.value };
    throw new UsageError(`mutation ${i}: "op" must be "put" (with a string "value") or "delete"`);
  });
}

function clusterTables(cluster: Cluster<Uint8Array>): string {
  const stores = table(
    ['store', 'regions', 'leaders', 'bytes', 'location'],
    cluster.stores.map((s) => [String(s.id), String(s.regionCount), String(s.leaderCount), String(s.approximateBytes), s.locationHint ?? '']),
  );
  const regions = table(
    ['region', 'start', 'end', 'epoch', 'peers (id@store, * leader)', 'keys', 'bytes'],
    cluster.regions.map((r) => [
      String(r.id),
      r.startKey.length === 0 ? '-inf' : formatKey(r.startKey),
      r.endKey.length === 0 ? '+inf' : formatKey(r.endKey),
      `${r.epoch.version}/${r.epoch.confVer}`,
      r.peers.map((p) => `${p.id}@${p.storeId}${p.id === r.leader ? '*' : ''}`).join(' '),
      String(r.approximateKeys),
      String(r.approximateBytes),
    ]),
  );
  return `STORES\n${stores}\nREGIONS\n${regions}`;
}
