import { describe, expect, it } from 'vitest';
import { toBase64 } from '../../../src/util/base64';
import { utf8 } from '../../../src/util/bytes';
import { harness, rawPath } from './harness';

const b64 = (text: string) => toBase64(utf8(text));

describe('raw key space, UTF-8 mode', () => {
  it('puts, gets and deletes a key', async () => {
    const { call, store } = harness();
    const put = await call('PUT', rawPath('greeting'), { body: { value: 'hello' } });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({});
    expect(store.peek(utf8('greeting'))).toEqual(utf8('hello'));

    const got = await call('GET', rawPath('greeting'));
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual({ key: 'greeting', value: 'hello' });

    const del = await call('DELETE', rawPath('greeting'));
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({});
    expect((await call('GET', rawPath('greeting'))).status).toBe(404);
  });

  it('answers 404 NOT_FOUND for an absent key', async () => {
    const { call } = harness();
    const res = await call('GET', rawPath('nothing'));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('deletes an absent key with 200', async () => {
    const { call } = harness();
    const res = await call('DELETE', rawPath('never-written'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
  });

  it('overwrites a value and keeps the empty value apart from absence', async () => {
    const { call } = harness();
    await call('PUT', rawPath('k'), { body: { value: 'first' } });
    await call('PUT', rawPath('k'), { body: { value: '' } });
    const res = await call('GET', rawPath('k'));
    expect(await res.json()).toEqual({ key: 'k', value: '' });
  });

  it.each([
    ['a slash', 'users/42'],
    ['spaces', 'a key with spaces'],
    ['non-ASCII', 'clé-ключ-键-🔑'],
    ['percent signs and reserved characters', '100%25 ?#&=+'],
  ])('round-trips a percent-encoded key with %s', async (_name, key) => {
    const { call, store } = harness();
    expect((await call('PUT', rawPath(key), { body: { value: 'v' } })).status).toBe(200);
    expect(store.peek(utf8(key))).toEqual(utf8('v'));
    const res = await call('GET', rawPath(key));
    expect(await res.json()).toEqual({ key, value: 'v' });
    expect((await call('DELETE', rawPath(key))).status).toBe(200);
    expect(store.peek(utf8(key))).toBeUndefined();
  });

  it('keeps a value that starts with a byte-order mark intact', async () => {
    const { call } = harness();
    await call('PUT', rawPath('bom'), { body: { value: '\uFEFFtext' } });
    const res = await call('GET', rawPath('bom'));
    expect(await res.json()).toEqual({ key: 'bom', value: '\uFEFFtext' });
  });

  it('scans a range in byte order with a limit and the more flag', async () => {
    const { call } = harness();
    for (const key of ['b', 'a', 'd', 'c', 'e']) {
      await call('PUT', rawPath(key), { body: { value: key.toUpperCase() } });
    }

    const first = await call('POST', '/v1/raw/scan', { body: { start: 'a', end: 'e', limit: 2 } });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({
      pairs: [
        { key: 'a', value: 'A' },
        { key: 'b', value: 'B' },
      ],
      more: true,
    });

    const rest = await call('POST', '/v1/raw/scan', { body: { start: 'c', end: 'e', limit: 2 } });
    expect(await rest.json()).toEqual({
      pairs: [
        { key: 'c', value: 'C' },
        { key: 'd', value: 'D' },
      ],
      more: false,
    });
  });

  it('scans to the end of the key space when end is absent or empty, 100 pairs by default', async () => {
    const { call } = harness();
    const keyAt = (i: number) => `k${String(i).padStart(3, '0')}`;
    for (let i = 0; i < 150; i++) await call('PUT', rawPath(keyAt(i)), { body: { value: 'v' } });
    const absent = (await (await call('POST', '/v1/raw/scan', { body: { start: '' } })).json()) as {
      pairs: { key: string }[];
      more: boolean;
    };
    expect(absent.pairs).toHaveLength(100);
    expect(absent.pairs[0]?.key).toBe('k000');
    expect(absent.more).toBe(true);

    const empty = (await (await call('POST', '/v1/raw/scan', { body: { start: 'k140', end: '' } })).json()) as {
      pairs: { key: string }[];
      more: boolean;
    };
    expect(empty.pairs.map((p) => p.key)).toEqual([140, 141, 142, 143, 144, 145, 146, 147, 148, 149].map(keyAt));
    expect(empty.more).toBe(false);
  });

  it('answers an empty or inverted range with no pairs without asking the store', async () => {
    const { call, store } = harness();
    const res = await call('POST', '/v1/raw/scan', { body: { start: 'z', end: 'a' } });
    expect(await res.json()).toEqual({ pairs: [], more: false });
    expect(store.calls).not.toContain('scan');
  });

  it('accepts limit 1 and limit 10000', async () => {
    const { call } = harness();
    await call('PUT', rawPath('x'), { body: { value: '1' } });
    expect((await call('POST', '/v1/raw/scan', { body: { start: '', limit: 1 } })).status).toBe(200);
    expect((await call('POST', '/v1/raw/scan', { body: { start: '', limit: 10000 } })).status).toBe(200);
  });
});

describe('raw key space, base64 mode', () => {
  it('puts with encoding in the body and reads back with ?encoding=base64', async () => {
    const { call, store } = harness();
    const key = new Uint8Array([0, 255, 47, 1]);
    const value = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
    const path = `/v1/raw/${encodeURIComponent(toBase64(key))}`;

    const put = await call('PUT', path, { body: { value: toBase64(value), encoding: 'base64' } });
    expect(put.status).toBe(200);
    expect(store.peek(key)).toEqual(value);

    const got = await call('GET', `${path}?encoding=base64`);
    expect(got.status).toBe(200);
    expect(await got.json()).toEqual({ key: toBase64(key), value: toBase64(value) });

    expect((await call('DELETE', `${path}?encoding=base64`)).status).toBe(200);
    expect(store.peek(key)).toBeUndefined();
  });

  it('accepts the encoding in the query of a PUT as well', async () => {
    const { call, store } = harness();
    const path = `/v1/raw/${encodeURIComponent(b64('q'))}?encoding=base64`;
    const res = await call('PUT', path, { body: { value: b64('v') } });
    expect(res.status).toBe(200);
    expect(store.peek(utf8('q'))).toEqual(utf8('v'));
  });

  it('reads text written in UTF-8 mode as base64, and the other way round', async () => {
    const { call } = harness();
    await call('PUT', rawPath('name'), { body: { value: 'Ada' } });
    const got = await call('GET', `/v1/raw/${encodeURIComponent(b64('name'))}?encoding=base64`);
    expect(await got.json()).toEqual({ key: b64('name'), value: b64('Ada') });

    const path = `/v1/raw/${encodeURIComponent(b64('other'))}`;
    await call('PUT', path, { body: { value: b64('Grace'), encoding: 'base64' } });
    expect(await (await call('GET', rawPath('other'))).json()).toEqual({ key: 'other', value: 'Grace' });
  });

  it('scans binary keys with every key and value in base64', async () => {
    const { call } = harness();
    const keys = [new Uint8Array([1, 0]), new Uint8Array([1]), new Uint8Array([0xff]), new Uint8Array([2])];
    for (const key of keys) {
      await call('PUT', `/v1/raw/${encodeURIComponent(toBase64(key))}`, {
        body: { value: toBase64(new Uint8Array([key[0]! ^ 0x80])), encoding: 'base64' },
      });
    }
    const res = await call('POST', '/v1/raw/scan', {
      body: { start: toBase64(new Uint8Array([1])), end: toBase64(new Uint8Array([0xff])), encoding: 'base64' },
    });
    expect(await res.json()).toEqual({
      pairs: [
        { key: toBase64(new Uint8Array([1])), value: toBase64(new Uint8Array([0x81])) },
        { key: toBase64(new Uint8Array([1, 0])), value: toBase64(new Uint8Array([0x81])) },
        { key: toBase64(new Uint8Array([2])), value: toBase64(new Uint8Array([0x82])) },
      ],
      more: false,
    });
  });
});

describe('GET /v1/health', () => {
  it('answers {"ok":true} without a token', async () => {
    const { call } = harness();
    const res = await call('GET', '/v1/health', { token: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });
});
