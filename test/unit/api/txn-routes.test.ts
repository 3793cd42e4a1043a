import { describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/api/app';
import { UnavailableError } from '../../../src/api/errors';
import type { Services } from '../../../src/api/services';
import type { TxnStore } from '../../../src/api/txn-store';
import { toBase64 } from '../../../src/util/base64';
import { utf8 } from '../../../src/util/bytes';
import { FakeRawStore } from './fake-raw-store';
import { apiToken, errorOf, testEnv } from './harness';
import { txnFixture } from './txn-fixture';

const b64 = (text: string) => toBase64(utf8(text));

/** The real app over a coordinator on `regionCount` in-memory regions (or no txn service at all). */
function txnHarness(regionCount = 2, txn: 'coordinator' | 'absent' | TxnStore = 'coordinator') {
  const fixture = txnFixture(regionCount);
  const services: Services = { raw: new FakeRawStore() };
  if (txn === 'coordinator') services.txn = fixture.coordinator;
  else if (txn !== 'absent') services.txn = txn;
  const app = buildApp(() => services);
  const env = testEnv();
  async function call(method: string, path: string, body?: unknown, token: string | null = apiToken): Promise<Response> {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
    const res = await app.request(path, init, env);
    await fixture.settle();
    return res;
  }
  async function begin(): Promise<string> {
    const res = await call('POST', '/v1/txn/begin');
    expect(res.status).toBe(200);
    return ((await res.json()) as { startTs: string }).startTs;
  }
  async function commit(mutations: unknown[], startTs?: string, encoding?: string): Promise<Response> {
    return call('POST', '/v1/txn/commit', { startTs: startTs ?? (await begin()), mutations, ...(encoding ? { encoding } : {}) });
  }
  return { call, begin, commit, fixture };
}

const kvPath = (key: string, query = '') => `/v1/kv/${encodeURIComponent(key)}${query}`;

describe('/v1/kv/{key}', () => {
  it('puts, gets and deletes a key, answering commit timestamps as decimal strings', async () => {
    const { call } = txnHarness();
    const put = await call('PUT', kvPath('users/42'), { value: 'ada' });
    expect(put.status).toBe(200);
    const { commitTs } = (await put.json()) as { commitTs: string };
    expect(commitTs).toMatch(/^[0-9]+$/);

    const got = await call('GET', kvPath('users/42'));
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual({ key: 'users/42', value: 'ada' });

    const del = await call('DELETE', kvPath('users/42'));
    expect(del.status).toBe(200);
    const deleted = (await del.json()) as { commitTs: string };
    expect(BigInt(deleted.commitTs)).toBeGreaterThan(BigInt(commitTs));
    const gone = await call('GET', kvPath('users/42'));
    expect(gone.status).toBe(404);
    expect((await errorOf(gone)).code).toBe('NOT_FOUND');
  });

  it('deletes an absent key with 200 and a commitTs', async () => {
    const { call } = txnHarness();
    const res = await call('DELETE', kvPath('never'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ commitTs: expect.stringMatching(/^[0-9]+$/) });
  });

  it('speaks base64 for binary keys and values', async () => {
    const { call } = txnHarness();
    const key = toBase64(new Uint8Array([0, 255, 1]));
    const value = toBase64(new Uint8Array([200, 0]));
    expect((await call('PUT', kvPath(key, '?encoding=base64'), { value })).status).toBe(200);
    const got = await call('GET', kvPath(key, '?encoding=base64'));
    expect(await got.json()).toEqual({ key, value });
    // In UTF-8 mode the same key cannot be answered as text.
    const asText = await call('PUT', kvPath('x'), { value: 'y', encoding: 'base64' });
    expect(asText.status).toBe(400);
  });

  it('refuses an empty key, a missing value and an oversize key', async () => {
    const { call } = txnHarness();
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await call(method, '/v1/kv/', method === 'PUT' ? { value: 'v' } : undefined);
      expect(res.status, method).toBe(400);
      expect((await errorOf(res)).code).toBe('INVALID_ARGUMENT');
    }
    expect((await call('PUT', kvPath('k'), {})).status).toBe(400);
    expect((await call('PUT', kvPath('k'), 'not json')).status).toBe(400);
    const big = await call('PUT', kvPath('k'.repeat(4097)), { value: 'v' });
    expect(big.status).toBe(413);
    expect((await errorOf(big)).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('needs the API token', async () => {
    const { call } = txnHarness();
    expect((await call('GET', kvPath('k'), undefined, null)).status).toBe(401);
    expect((await call('POST', '/v1/txn/begin', undefined, null)).status).toBe(401);
    expect((await call('POST', '/v1/txn/commit', '{}', 'wrong')).status).toBe(401);
  });
});

describe('/v1/txn', () => {
  it('begins, commits across regions, and reads back with get and scan', async () => {
    const { call, begin, commit } = txnHarness(4);
    const startTs = await begin();
    expect(startTs).toMatch(/^[0-9]+$/);
    const committed = await commit(
      [
        { op: 'put', key: 'apple', value: 'A' },
        { op: 'put', key: 'melon', value: 'M' },
        { op: 'put', key: 'zucchini', value: 'Z' },
        { op: 'assert_not_exists', key: 'kiwi' },
      ],
      startTs,
    );
    expect(committed.status).toBe(200);
    const { commitTs } = (await committed.json()) as { commitTs: string };
    expect(BigInt(commitTs)).toBeGreaterThan(BigInt(startTs));

    const readTs = await begin();
    const got = await call('POST', '/v1/txn/get', { startTs: readTs, keys: ['zucchini', 'kiwi', 'apple'] });
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual({
      pairs: [
        { key: 'zucchini', value: 'Z' },
        { key: 'kiwi', value: null },
        { key: 'apple', value: 'A' },
      ],
    });
    // The snapshot at startTs does not hold the commit.
    const before = await call('POST', '/v1/txn/get', { startTs, keys: ['apple'] });
    expect(await before.json()).toEqual({ pairs: [{ key: 'apple', value: null }] });

    const scanned = await call('POST', '/v1/txn/scan', { startTs: readTs, start: 'a', limit: 2 });
    expect(await scanned.json()).toEqual({
      pairs: [
        { key: 'apple', value: 'A' },
        { key: 'melon', value: 'M' },
      ],
      more: true,
    });
    const reversed = await call('POST', '/v1/txn/scan', { startTs: readTs, start: '', end: 'n', reverse: true });
    expect(await reversed.json()).toEqual({
      pairs: [
        { key: 'melon', value: 'M' },
        { key: 'apple', value: 'A' },
      ],
      more: false,
    });
    const empty = await call('POST', '/v1/txn/scan', { startTs: readTs, start: 'z', end: 'a' });
    expect(await empty.json()).toEqual({ pairs: [], more: false });
  });

  it('answers commitTs null for an empty mutation list', async () => {
    const { commit } = txnHarness();
    const res = await commit([]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ commitTs: null });
  });

  it('answers the same commitTs to a repeated commit', async () => {
    const { begin, commit } = txnHarness(4);
    const startTs = await begin();
    const mutations = [
      { op: 'put', key: 'apple', value: '1' },
      { op: 'delete', key: 'zucchini' },
    ];
    const first = await (await commit(mutations, startTs)).json();
    const second = await (await commit(mutations, startTs)).json();
    expect(second).toEqual(first);
  });

  it('speaks base64 in get, scan, commit and in 409 details', async () => {
    const { call, begin, commit } = txnHarness(2);
    const key = toBase64(new Uint8Array([0x7a, 0xff]));
    const res = await commit([{ op: 'put', key, value: b64('v') }], undefined, 'base64');
    expect(res.status).toBe(200);
    const ts = await begin();
    const got = await call('POST', '/v1/txn/get?encoding=base64', { startTs: ts, keys: [key] });
    expect(await got.json()).toEqual({ pairs: [{ key, value: b64('v') }] });
    const scanned = await call('POST', '/v1/txn/scan', { startTs: ts, start: '', encoding: 'base64' });
    expect(await scanned.json()).toEqual({ pairs: [{ key, value: b64('v') }], more: false });
    // Not UTF-8: in UTF-8 mode the answer would lose bytes, so it is a 400.
    const asText = await call('POST', '/v1/txn/scan', { startTs: ts, start: '' });
    expect(asText.status).toBe(400);

    const stale = await begin();
    await commit([{ op: 'put', key, value: b64('w') }], undefined, 'base64');
    const conflict = await commit([{ op: 'put', key, value: b64('x') }], stale, 'base64');
    expect(conflict.status).toBe(409);
    expect(await errorOf(conflict)).toMatchObject({ code: 'WRITE_CONFLICT', key });
  });

  it('answers 409 WRITE_CONFLICT with key and conflictTs', async () => {
    const { begin, commit } = txnHarness(2);
    const stale = await begin();
    const winner = (await (await commit([{ op: 'put', key: 'melon', value: 'w' }])).json()) as { commitTs: string };
    const res = await commit(
      [
        { op: 'put', key: 'apple', value: 'l' },
        { op: 'put', key: 'melon', value: 'l' },
      ],
      stale,
    );
    expect(res.status).toBe(409);
    const error = await errorOf(res);
    expect(error).toMatchObject({ code: 'WRITE_CONFLICT', key: 'melon', conflictTs: winner.commitTs });
    expect(error.message).toContain('retry');
  });

  it('answers 409 TXN_ABORTED to a repeat of a rolled back commit, and to a failed assert_not_exists', async () => {
    const { begin, commit } = txnHarness(2);
    const stale = await begin();
    await commit([{ op: 'put', key: 'melon', value: 'w' }]);
    const mutations = [
      { op: 'put', key: 'apple', value: 'l' },
      { op: 'put', key: 'melon', value: 'l' },
    ];
    expect((await commit(mutations, stale)).status).toBe(409);
    const repeat = await commit(mutations, stale);
    expect(repeat.status).toBe(409);
    expect((await errorOf(repeat)).code).toBe('TXN_ABORTED');

    const exists = await commit([{ op: 'assert_not_exists', key: 'melon' }]);
    expect(exists.status).toBe(409);
    expect(await errorOf(exists)).toMatchObject({ code: 'TXN_ABORTED', key: 'melon', reason: 'ALREADY_EXISTS' });
  });

  it('answers 409 KEY_LOCKED with key and lockTs when a live lock outlasts the wait', async () => {
    const fixture = txnFixture(2, { lockWaitMaxMs: 100 });
    const app = buildApp(() => ({ raw: new FakeRawStore(), txn: fixture.coordinator }));
    fixture.regions.intercept = (c) => {
      if (c.kind === 'command' && c.cmd.type === 'Commit') throw new Error('worker died');
    };
    const dying = fixture.another();
    const lockTs = await dying.begin();
    const doomed = dying.commit(lockTs, [
      { op: 'put', key: utf8('apple'), value: utf8('d') },
      { op: 'put', key: utf8('zucchini'), value: utf8('d') },
    ]);
    await expect(doomed).rejects.toThrow('worker died');
    fixture.regions.intercept = undefined;
    const res = await app.request(
      '/v1/kv/zucchini',
      { method: 'PUT', headers: { authorization: `Bearer ${apiToken}` }, body: JSON.stringify({ value: 'mine' }) },
      testEnv(),
    );
    expect(res.status).toBe(409);
    expect(await errorOf(res)).toMatchObject({ code: 'KEY_LOCKED', key: 'zucchini', lockTs: lockTs.toString() });
  });

  it.each([
    ['a number', 42],
    ['a negative', '-1'],
    ['a fraction', '1.5'],
    ['hex', '0x10'],
    ['above u64', '18446744073709551616'],
    ['empty', ''],
    ['missing', undefined],
  ])('refuses a startTs that is %s with 400', async (_name, startTs) => {
    const { call } = txnHarness();
    for (const [path, rest] of [
      ['/v1/txn/get', { keys: ['a'] }],
      ['/v1/txn/scan', { start: '' }],
      ['/v1/txn/commit', { mutations: [] }],
    ] as const) {
      const res = await call('POST', path, { startTs, ...rest });
      expect(res.status, path).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain('startTs');
    }
  });

  it('refuses an unknown op, a put without a value, a repeated key and a startTs from the future with 400', async () => {
    const { begin, commit } = txnHarness();
    const ts = await begin();
    for (const mutations of [
      [{ op: 'upsert', key: 'a', value: 'v' }],
      [{ op: 'put', key: 'a' }],
      [{ key: 'a' }],
      [{ op: 'delete', key: '' }],
      [
        { op: 'put', key: 'a', value: '1' },
        { op: 'delete', key: 'a' },
      ],
    ]) {
      const res = await commit(mutations, ts);
      expect(res.status, JSON.stringify(mutations)).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(/op|value|key/);
    }
    const future = (BigInt(ts) + (1n << 40n)).toString();
    expect((await commit([{ op: 'put', key: 'a', value: '1' }], future)).status).toBe(400);
  });

  it('answers 413 for more than 10,000 keys or mutations, and for an oversize value', async () => {
    const { call, begin, commit } = txnHarness(1);
    const ts = await begin();
    const keys = Array.from({ length: 10_001 }, (_, i) => `k${i}`);
    const get = await call('POST', '/v1/txn/get', { startTs: ts, keys });
    expect(get.status).toBe(413);
    expect((await errorOf(get)).code).toBe('PAYLOAD_TOO_LARGE');
    const tooMany = await commit(
      keys.map((key) => ({ op: 'delete', key })),
      ts,
    );
    expect(tooMany.status).toBe(413);
    const bigValue = await commit([{ op: 'put', key: 'k', value: 'x'.repeat(1024 * 1024 + 1) }], ts);
    expect(bigValue.status).toBe(413);
  });

  it('refuses a bad scan limit with 400', async () => {
    const { call, begin } = txnHarness();
    const ts = await begin();
    for (const limit of [0, 10_001, 1.5, '10']) {
      expect((await call('POST', '/v1/txn/scan', { startTs: ts, start: '', limit })).status, String(limit)).toBe(400);
    }
  });
});

describe('without a transactional store', () => {
  it('answers 503 UNAVAILABLE with Retry-After on every kv and txn route', async () => {
    const { call } = txnHarness(1, 'absent');
    for (const [method, path, body] of [
      ['GET', kvPath('k'), undefined],
      ['PUT', kvPath('k'), { value: 'v' }],
      ['DELETE', kvPath('k'), undefined],
      ['POST', '/v1/txn/begin', undefined],
      ['POST', '/v1/txn/get', { startTs: '1', keys: ['a'] }],
      ['POST', '/v1/txn/scan', { startTs: '1', start: '' }],
      ['POST', '/v1/txn/commit', { startTs: '1', mutations: [] }],
    ] as const) {
      const res = await call(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^[0-9]+$/);
      const error = await errorOf(res);
      expect(error.code).toBe('UNAVAILABLE');
      expect(error.message).toContain('not wired');
    }
  });

  it('passes a store’s UnavailableError on as 503', async () => {
    const failing: TxnStore = {
      begin: () => Promise.reject(new UnavailableError('region of the key is unavailable', 2)),
      get: () => Promise.reject(new UnavailableError('x', 1)),
      scan: () => Promise.reject(new UnavailableError('x', 1)),
      commit: () => Promise.reject(new UnavailableError('x', 1)),
      getLatest: () => Promise.reject(new UnavailableError('x', 1)),
      put: () => Promise.reject(new UnavailableError('x', 1)),
      delete: () => Promise.reject(new UnavailableError('x', 1)),
    };
    const { call } = txnHarness(1, failing);
    const res = await call('POST', '/v1/txn/begin');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
  });
});
