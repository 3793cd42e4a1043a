// Single keys of the transactional key space (API.md, "Single keys"): each
// request is a transaction of its own, read at a fresh timestamp or
// committed at one. Same wire handling as routes/raw.ts.

import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env';
import { decodeKey, decodeValue, encodeBytes } from '../encoding';
import { invalidArgument, notFound } from '../errors';
import { jsonBody } from '../json-body';
import { pathKeyText } from '../path-key';
import { bearerSecurity, EncodingQuery, EncodingSchema, errorResponses, json } from '../schemas';
import { validationHook } from '../validation';
import { formatTimestamp, TimestampSchema, txnStore, useEncoding } from './txn-common';

const KeyParams = z.object({
  key: z.string().openapi({
    description: 'The key, percent-encoded (UTF-8 text, or base64 with encoding=base64).',
    example: 'user%2F42',
  }),
});

const PairSchema = z.object({ key: z.string(), value: z.string() }).openapi('KvPair');

const PutBody = z
  .object({
    value: z.string().openapi({ description: 'At most 1 MiB once decoded.' }),
    encoding: EncodingSchema.optional(),
  })
  .openapi('KvPutRequest');

const CommitAnswer = z.object({ commitTs: TimestampSchema }).openapi('KvCommitResponse');

const getKv = createRoute({
  method: 'get',
  path: '/v1/kv/{key}',
  tags: ['kv'],
  summary: 'Read one key at a fresh timestamp',
  security: bearerSecurity,
  request: { params: KeyParams, query: EncodingQuery },
  responses: {
    200: { description: 'The key and its value.', content: json(PairSchema) },
    ...errorResponses(400, 401, 404, 409, 413, 500, 503),
  },
});

const putKv = createRoute({
  method: 'put',
  path: '/v1/kv/{key}',
  tags: ['kv'],
  summary: 'Write one key in a transaction of its own',
  security: bearerSecurity,
  middleware: [jsonBody] as const,
  request: { params: KeyParams, query: EncodingQuery, body: { required: true, content: json(PutBody) } },
  responses: {
    200: { description: 'Committed.', content: json(CommitAnswer) },
    ...errorResponses(400, 401, 409, 413, 500, 503),
  },
});

const deleteKv = createRoute({
  method: 'delete',
  path: '/v1/kv/{key}',
  tags: ['kv'],
  summary: 'Delete one key in a transaction of its own (also when absent)',
  security: bearerSecurity,
  request: { params: KeyParams, query: EncodingQuery },
  responses: {
    200: { description: 'Committed.', content: json(CommitAnswer) },
    ...errorResponses(400, 401, 409, 413, 500, 503),
  },
});

export function kvRoutes() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
    .openapi(getKv, async (c) => {
      const encoding = useEncoding(c, undefined, c.req.valid('query').encoding);
      const key = decodeKey(pathKeyText(c.req.url), encoding);
      const value = await txnStore(c).getLatest(key);
      if (value === null) throw notFound('no value is stored under this key');
      return c.json({ key: encodeBytes(key, encoding, 'key'), value: encodeBytes(value, encoding, 'value') }, 200);
    })
    .openapi(putKv, async (c) => {
      const body = c.req.valid('json');
      const encoding = useEncoding(c, body.encoding, c.req.valid('query').encoding);
      const key = decodeKey(pathKeyText(c.req.url), encoding);
      const value = decodeValue(body.value, encoding);
      const commitTs = await txnStore(c).put(key, value);
      return c.json({ commitTs: formatTimestamp(commitTs) }, 200);
    })
    .openapi(deleteKv, async (c) => {
      const encoding = useEncoding(c, undefined, c.req.valid('query').encoding);
      const key = decodeKey(pathKeyText(c.req.url), encoding);
      const commitTs = await txnStore(c).delete(key);
      return c.json({ commitTs: formatTimestamp(commitTs) }, 200);
    });
  // As in raw.ts: an empty key segment is a 400, not a bare 404.
  app.on(['GET', 'PUT', 'DELETE'], '/v1/kv/', () => {
    throw invalidArgument('"key" must not be empty');
  });
  return app;
}
