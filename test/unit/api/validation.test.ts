import { describe, expect, it } from 'vitest';
import { toBase64 } from '../../../src/util/base64';
import { utf8 } from '../../../src/util/bytes';
import { errorOf, harness, rawPath } from './harness';

/** An error message a person reads: one short line, not a zod dump. */
function expectHumanMessage(message: string): void {
  expect(message.length).toBeGreaterThan(0);
  expect(message.length).toBeLessThan(200);
  expect(message).not.toContain('\n');
  expect(message).not.toMatch(/"code":|invalid_type/);
}

describe('request bodies', () => {
  it('parses the body as JSON whatever the Content-Type says (curl -d)', async () => {
    const { call, store } = harness();
    const res = await call('PUT', rawPath('k'), {
      body: '{"value":"from curl"}',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(200);
    expect(store.peek(utf8('k'))).toEqual(utf8('from curl'));

    const scan = await call('POST', '/v1/raw/scan', {
      body: '{"start":""}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(scan.status).toBe(200);
    expect(await scan.json()).toEqual({ pairs: [{ key: 'k', value: 'from curl' }], more: false });
  });

  it('parses a body sent without any Content-Type', async () => {
    const { app, env, store } = harness();
    const body = new TextEncoder().encode('{"value":"raw bytes"}');
    const res = await app.request(rawPath('k'), { method: 'PUT', body, headers: { authorization: 'Bearer t' } }, env);
    expect(res.status).toBe(200);
    expect(store.peek(utf8('k'))).toEqual(utf8('raw bytes'));
  });

  it.each([
    ['malformed JSON', '{"value": '],
    ['an empty body', ''],
    ['a bare word', 'value=v'],
  ])('answers 400 INVALID_ARGUMENT for %s', async (_name, body) => {
    const { call, store } = harness();
    const res = await call('PUT', rawPath('k'), { body });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/^the request body is not valid JSON/);
    expectHumanMessage(error.message);
    expect(store.calls).toEqual([]);
  });

  it('answers 400 INVALID_ARGUMENT for a body that is not UTF-8', async () => {
    const { app, env } = harness();
    const body = new Uint8Array([0x7b, 0xff, 0x7d]);
    const res = await app.request(rawPath('k'), { method: 'PUT', body, headers: { authorization: 'Bearer t' } }, env);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain('UTF-8');
  });

  it.each([
    ['missing value', {}, '"value" is required'],
    ['a number as value', { value: 42 }, '"value" must be a string'],
    ['null as value', { value: null }, '"value" must be a string'],
    ['an array as body', [], 'the request body must be a JSON object'],
    ['unknown encoding', { value: 'v', encoding: 'hex' }, '"encoding" must be one of "utf8", "base64"'],
  ])('answers 400 for %s with a clear message', async (_name, body, message) => {
    const { call, store } = harness();
    const res = await call('PUT', rawPath('k'), { body });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toBe(message);
    expect(store.calls).toEqual([]);
  });

  it('answers 400 for an unknown encoding in the query', async () => {
    const { call } = harness();
    const res = await call('GET', rawPath('k', '?encoding=hex'));
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toBe('query parameter "encoding" must be one of "utf8", "base64"');
  });

  it('answers 400 when the body and the query ask for different encodings', async () => {
    const { call } = harness();
    const res = await call('PUT', rawPath('k', '?encoding=utf8'), { body: { value: 'dg==', encoding: 'base64' } });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('INVALID_ARGUMENT');
  });

  it('answers 400 for a lone surrogate, which UTF-8 cannot carry', async () => {
    const { call } = harness();
    const res = await call('PUT', rawPath('k'), { body: '{"value":"\\ud800"}' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain('"value"');
  });
});

describe('keys', () => {
  it('answers 400 for an empty key on every single-key route', async () => {
    const { call } = harness();
    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', { value: 'v' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await call(method, '/v1/raw/', { body });
      expect(res.status, method).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain('empty');
    }
  });

  it('accepts a 4096-byte key and answers 413 for 4097 bytes', async () => {
    const { call } = harness();
    expect((await call('PUT', rawPath('k'.repeat(4096)), { body: { value: 'v' } })).status).toBe(200);
    const res = await call('PUT', rawPath('k'.repeat(4097)), { body: { value: 'v' } });
    expect(res.status).toBe(413);
    const error = await errorOf(res);
    expect(error.code).toBe('PAYLOAD_TOO_LARGE');
    expectHumanMessage(error.message);
  });

  it('counts key bytes, not characters', async () => {
    const { call } = harness();
    // 1366 × 3-byte characters = 4098 bytes.
    const res = await call('GET', rawPath('€'.repeat(1366)));
    expect(res.status).toBe(413);
  });

  it('answers 413 for an oversize scan bound', async () => {
    const { call } = harness();
    const res = await call('POST', '/v1/raw/scan', { body: { start: 'k'.repeat(4097) } });
    expect(res.status).toBe(413);
  });

  it('answers 400 for a bad percent-encoding in the path', async () => {
    const { call, store } = harness();
    for (const path of ['/v1/raw/%ZZ', '/v1/raw/abc%', '/v1/raw/%E2%82', '/v1/raw/%FF']) {
      const res = await call('GET', path);
      expect(res.status, path).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toContain('percent-encoded');
    }
    expect(store.calls).toEqual([]);
  });
});

describe('values and bodies', () => {
  it('accepts a 1 MiB value and answers 413 for one byte more', async () => {
    const { call } = harness();
    const mib = 1024 * 1024;
    expect((await call('PUT', rawPath('big'), { body: { value: 'x'.repeat(mib) } })).status).toBe(200);
    const res = await call('PUT', rawPath('big'), { body: { value: 'x'.repeat(mib + 1) } });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('applies the value limit to the decoded bytes in base64 mode', async () => {
    const { call } = harness();
    const value = toBase64(new Uint8Array(1024 * 1024 + 1));
    const path = `/v1/raw/${encodeURIComponent(toBase64(utf8('k')))}`;
    const res = await call('PUT', path, { body: { value, encoding: 'base64' } });
    expect(res.status).toBe(413);
  });

  it('answers 413 for a body over 8 MiB, counted as read', async () => {
    const { call, store } = harness();
    // The value itself is small, so only the body limit can refuse this.
    const body = `{"value":"v","padding":"${'x'.repeat(8 * 1024 * 1024)}"}`;
    const res = await call('PUT', rawPath('k'), { body });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('PAYLOAD_TOO_LARGE');
    expect(store.calls).toEqual([]);
  });

  it('answers 413 from Content-Length alone, before reading', async () => {
    const { call } = harness();
    const headers = { 'content-length': String(9 * 1024 * 1024) };
    const res = await call('PUT', rawPath('k'), { body: { value: 'v' }, headers });
    expect(res.status).toBe(413);
  });
});

describe('base64', () => {
  it.each([
    ['the path key', 'GET', '/v1/raw/not%20base64?encoding=base64', undefined],
    ['the value', 'PUT', `/v1/raw/${encodeURIComponent(toBase64(utf8('k')))}`, { value: 'abc', encoding: 'base64' }],
    ['a scan bound', 'POST', '/v1/raw/scan', { start: '***', encoding: 'base64' }],
  ] as const)('answers 400 for bad base64 in %s', async (_name, method, path, body) => {
    const { call } = harness();
    const res = await call(method, path, { body });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('base64');
  });
});

describe('answers that are not UTF-8', () => {
  it('answers 400 telling to use base64 for a binary value read in UTF-8 mode', async () => {
    const { call, store } = harness();
    await store.put(utf8('bin'), new Uint8Array([0xff, 0xfe]));
    const res = await call('GET', rawPath('bin'));
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('encoding=base64');

    const b64 = await call('GET', `/v1/raw/${encodeURIComponent(toBase64(utf8('bin')))}?encoding=base64`);
    expect(await b64.json()).toEqual({ key: toBase64(utf8('bin')), value: '//4=' });
  });

  it('answers 400 for a scan in UTF-8 mode that meets a binary key', async () => {
    const { call, store } = harness();
    await store.put(new Uint8Array([0x61, 0x80]), utf8('v'));
    const res = await call('POST', '/v1/raw/scan', { body: { start: '' } });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toContain('encoding=base64');
  });
});

describe('scan limit', () => {
  it.each([0, 10001, -1, 1.5])('answers 400 for limit %s', async (limit) => {
    const { call, store } = harness();
    const res = await call('POST', '/v1/raw/scan', { body: { start: '', limit } });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/^"limit" must be/);
    expect(store.calls).toEqual([]);
  });

  it('answers 400 for a limit given as a string, and for a missing start', async () => {
    const { call } = harness();
    expect((await call('POST', '/v1/raw/scan', { body: { start: '', limit: '10' } })).status).toBe(400);
    const res = await call('POST', '/v1/raw/scan', { body: {} });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toBe('"start" is required');
  });
});
