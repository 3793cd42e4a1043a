// The SDK against a fake fetch: wire encodings, error mapping, and the
// transaction loop (buffered writes, retry of 409s with backoff).

import { describe, expect, it } from 'vitest';
import { RegionKV, RegionKVError } from 'regionkv/client';
import { conflict, fakeFetch, type Handler } from './fake-fetch';

const url = 'https://kv.example/';
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
/** Pairs as the server writes them in the request's encoding. */
const wire = (req: { body: unknown }, pairs: { key: string; value: string }[]) =>
  (req.body as { encoding?: string }).encoding === 'base64' ? pairs.map((p) => ({ key: btoa(p.key), value: btoa(p.value) })) : pairs;

function client(handler: Handler, extra: { sleeps?: number[]; random?: () => number } = {}) {
  const { fetch, calls } = fakeFetch(handler);
  const sleeps = extra.sleeps ?? [];
  const kv = new RegionKV({
    url,
    token: 'tok',
    adminToken: 'admin',
    fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: extra.random ?? (() => 0.5),
  });
  return { kv, calls, sleeps };
}

describe('encodings', () => {
  it('sends strings as UTF-8 with a percent-encoded path and the bearer token', async () => {
    const { kv, calls } = client(() => ({ body: { key: 'a b/é', value: 'v' } }));
    expect(await kv.get('a b/é')).toBe('v');
    expect(calls[0]).toMatchObject({ method: 'GET', path: '/v1/kv/a%20b%2F%C3%A9', query: '', headers: { authorization: 'Bearer tok' } });
  });

  it('sends Uint8Array keys and values as base64 and decodes bytes on request', async () => {
    const key = Uint8Array.of(0xff, 0x00, 0x2f);
    const value = Uint8Array.of(0x80, 0x81);
    const { kv, calls } = client((req) =>
      req.method === 'PUT' ? { body: { commitTs: '18446744073709551615' } } : { body: { key: b64(key), value: b64(value) } },
    );
    expect(await kv.put(key, value)).toBe(18446744073709551615n);
    expect(calls[0]).toMatchObject({ path: `/v1/kv/${encodeURIComponent(b64(key))}`, body: { value: b64(value), encoding: 'base64' } });
    expect(await kv.get(key, { as: 'bytes' })).toEqual(value);
    expect(calls[1]?.query).toBe('?encoding=base64');
  });

  it('asks for base64 when bytes are wanted back, and decodes UTF-8 strings otherwise', async () => {
    const { kv, calls } = client((req) => ({ body: { key: req.path, value: req.query === '' ? 'héllo' : b64(new TextEncoder().encode('héllo')) } }));
    expect(await kv.raw.get('k', { as: 'bytes' })).toEqual(new TextEncoder().encode('héllo'));
    expect(calls[0]).toMatchObject({ path: `/v1/raw/${encodeURIComponent(btoa('k'))}`, query: '?encoding=base64' });
    expect(await kv.raw.get('k')).toBe('héllo');
  });

  it('scans with string or byte bounds', async () => {
    const { kv, calls } = client((req) =>
      req.path === '/v1/txn/begin' ? { body: { startTs: '42' } } : { body: { pairs: wire(req, [{ key: 'a', value: '1' }]), more: true } },
    );
    expect(await kv.scan({ start: 'a', end: 'b', limit: 1, reverse: true })).toEqual({ pairs: [{ key: 'a', value: '1' }], more: true });
    expect(calls[1]?.body).toEqual({ startTs: '42', start: 'a', end: 'b', limit: 1, reverse: true });
    await kv.raw.scan({ start: Uint8Array.of(1) });
    expect(calls[2]?.body).toEqual({ start: 'AQ==', encoding: 'base64' });
  });
});

