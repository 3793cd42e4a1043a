// The SDK (regionkv/client) and the CLI (bin/regionkv) against `npm start`
// (issue 7, "SDK tests against npm start (including retry on conflict); CLI
// tests"). One dev server for the file; every test uses its own key prefix.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegionKV } from 'regionkv/client';
import { DEV_TOKEN, DevServer } from './dev-server';

const server = new DevServer();
let kv: RegionKV;
const cliPath = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../bin/regionkv');
const scratch = mkdtempSync(join(tmpdir(), 'regionkv-cli-'));

beforeAll(async () => {
  await server.start();
  kv = new RegionKV({ url: server.url, token: DEV_TOKEN, timeoutMs: 30_000 });
});

afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await server.dispose();
});

describe('SDK against the dev server', () => {
  it('puts, gets, deletes and scans the transactional key space', async () => {
    const ts1 = await kv.put('sdk/a', 'one');
    const ts2 = await kv.put('sdk/b', 'two');
    expect(typeof ts1).toBe('bigint');
    expect(ts2 > ts1).toBe(true);
    expect(await kv.get('sdk/a')).toBe('one');
    expect(await kv.scan({ start: 'sdk/', end: 'sdk0' })).toEqual({
      pairs: [{ key: 'sdk/a', value: 'one' }, { key: 'sdk/b', value: 'two' }],
      more: false,
    });
    expect(await kv.scan({ start: 'sdk/', end: 'sdk0', reverse: true, limit: 1 })).toEqual({ pairs: [{ key: 'sdk/b', value: 'two' }], more: true });
    await kv.delete('sdk/a');
    expect(await kv.get('sdk/a')).toBeNull();
  });

  it('round-trips binary keys and values as bytes', async () => {
    const key = Uint8Array.of(0x73, 0x64, 0x6b, 0xff, 0x00);
    const value = Uint8Array.of(0x80, 0x00, 0xfe);
    await kv.put(key, value);
    expect(await kv.get(key, { as: 'bytes' })).toEqual(value);
    // Not UTF-8: a string read fails with INVALID_ARGUMENT, as the server's would.
    await expect(kv.get(key)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('commits a transaction whose reads see its own writes', async () => {
    const seen = await kv.transaction(async (tx) => {
      tx.put('sdk-tx/x', '1');
      tx.put('sdk-tx/y', '2');
      return { x: await tx.get('sdk-tx/x'), scan: await tx.scan({ start: 'sdk-tx/', end: 'sdk-tx0' }) };
    });
    expect(seen.x).toBe('1');
    expect(seen.scan.pairs.map((p) => p.key)).toEqual(['sdk-tx/x', 'sdk-tx/y']);
    expect(await kv.get('sdk-tx/y')).toBe('2');
  });

  it('retries conflicts: two concurrent incrementers end at 2N', async () => {
    const n = 5;
    await kv.put('sdk/counter', '0');
    let attempts = 0;
    const incrementer = async () => {
      for (let i = 0; i < n; i++) {
        await kv.transaction(
          async (tx) => {
            attempts++;
            const value = Number(await tx.get('sdk/counter'));
            tx.put('sdk/counter', String(value + 1));
          },
          { retries: 30 },
        );
      }
    };
    await Promise.all([incrementer(), incrementer()]);
    expect(await kv.get('sdk/counter')).toBe(String(2 * n));
    expect(attempts).toBeGreaterThanOrEqual(2 * n);
  });

  it('maps errors to RegionKVError codes', async () => {
    const bad = new RegionKV({ url: server.url, token: 'wrong' });
    await expect(bad.get('k')).rejects.toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    await expect(kv.put('', 'v')).rejects.toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
  });

  it('uses the raw key space through kv.raw, apart from the transactional one', async () => {
    await kv.raw.put('sdk-raw/a', 'r');
    expect(await kv.raw.get('sdk-raw/a')).toBe('r');
    expect(await kv.get('sdk-raw/a')).toBeNull();
    expect(await kv.raw.scan({ start: 'sdk-raw/', end: 'sdk-raw0' })).toEqual({ pairs: [{ key: 'sdk-raw/a', value: 'r' }], more: false });
    await kv.raw.delete('sdk-raw/a');
    expect(await kv.raw.get('sdk-raw/a')).toBeNull();
  });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { env: { ...process.env, REGIONKV_URL: server.url, REGIONKV_TOKEN: DEV_TOKEN }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        done({ code, stdout, stderr });
      },
    );
  });
}

describe('CLI against the dev server', () => {
  it('puts, gets, scans and reports a missing key with exit 1', async () => {
    expect(await cli(['put', 'cli/k', 'hello world'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^OK commitTs=\d+\n$/) });
    expect(await cli(['get', 'cli/k'])).toMatchObject({ code: 0, stdout: 'hello world\n' });
    expect(await cli(['scan', 'cli/', 'cli0'])).toMatchObject({ code: 0, stdout: 'cli/k\thello world\n' });
    const missing = await cli(['get', 'cli/missing']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('NOT_FOUND');
  });

  it('commits a txn file and prints the cluster tables', async () => {
    const file = join(scratch, 'txn.json');
    writeFileSync(file, JSON.stringify([{ op: 'put', key: 'cli/t1', value: 'a' }, { op: 'delete', key: 'cli/k' }]));
    expect(await cli(['txn', file])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^OK 2 mutations commitTs=\d+\n$/) });
    expect(await kv.get('cli/t1')).toBe('a');
    expect(await kv.get('cli/k')).toBeNull();

    const cluster = await cli(['cluster']);
    expect(cluster.code).toBe(0);
    expect(cluster.stdout).toMatch(/^STORES\nstore\s+regions\s+leaders/);
    expect(cluster.stdout).toMatch(/REGIONS\nregion\s+start\s+end/);
    for (const store of [1, 2, 3, 4, 5]) expect(cluster.stdout).toMatch(new RegExp(`^${store}\\s+\\d+\\s+\\d+`, 'm'));
    expect(cluster.stdout).toMatch(/-inf\s+\+inf|-inf/);
  });

  it('runs a short bench with a progress bar and a summary table', async () => {
    // Concurrency 1: with several concurrent /v1/kv requests the worker
    // currently answers some with 500 "code had hung" (a server bug reported
    // separately, likely the per-isolate TSO batcher sharing one RPC across
    // requests); this test is about the CLI, not that bug.
    const bench = await cli(['bench', '--ops', '20', '--concurrency', '1', '--workload', 'mixed']);
    expect(bench.code, bench.stderr).toBe(0);
    expect(bench.stderr).toContain('20/20');
    expect(bench.stdout).toMatch(/^workload\s+ops\s+errors\s+seconds\s+ops\/s\s+p50 ms\s+p99 ms/);
    expect(bench.stdout).toMatch(/\nmixed\s+20\s+0\s+/);
  });

  it('splits a region and shows it in the cluster table', async () => {
    const before = (await kv.admin.cluster()).regions.length;
    const split = await cli(['split', 'cli/m', '--json']);
    expect(split.code, split.stderr).toBe(0);
    const answer = JSON.parse(split.stdout) as { left: { endKey: string }; right: { startKey: string } };
    expect(answer.left.endKey).toBe('cli/m');
    expect(answer.right.startKey).toBe('cli/m');
    expect((await kv.admin.cluster()).regions.length).toBe(before + 1);
    expect((await cli(['cluster'])).stdout).toContain('"cli/m"');
  });
});
