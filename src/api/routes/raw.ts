// The raw key space (API.md, "Raw key space"): linearizable single-key
// get/put/delete and range scans, no transactions. Each handler decodes the
// wire strings to bytes, calls the RawStore, and encodes the answer in the
// encoding the request asked for.

import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { assert } from '../../util/assert';
import { compareBytes } from '../../util/bytes';
import type { AppEnv } from '../app-env';
import { decodeBound, decodeKey, decodeValue, encodeBytes, resolveEncoding } from '../encoding';
import { invalidArgument, notFound } from '../errors';
import { jsonBody } from '../json-body';
import { limits } from '../limits';
import { pathKeyText } from '../path-key';
import { bearerSecurity, EncodingQuery, EncodingSchema, errorResponses, json } from '../schemas';
import { validationHook } from '../validation';

const KeyParams = z.object({
  key: z.string().openapi({
    description: 'The key, percent-encoded (UTF-8 text, or base64 with encoding=base64).',
    example: 'user%2F42',
  }),
});

const PairSchema = z
  .object({
    key: z.string(),
    value: z.string(),
  })
  .openapi('RawPair');

const PutBody = z
  .object({
    value: z.string().openapi({ description: 'At most 1 MiB once decoded.' }),
    encoding: EncodingSchema.optional(),
  })
  .openapi('RawPutRequest');

const ScanBody = z
  .object({
    start: z.string().openapi({ description: 'First key of the range, inclusive; empty means the first key.' }),
    end: z
      .string()
      .optional()
      .openapi({ description: 'End of the range, exclusive; absent or empty means the end of the key space.' }),
    limit: z.number().int().min(1).max(limits.scanLimitMax).default(limits.scanLimitDefault),
    encoding: EncodingSchema.optional(),
  })
  .openapi('RawScanRequest');

const ScanAnswer = z
  .object({
    pairs: z.array(PairSchema),
    more: z.boolean().openapi({ description: 'True if pairs remain in the range after the last one returned.' }),
  })
  .openapi('RawScanResponse');

const getRaw = createRoute({
  method: 'get',
  path: '/v1/raw/{key}',
  tags: ['raw'],
  summary: 'Read one key',
  security: bearerSecurity,
  request: { params: KeyParams, query: EncodingQuery },
  responses: {
    200: { description: 'The key and its value.', content: json(PairSchema) },
    ...errorResponses(400, 401, 404, 413, 500, 503),
  },
});

const putRaw = createRoute({
  method: 'put',
  path: '/v1/raw/{key}',
  tags: ['raw'],
  summary: 'Write one key',
  security: bearerSecurity,
  middleware: [jsonBody] as const,
  request: {
    params: KeyParams,
    query: EncodingQuery,
    body: { required: true, content: json(PutBody) },
  },
  responses: {
    200: { description: 'Written.', content: json(z.object({})) },
    ...errorResponses(400, 401, 413, 500, 503),
  },
});

const deleteRaw = createRoute({
  method: 'delete',
  path: '/v1/raw/{key}',
  tags: ['raw'],
  summary: 'Delete one key (also when absent)',
  security: bearerSecurity,
  request: { params: KeyParams, query: EncodingQuery },
  responses: {
    200: { description: 'Deleted, or was absent.', content: json(z.object({})) },
    ...errorResponses(400, 401, 413, 500, 503),
  },
});

const scanRaw = createRoute({
  method: 'post',
  path: '/v1/raw/scan',
  tags: ['raw'],
  summary: 'Scan a key range [start, end) in key order',
  security: bearerSecurity,
  middleware: [jsonBody] as const,
  request: {
    query: EncodingQuery,
    body: { required: true, content: json(ScanBody) },
  },
  responses: {
    200: { description: 'Up to `limit` pairs in key order.', content: json(ScanAnswer) },
    ...errorResponses(400, 401, 413, 500, 503),
  },
});

export function rawRoutes() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
    .openapi(getRaw, async (c) => {
      const encoding = resolveEncoding(undefined, c.req.valid('query').encoding);
      const key = decodeKey(pathKeyText(c.req.url), encoding);
      const value = await c.var.services.raw.get(key);
      if (value === undefined) throw notFound('no value is stored under this key');
      return c.json({ key: encodeBytes(key, encoding, 'key'), value: encodeBytes(value, encoding, 'value') }, 200);
    })
    .openapi(putRaw, async (c) => {
      const body = c.req.valid('json');
      const encoding = resolveEncoding(body.encoding, c.req.valid('query').encoding);
      const key = decodeKey(pathKeyText(c.req.url), encoding);
      const value = decodeValue(body.value, encoding);
      await c.var.services.raw.put(key, value);
      return c.json({}, 200);
    })
    .openapi(deleteRaw, async (c) => {
      const encoding = resolveEncoding(undefined, c.req.valid('query').encoding);
      const key = decodeKey(pathKeyText(c.req.url), encoding);
      await c.var.services.raw.delete(key);
      return c.json({}, 200);
    })
    .openapi(scanRaw, async (c) => {
      const body = c.req.valid('json');
      const encoding = resolveEncoding(body.encoding, c.req.valid('query').encoding);
      const start = decodeBound(body.start, encoding, 'start');
      const end = decodeBound(body.end ?? '', encoding, 'end');
      // An empty or inverted range holds nothing; answering here keeps the
      // store's contract to well-formed ranges.
      if (end.length > 0 && compareBytes(start, end) >= 0) return c.json({ pairs: [], more: false }, 200);
      const { pairs, more } = await c.var.services.raw.scan(start, end, body.limit);
      assert(pairs.length <= body.limit, `raw scan returned ${pairs.length} pairs for limit ${body.limit}`);
      return c.json(
        {
          pairs: pairs.map((p) => ({
            key: encodeBytes(p.key, encoding, 'key'),
            value: encodeBytes(p.value, encoding, 'value'),
          })),
          more,
        },
        200,
      );
    });
  // `/v1/raw/{key}` cannot match an empty segment, so without this an empty
  // key would be a bare 404; API.md makes it a 400. Not in the document: it
  // is the same operation as above with an invalid key.
  app.on(['GET', 'PUT', 'DELETE'], '/v1/raw/', () => {
    throw invalidArgument('"key" must not be empty');
  });
  return app;
}
