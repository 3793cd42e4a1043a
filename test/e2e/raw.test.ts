// The raw key space over HTTP against `npm start` (wrangler dev), then a
// restart of the whole dev server on the same local state (issue 3, "End to
// end"). The client never retries: after a restart the worker itself waits
// for the re-election, so requests only get a generous timeout.

import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_TOKEN, DevServer, groupProcessesMatching, isAlive, liveProcessesInGroup } from './dev-server';

const requestTimeoutMs = 30_000;

const Pair = z.object({ key: z.string(), value: z.string() });
const ScanAnswer = z.object({ pairs: z.array(Pair), more: z.boolean() });
const ErrorAnswer = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
type ScanAnswer = z.infer<typeof ScanAnswer>;

interface Reply {
  status: number;
  body: unknown;
}

const server = new DevServer();

beforeAll(async () => {
  await server.start();
});

afterAll(async () => {
  await server.dispose();
});

async function call(
  method: 'GET' | 'PUT' | 'DELETE' | 'POST',
  path: string,
  options: { body?: unknown; token?: string | null } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? DEV_TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(requestTimeoutMs),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text for the failure message
  }
  return { status: res.status, body };
}

const rawPath = (key: string, query = '') => `/v1/raw/${encodeURIComponent(key)}${query}`;

async function put(key: string, value: string, encoding?: 'base64'): Promise<void> {
  const res = await call('PUT', rawPath(key), { body: encoding === undefined ? { value } : { value, encoding } });
  expect(res, `PUT ${key}`).toEqual({ status: 200, body: {} });
}

async function get(key: string, encoding?: 'base64'): Promise<Reply> {
  return call('GET', rawPath(key, encoding === undefined ? '' : `?encoding=${encoding}`));
}

async function del(key: string): Promise<void> {
  expect(await call('DELETE', rawPath(key)), `DELETE ${key}`).toEqual({ status: 200, body: {} });
}

