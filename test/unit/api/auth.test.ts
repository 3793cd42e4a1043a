import { describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/api/app';
import { FakeRawStore } from './fake-raw-store';
import { adminToken, apiToken, errorOf, harness, rawPath, testEnv } from './harness';

describe('bearer token auth', () => {
  it('refuses a data route without a token, saying how to send one', async () => {
    const { call, store } = harness();
    const res = await call('GET', rawPath('k'), { token: null });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const error = await errorOf(res);
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toContain('Authorization: Bearer');
    expect(store.calls).toEqual([]);
  });

  it('refuses a wrong token', async () => {
    const { call, store } = harness();
    for (const token of ['wrong', `${apiToken}x`, adminToken]) {
      const res = await call('PUT', rawPath('k'), { token, body: { value: 'v' } });
      expect(res.status, token).toBe(401);
      expect((await errorOf(res)).code).toBe('UNAUTHORIZED');
    }
    expect(store.calls).toEqual([]);
  });

  it('refuses a header that is not a bearer token', async () => {
    const { app, env } = harness();
    for (const authorization of [`Basic ${apiToken}`, apiToken, 'Bearer', `Bearer ${apiToken} extra`]) {
      const res = await app.request(rawPath('k'), { headers: { authorization } }, env);
      expect(res.status, authorization).toBe(401);
    }
  });

  it('takes the scheme in any case', async () => {
    const { app, env } = harness();
    const res = await app.request(rawPath('k'), { headers: { authorization: `bearer ${apiToken}` } }, env);
    expect(res.status).toBe(404);
  });

  it('checks auth before validating the request', async () => {
    const { call } = harness();
    const res = await call('POST', '/v1/raw/scan', { token: null, body: 'not json' });
    expect(res.status).toBe(401);
  });

  it.each([
    ['unset', undefined],
    ['empty', ''],
  ])('fails closed when API_TOKEN is %s', async (_name, value) => {
    const { call, store } = harness();
    const env = testEnv({ API_TOKEN: value });
    for (const token of [null, '', 'anything', adminToken]) {
      const res = await call('GET', rawPath('k'), { token, env });
      expect(res.status).toBe(401);
      const error = await errorOf(res);
      expect(error.code).toBe('UNAUTHORIZED');
      expect(error.message).toContain('API_TOKEN');
      expect(error.message).toContain('wrangler secret put API_TOKEN');
    }
    expect(store.calls).toEqual([]);
    // The public routes still answer.
    expect((await call('GET', '/v1/health', { token: null, env })).status).toBe(200);
    expect((await call('GET', '/openapi.json', { token: null, env })).status).toBe(200);
  });
});

describe('admin routes', () => {
  it('refuses the API token under /v1/admin/, saying the admin token is needed', async () => {
    const { call } = harness();
    const res = await call('POST', '/v1/admin/split', { token: apiToken, body: { key: 'm' } });
    expect(res.status).toBe(401);
    const error = await errorOf(res);
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.message).toContain('admin token');
  });

  it('refuses a missing or wrong token before looking up the route', async () => {
    const { call } = harness();
    expect((await call('GET', '/v1/admin/no-such-route', { token: null })).status).toBe(401);
    expect((await call('GET', '/v1/admin/no-such-route', { token: 'wrong' })).status).toBe(401);
  });

  it('lets the admin token through to the route lookup', async () => {
    const { call } = harness();
    const res = await call('GET', '/v1/admin/no-such-route', { token: adminToken });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('NOT_FOUND');
  });

  it('fails closed when ADMIN_TOKEN is unset', async () => {
    const { call } = harness();
    const env = testEnv({ ADMIN_TOKEN: undefined });
    const res = await call('GET', '/v1/admin/stores', { token: apiToken, env });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).message).toContain('wrangler secret put ADMIN_TOKEN');
  });
});

describe('every route', () => {
  // Auth is attached per path prefix in app.ts; this catches a route added
  // under a prefix nobody protected.
  it('refuses a request without a token, except the public ones', async () => {
    const store = new FakeRawStore();
    const app = buildApp(() => ({ raw: store }));
    const publicRoutes = new Set(['GET /v1/health', 'GET /openapi.json', 'GET /']);
    const routes = app.routes.filter((r) => r.method !== 'ALL');
    expect(routes.length).toBeGreaterThanOrEqual(6);
    for (const route of routes) {
      const name = `${route.method} ${route.path}`;
      const path = route.path.replace(/:[^/]+/g, 'x');
      const body = route.method === 'GET' ? null : '{}';
      const res = await app.request(path, { method: route.method, body }, testEnv());
      if (publicRoutes.has(name)) expect(res.status, name).toBe(200);
      else expect(res.status, name).toBe(401);
    }
    expect(store.calls).toEqual([]);
  });
});