describe('errors', () => {
  it('maps an error body to RegionKVError with status, code and details', async () => {
    const { kv } = client(() => conflict('x'));
    const err = await kv.put('x', 'v').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegionKVError);
    expect(err).toMatchObject({ status: 409, code: 'WRITE_CONFLICT', message: 'a newer commit', details: { key: 'x', conflictTs: '7' }, retryable: true });
  });

  it('reads Retry-After and falls back to the status for bodies without a code', async () => {
    const { kv } = client(() => ({ status: 503, body: '<html>bad gateway</html>', headers: { 'retry-after': '2' } }));
    await expect(kv.raw.put('k', 'v')).rejects.toMatchObject({ status: 503, code: 'UNAVAILABLE', retryAfter: 2 });
  });

  it('answers null for an absent key instead of throwing NOT_FOUND', async () => {
    const { kv } = client(() => ({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'absent' } } }));
    expect(await kv.get('nope')).toBeNull();
    expect(await kv.raw.get('nope')).toBeNull();
  });

  it('turns a network failure into status 0 UNAVAILABLE', async () => {
    const kv = new RegionKV({ url, token: 't', fetch: () => Promise.reject(new TypeError('fetch failed')) });
    await expect(kv.get('k')).rejects.toMatchObject({ status: 0, code: 'UNAVAILABLE' });
  });

  it('uses the admin token for admin routes and the API token for /v1/cluster', async () => {
    const { kv, calls } = client((req) =>
      req.path === '/v1/cluster'
        ? { body: { stores: [], regions: [{ id: 1, startKey: '', endKey: btoa('m'), epoch: { version: 1, confVer: 1 }, peers: [], leader: null, approximateBytes: 0, approximateKeys: 0 }] } }
        : { body: { leader: 3 } },
    );
    const cluster = await kv.admin.cluster();
    expect(cluster.regions[0]).toMatchObject({ startKey: '', endKey: 'm' });
    expect(calls[0]?.headers.authorization).toBe('Bearer tok');
    expect(await kv.admin.transferLeader(1, 2)).toEqual({ leader: 3 });
    expect(calls[1]).toMatchObject({ path: '/v1/admin/transfer-leader', body: { regionId: 1, toStoreId: 2 }, headers: { authorization: 'Bearer admin' } });
  });
});