async function scan(body: { start: string; end?: string; limit?: number; encoding?: 'base64' }): Promise<ScanAnswer> {
  const res = await call('POST', '/v1/raw/scan', { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return ScanAnswer.parse(res.body);
}

function errorCode(reply: Reply): string {
  return ErrorAnswer.parse(reply.body).error.code;
}

const bytes = (...values: number[]) => Uint8Array.from(values);
const b64 = (data: Uint8Array) => Buffer.from(data).toString('base64');
const fromB64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

/** Keys in memcmp order, as the store orders them. */
function byteOrder(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

describe('raw key space over HTTP', () => {
  it('answers GET /v1/health without a token', async () => {
    expect(await call('GET', '/v1/health', { token: null })).toEqual({ status: 200, body: { ok: true } });
  });

  it('refuses data routes without the token, or with a wrong one (401)', async () => {
    for (const token of [null, 'wrong-token']) {
      const replies = [
        await call('GET', rawPath('auth/k'), { token }),
        await call('PUT', rawPath('auth/k'), { token, body: { value: 'v' } }),
        await call('DELETE', rawPath('auth/k'), { token }),
        await call('POST', '/v1/raw/scan', { token, body: { start: '' } }),
      ];
      for (const reply of replies) {
        expect(reply.status).toBe(401);
        expect(errorCode(reply)).toBe('UNAUTHORIZED');
      }
    }
    // Nothing was written by the refused PUT.
    expect((await get('auth/k')).status).toBe(404);
  });

  it('puts, gets, overwrites and deletes a UTF-8 key', async () => {
    await put('greeting', 'hello');
    expect(await get('greeting')).toEqual({ status: 200, body: { key: 'greeting', value: 'hello' } });
    await put('greeting', 'hello again');
    expect(await get('greeting')).toEqual({ status: 200, body: { key: 'greeting', value: 'hello again' } });
    await put('greeting', '');
    expect(await get('greeting')).toEqual({ status: 200, body: { key: 'greeting', value: '' } });
    await del('greeting');
    const gone = await get('greeting');
    expect(gone.status).toBe(404);
    expect(errorCode(gone)).toBe('NOT_FOUND');
    await del('greeting'); // deleting an absent key is also 200
  });

  it('answers 404 NOT_FOUND for a key never written', async () => {
    const res = await get('never/written');
    expect(res.status).toBe(404);
    expect(errorCode(res)).toBe('NOT_FOUND');
  });

  it('round-trips percent-encoded keys', async () => {
    const keys = ['pct/users/42', 'pct/a key with spaces', 'pct/clé-ключ-键-🔑', 'pct/100% ?#&=+', 'pct/%2F not an escape'];
    for (const [i, key] of keys.entries()) await put(key, `value ${i}`);
    for (const [i, key] of keys.entries()) {
      expect(await get(key)).toEqual({ status: 200, body: { key, value: `value ${i}` } });
    }
    const { pairs, more } = await scan({ start: 'pct/', end: 'pct0' });
    expect(more).toBe(false);
    const expected = keys
      .map((key, i) => ({ key, value: `value ${i}` }))
      .sort((a, b) => byteOrder(Buffer.from(a.key), Buffer.from(b.key)));
    expect(pairs).toEqual(expected);
  });

  it('answers 400 INVALID_ARGUMENT for a malformed escape or an empty key', async () => {
    for (const path of ['/v1/raw/bad%E0%A4%A', '/v1/raw/bad%ZZ', '/v1/raw/']) {
      const res = await call('GET', path);
      expect(res.status, path).toBe(400);
      expect(errorCode(res)).toBe('INVALID_ARGUMENT');
    }
  });

  it('stores binary keys and values with encoding=base64', async () => {
    // "b64" then bytes that are not UTF-8; its base64 form holds '/', '+' and '='.
    const key = bytes(0x62, 0x36, 0x34, 0xff, 0x00, 0xfb, 0xef, 0xbe);
    const value = bytes(0x00, 0xc3, 0x28, 0xff, 0xfe);
    expect(b64(key)).toMatch(/[/+=]/);
    await put(b64(key), b64(value), 'base64');
    expect(await get(b64(key), 'base64')).toEqual({ status: 200, body: { key: b64(key), value: b64(value) } });

    // A text key with a binary value: readable in base64, a 400 in UTF-8 mode.
    const textKey = Buffer.from('b64/text');
    await put(b64(textKey), b64(value), 'base64');
    expect(await get(b64(textKey), 'base64')).toEqual({ status: 200, body: { key: b64(textKey), value: b64(value) } });
    const asText = await get('b64/text');
    expect(asText.status).toBe(400);
    expect(errorCode(asText)).toBe('INVALID_ARGUMENT');

    // Scans answer in the encoding asked for, in byte order ('/' < 0xff).
    expect(await scan({ start: b64(Buffer.from('b64')), end: b64(Buffer.from('b65')), encoding: 'base64' })).toEqual({
      pairs: [
        { key: b64(textKey), value: b64(value) },
        { key: b64(key), value: b64(value) },
      ],
      more: false,
    });
    const overText = await call('POST', '/v1/raw/scan', { body: { start: 'b64', end: 'b65' } });
    expect(overText.status).toBe(400);
    expect(errorCode(overText)).toBe('INVALID_ARGUMENT');

    // A UTF-8 key and value read back in base64 as their UTF-8 bytes.
    await put('b64-text/é', 'héllo');
    expect(await get(b64(Buffer.from('b64-text/é')), 'base64')).toEqual({
      status: 200,
      body: { key: b64(Buffer.from('b64-text/é')), value: b64(Buffer.from('héllo')) },
    });
  });

  it('scans a range in pages with limit and more', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `scan/${String(i).padStart(2, '0')}`);
    for (const key of [...keys].reverse()) await put(key, `v:${key}`);
    const all = keys.map((key) => ({ key, value: `v:${key}` }));

    expect(await scan({ start: 'scan/', end: 'scan0', limit: 4 })).toEqual({ pairs: all.slice(0, 4), more: true });
    // Exactly the rest of the range: nothing remains after it.
    expect(await scan({ start: 'scan/', end: 'scan0', limit: 10 })).toEqual({ pairs: all, more: false });
    expect(await scan({ start: 'scan/', end: 'scan0' })).toEqual({ pairs: all, more: false });
    // A start between keys, and an end that cuts the range.
    expect(await scan({ start: 'scan/03a', end: 'scan/06' })).toEqual({ pairs: all.slice(4, 6), more: false });

    // Paging: each page starts just after the last key of the one before.
    const paged: { key: string; value: string }[] = [];
    let start = 'scan/';
    for (let page = 0; page < 10; page++) {
      const answer = await scan({ start, end: 'scan0', limit: 3 });
      paged.push(...answer.pairs);
      const last = answer.pairs.at(-1);
      if (!answer.more || last === undefined) break;
      start = `${last.key}\u0000`;
    }
    expect(paged).toEqual(all);
  });

  it('acknowledges 50 concurrent puts of distinct keys, then reads and scans them in key order', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `conc/${String(i).padStart(3, '0')}`);
    // Sent out of key order: odd indexes descending, then even ones.
    const shuffled = [...keys.filter((_, i) => i % 2 === 1).reverse(), ...keys.filter((_, i) => i % 2 === 0)];
    const replies = await Promise.all(
      shuffled.map((key) => call('PUT', rawPath(key), { body: { value: `v:${key}` } })),
    );
    for (const reply of replies) expect(reply).toEqual({ status: 200, body: {} });

    const reads = await Promise.all(keys.map((key) => get(key)));
    reads.forEach((reply, i) => {
      const key = keys[i] ?? '';
      expect(reply).toEqual({ status: 200, body: { key, value: `v:${key}` } });
    });

    expect(await scan({ start: 'conc/', end: 'conc0', limit: 1000 })).toEqual({
      pairs: keys.map((key) => ({ key, value: `v:${key}` })),
      more: false,
    });
  });
});

