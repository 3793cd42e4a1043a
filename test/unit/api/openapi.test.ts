import { describe, expect, it } from 'vitest';
import { harness } from './harness';

interface Operation {
  security?: Record<string, string[]>[];
  responses: Record<string, { headers?: Record<string, unknown> }>;
  requestBody?: { content: Record<string, unknown> };
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, { type: string; scheme: string }> };
}

async function fetchDocument(): Promise<Document> {
  const { call } = harness();
  const res = await call('GET', '/openapi.json', { token: null });
  expect(res.status).toBe(200);
  return (await res.json()) as Document;
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document, served without a token', async () => {
    const doc = await fetchDocument();
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('lists every /v1 route with its error responses', async () => {
    const doc = await fetchDocument();
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(listed.sort()).toEqual(
      [
        'GET /v1/health',
        'GET /v1/raw/{key}',
        'PUT /v1/raw/{key}',
        'DELETE /v1/raw/{key}',
        'POST /v1/raw/scan',
        'GET /v1/kv/{key}',
        'PUT /v1/kv/{key}',
        'DELETE /v1/kv/{key}',
        'POST /v1/txn/begin',
        'POST /v1/txn/get',
        'POST /v1/txn/scan',
        'POST /v1/txn/commit',
        'GET /v1/cluster',
        'POST /v1/admin/transfer-leader',
        'POST /v1/admin/add-peer',
        'POST /v1/admin/remove-peer',
        'POST /v1/admin/split',
      ].sort(),
    );
    const expectErrors = (method: string, path: string, statuses: string[]) => {
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      expect(Object.keys(op!.responses).sort(), `${method} ${path}`).toEqual(statuses.sort());
    };
    expectErrors('get', '/v1/health', ['200', '500']);
    expectErrors('get', '/v1/raw/{key}', ['200', '400', '401', '404', '413', '500', '503']);
    expectErrors('put', '/v1/raw/{key}', ['200', '400', '401', '413', '500', '503']);
    expectErrors('delete', '/v1/raw/{key}', ['200', '400', '401', '413', '500', '503']);
    expectErrors('post', '/v1/raw/scan', ['200', '400', '401', '413', '500', '503']);
    expectErrors('get', '/v1/kv/{key}', ['200', '400', '401', '404', '409', '413', '500', '503']);
    expectErrors('put', '/v1/kv/{key}', ['200', '400', '401', '409', '413', '500', '503']);
    expectErrors('delete', '/v1/kv/{key}', ['200', '400', '401', '409', '413', '500', '503']);
    expectErrors('post', '/v1/txn/begin', ['200', '401', '500', '503']);
    for (const path of ['/v1/txn/get', '/v1/txn/scan', '/v1/txn/commit']) {
      expectErrors('post', path, ['200', '400', '401', '409', '413', '500', '503']);
    }
    expectErrors('get', '/v1/cluster', ['200', '400', '401', '500', '503']);
    for (const path of ['/v1/admin/transfer-leader', '/v1/admin/add-peer', '/v1/admin/remove-peer', '/v1/admin/split']) {
      expectErrors('post', path, ['200', '400', '401', '404', '500', '503']);
    }
  });

  it('marks the data routes as needing the bearer token and health as public', async () => {
    const doc = await fetchDocument();
    expect(doc.paths['/v1/health']?.get?.security).toEqual([]);
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (path === '/v1/health') continue;
      for (const op of Object.values(ops)) expect(op.security).toEqual([{ bearer: [] }]);
    }
  });

  it('documents Retry-After on 503 and the JSON bodies', async () => {
    const doc = await fetchDocument();
    expect(doc.paths['/v1/raw/{key}']?.get?.responses['503']?.headers).toHaveProperty('Retry-After');
    expect(doc.paths['/v1/raw/{key}']?.put?.requestBody?.content).toHaveProperty('application/json');
    expect(doc.paths['/v1/raw/scan']?.post?.requestBody?.content).toHaveProperty('application/json');
  });

  it('carries the validation limits from the zod schemas', async () => {
    const { call } = harness();
    const text = await (await call('GET', '/openapi.json', { token: null })).text();
    type Schemas = Record<string, { properties: Record<string, unknown> }>;
    const doc = JSON.parse(text) as { components: { schemas: Schemas } };
    const limit = doc.components.schemas.RawScanRequest?.properties.limit;
    expect(limit).toMatchObject({ minimum: 1, maximum: 10000, default: 100 });
  });
});
