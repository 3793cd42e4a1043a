import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, UnavailableError } from '../../../src/api/errors';
import { errorOf, harness, rawPath } from './harness';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('error answers', () => {
  it('answers an unknown route with 404 NOT_FOUND', async () => {
    const { call } = harness();
    for (const [method, path] of [
      ['GET', '/v1/no-such-route'],
      ['POST', '/v1/raw/scan/more'],
      ['PATCH', rawPath('k')],
      ['GET', '/nothing/here'],
    ]) {
      const res = await call(method!, path!);
      expect(res.status, `${method} ${path}`).toBe(404);
      const error = await errorOf(res);
      expect(error.code).toBe('NOT_FOUND');
      expect(error.message).toContain(path);
    }
  });

  it('answers 404 for an unknown route outside the protected prefixes without a token', async () => {
    const { call } = harness();
    expect((await call('GET', '/v1/no-such-route', { token: null })).status).toBe(404);
  });

  it('maps UnavailableError to 503 UNAVAILABLE with Retry-After', async () => {
    const { call, store } = harness();
    store.failWith = new UnavailableError('region 7 has no leader', 2.5);
    for (const [method, path, body] of [
      ['GET', rawPath('k'), undefined],
      ['PUT', rawPath('k'), { value: 'v' }],
      ['DELETE', rawPath('k'), undefined],
      ['POST', '/v1/raw/scan', { start: '' }],
    ] as const) {
      const res = await call(method, path, { body });
      expect(res.status, method).toBe(503);
      expect(res.headers.get('retry-after')).toBe('3');
      const error = await errorOf(res);
      expect(error.code).toBe('UNAVAILABLE');
      expect(error.message).toBe('region 7 has no leader');
      expect(error.retryAfterSeconds).toBe(2.5);
    }
  });

  it('maps an ApiError thrown by a store to its own status, code and details', async () => {
    const { call, store } = harness();
    store.failWith = new ApiError(409, 'KEY_LOCKED', 'locked', { key: 'k', lockTs: '42' });
    const res = await call('GET', rawPath('k'));
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({ error: { code: 'KEY_LOCKED', message: 'locked', key: 'k', lockTs: '42' } });
  });

  it('answers an unexpected error with 500 INTERNAL naming what failed, without a stack', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { call, store } = harness();
    store.failWith = new TypeError('cannot read the region map\n    at secretFunction (src/x.ts:1:1)');
    const res = await call('GET', rawPath('k'));
    expect(res.status).toBe(500);
    const error = await errorOf(res);
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toContain('GET /v1/raw/:key');
    expect(error.message).toContain('cannot read the region map');
    expect(error.message).not.toContain(' at ');
    expect(JSON.stringify(await errorOf(await call('GET', rawPath('k'))))).not.toMatch(/\.ts:\d+/);
    expect(logged).toHaveBeenCalled();
  });

  it('answers 500 for a store that breaks its scan contract', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const { call, store } = harness();
    const twoPairs = [new Uint8Array([1]), new Uint8Array([2])].map((key) => ({ key, value: new Uint8Array() }));
    store.scan = async () => ({ pairs: twoPairs, more: false });
    const res = await call('POST', '/v1/raw/scan', { body: { start: '', limit: 1 } });
    expect(res.status).toBe(500);
    expect((await errorOf(res)).code).toBe('INTERNAL');
  });
});