describe('a restart of the dev server on the same local state', () => {
  it('keeps the data and serves again with no manual step', async () => {
    const binaryKey = bytes(0x72, 0x00, 0xfe);
    await put('restart/kept', 'before');
    await put('restart/deleted', 'soon gone');
    await del('restart/deleted');
    await put(b64(binaryKey), b64(bytes(0xde, 0xad)), 'base64');
    const before = await scan({ start: '', limit: 10_000, encoding: 'base64' });
    expect(before.more).toBe(false);
    expect(before.pairs).toContainEqual({ key: b64(Buffer.from('restart/kept')), value: b64(Buffer.from('before')) });

    const pgid = server.processGroup;
    if (pgid === undefined) throw new Error('the dev server is not running');
    const workerds = groupProcessesMatching(pgid, 'workerd');
    expect(workerds.length).toBeGreaterThan(0);

    const stopping = Date.now();
    await server.stop();
    const stopMs = Date.now() - stopping;
    expect(liveProcessesInGroup(pgid)).toEqual([]);
    expect(workerds.filter(isAlive)).toEqual([]);

    const starting = Date.now();
    await server.start();
    const startMs = Date.now() - starting;
    const firstStarted = Date.now();
    expect(await get('restart/kept')).toEqual({ status: 200, body: { key: 'restart/kept', value: 'before' } });
    const firstMs = Date.now() - firstStarted;
    expect((await get('restart/deleted')).status).toBe(404);
    expect(await get(b64(binaryKey), 'base64')).toEqual({
      status: 200,
      body: { key: b64(binaryKey), value: b64(bytes(0xde, 0xad)) },
    });
    const after = await scan({ start: '', limit: 10_000, encoding: 'base64' });
    expect(after).toEqual(before);
    expect(after.pairs.map((p) => fromB64(p.key))).toEqual(after.pairs.map((p) => fromB64(p.key)).sort(byteOrder));

    // And it takes writes again.
    await put('restart/after', 'after');
    expect(await get('restart/after')).toEqual({ status: 200, body: { key: 'restart/after', value: 'after' } });
    await del('restart/kept');
    expect((await get('restart/kept')).status).toBe(404);
    console.info(`restart: stop ${stopMs} ms, start to healthy ${startMs} ms, first read ${firstMs} ms`);
  });
});