describe('transactions', () => {
  it('reads at startTs, sees its own buffered writes, and commits them once', async () => {
    const { kv, calls } = client((req) => {
      if (req.path === '/v1/txn/begin') return { body: { startTs: '100' } };
      if (req.path === '/v1/txn/get') return { body: { pairs: [{ key: 'a', value: 'server' }] } };
      if (req.path === '/v1/txn/scan') return { body: { pairs: wire(req, [{ key: 'a', value: 'server' }, { key: 'c', value: 'server' }]), more: false } };
      return { body: { commitTs: '101' } };
    });
    const seen = await kv.transaction(async (tx) => {
      expect(tx.startTs).toBe(100n);
      const before = await tx.get('a');
      tx.put('b', 'mine');
      tx.delete('c');
      tx.put('a', 'mine too');
      const scan = await tx.scan({ start: '', end: 'z' });
      return { before, b: await tx.get('b'), c: await tx.get('c'), scan };
    });
    expect(seen).toEqual({
      before: 'server',
      b: 'mine',
      c: null,
      scan: { pairs: [{ key: 'a', value: 'mine too' }, { key: 'b', value: 'mine' }], more: false },
    });
    // Buffered reads never went to the server; exactly one get, one scan, one commit.
    expect(calls.map((c) => c.path)).toEqual(['/v1/txn/begin', '/v1/txn/get', '/v1/txn/scan', '/v1/txn/commit']);
    expect(calls[1]?.body).toEqual({ startTs: '100', keys: ['a'] });
    expect(calls[3]?.body).toEqual({
      startTs: '100',
      mutations: [
        { op: 'put', key: 'b', value: 'mine' },
        { op: 'delete', key: 'c' },
        { op: 'put', key: 'a', value: 'mine too' },
      ],
    });
  });

  it('commits with base64 when a mutation holds bytes', async () => {
    const { kv, calls } = client((req) => (req.path === '/v1/txn/begin' ? { body: { startTs: '1' } } : { body: { commitTs: '2' } }));
    await kv.transaction(async (tx) => {
      tx.put('text', Uint8Array.of(0xff));
    });
    expect(calls[1]?.body).toEqual({ startTs: '1', mutations: [{ op: 'put', key: btoa('text'), value: '/w==' }], encoding: 'base64' });
  });

  it('skips the commit of a read-only transaction', async () => {
    const { kv, calls } = client((req) => (req.path === '/v1/txn/begin' ? { body: { startTs: '1' } } : { body: { pairs: [{ key: 'a', value: null }] } }));
    expect(await kv.transaction((tx) => tx.get('a'))).toBeNull();
    expect(calls.map((c) => c.path)).toEqual(['/v1/txn/begin', '/v1/txn/get']);
  });

  it('retries 409s with a new startTs after exponential, jittered backoff, re-running the callback', async () => {
    let begins = 0;
    let commits = 0;
    const { kv, calls, sleeps } = client(
      (req) => {
        if (req.path === '/v1/txn/begin') return { body: { startTs: String(++begins * 10) } };
        if (req.path === '/v1/txn/get' && begins === 2) return { status: 409, body: { error: { code: 'KEY_LOCKED', message: 'locked', key: 'n', lockTs: '5' } } };
        if (req.path === '/v1/txn/get') return { body: { pairs: [{ key: 'n', value: String(begins) }] } };
        return ++commits <= 2 ? conflict('n') : { body: { commitTs: '99' } };
      },
      { random: () => 1 },
    );
    let runs = 0;
    const result = await kv.transaction(async (tx) => {
      runs++;
      const n = Number(await tx.get('n'));
      tx.put('n', String(n + 1));
      return n;
    }, { baseDelayMs: 8, maxDelayMs: 20 });
    // attempt 1: commit conflict; 2: KEY_LOCKED on read; 3: commit conflict; 4: ok.
    expect(runs).toBe(4);
    expect(result).toBe(4);
    // equal jitter with random() = 1: the full step, doubling up to the cap.
    expect(sleeps).toEqual([8, 16, 20]);
    const commitStartTs = calls.filter((c) => c.path === '/v1/txn/commit').map((c) => (c.body as { startTs: string }).startTs);
    expect(commitStartTs).toEqual(['10', '30', '40']);
  });

  it('jitters the lower half of each step with random()', async () => {
    const { kv, sleeps } = client(
      (req) => (req.path === '/v1/txn/begin' ? { body: { startTs: '1' } } : conflict()),
      { random: () => 0 },
    );
    const err = await kv.transaction(async (tx) => tx.put('k', 'v'), { retries: 3, baseDelayMs: 100, maxDelayMs: 1000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'WRITE_CONFLICT' });
    expect(sleeps).toEqual([50, 100, 200]);
  });

  it('does not retry other errors or errors thrown by the callback, and commits nothing', async () => {
    const { kv, calls } = client((req) =>
      req.path === '/v1/txn/begin' ? { body: { startTs: '1' } } : { status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: 'bad' } } },
    );
    await expect(kv.transaction(async (tx) => tx.put('', 'v'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      kv.transaction(async (tx) => {
        tx.put('k', 'v');
        throw new Error('mine');
      }),
    ).rejects.toThrow('mine');
    expect(calls.map((c) => c.path)).toEqual(['/v1/txn/begin', '/v1/txn/commit', '/v1/txn/begin']);
  });

  it('refuses use of a tx after its callback finished', async () => {
    const { kv } = client((req) => (req.path === '/v1/txn/begin' ? { body: { startTs: '1' } } : { body: { commitTs: '2' } }));
    let leaked: { put: (k: string, v: string) => void } | undefined;
    await kv.transaction(async (tx) => {
      leaked = tx;
      tx.put('a', 'b');
    });
    expect(() => leaked?.put('a', 'c')).toThrow(/finished/);
  });
});

describe('explicit commit inside the callback', () => {
  it('is not committed twice, and a 409 from it is retried', async () => {
    let commits = 0;
    const { kv, calls } = client((req) => {
      if (req.path === '/v1/txn/begin') return { body: { startTs: '1' } };
      return ++commits === 1 ? conflict() : { body: { commitTs: '5' } };
    });
    const ts = await kv.transaction(async (tx) => {
      tx.put('k', 'v');
      await tx.commit();
      return tx.commitTs;
    });
    expect(ts).toBe(5n);
    expect(calls.map((c) => c.path)).toEqual(['/v1/txn/begin', '/v1/txn/commit', '/v1/txn/begin', '/v1/txn/commit']);
  });

  it('fails a string read of non-UTF-8 data with INVALID_ARGUMENT', async () => {
    const { kv } = client(() => ({ body: { key: 'AA==', value: '/w==' } }));
    await expect(kv.get(Uint8Array.of(0))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
