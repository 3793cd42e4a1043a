// Multi-key transactions (API.md, "Multi-key transactions"): the client
// begins (gets a startTs), reads at it, and commits its writes with it. The
// server keeps nothing between the calls: the startTs carries the snapshot,
// and the write set travels whole in the commit.

import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { assert } from '../../util/assert';
import { compareBytes } from '../../util/bytes';
import type { AppEnv } from '../app-env';
import { decodeBound, decodeKey, decodeValue, type Encoding, encodeBytes } from '../encoding';
import { payloadTooLarge } from '../errors';
import { jsonBody } from '../json-body';
import { limits } from '../limits';
import { bearerSecurity, EncodingQuery, EncodingSchema, errorResponses, json } from '../schemas';
import type { TxnMutation } from '../txn-store';
import { validationHook } from '../validation';
import { formatTimestamp, parseTimestamp, TimestampSchema, txnStore, useEncoding } from './txn-common';

const NullablePairSchema = z
  .object({
    key: z.string(),
    value: z.string().nullable().openapi({ description: 'null when the key has no value at startTs.' }),
  })
  .openapi('TxnGetPair');

const PairSchema = z.object({ key: z.string(), value: z.string() }).openapi('TxnPair');

const BeginAnswer = z.object({ startTs: TimestampSchema }).openapi('TxnBeginResponse');

const GetBody = z
  .object({
    startTs: TimestampSchema,
    keys: z.array(z.string()).openapi({ description: `At most ${limits.keysPerRequestMax} keys.` }),
    encoding: EncodingSchema.optional(),
  })
  .openapi('TxnGetRequest');

const GetAnswer = z
  .object({ pairs: z.array(NullablePairSchema).openapi({ description: 'One per key asked, in the order asked.' }) })
  .openapi('TxnGetResponse');

const ScanBody = z
  .object({
    startTs: TimestampSchema,
    start: z.string().openapi({ description: 'First key of the range, inclusive; empty means the first key.' }),
    end: z
      .string()
      .optional()
      .openapi({ description: 'End of the range, exclusive; absent or empty means the end of the key space.' }),
    limit: z.number().int().min(1).max(limits.scanLimitMax).default(limits.scanLimitDefault),
    reverse: z.boolean().default(false).openapi({ description: 'Newest key first, from end down to start.' }),
    encoding: EncodingSchema.optional(),
  })
  .openapi('TxnScanRequest');

const ScanAnswer = z
  .object({
    pairs: z.array(PairSchema),
    more: z.boolean().openapi({ description: 'True if pairs remain in the range after the last one returned.' }),
  })
  .openapi('TxnScanResponse');

const MutationSchema = z
  .discriminatedUnion('op', [
    z.object({ op: z.literal('put'), key: z.string(), value: z.string() }),
    z.object({ op: z.literal('delete'), key: z.string() }),
    z.object({ op: z.literal('assert_not_exists'), key: z.string() }),
  ])
  .openapi('TxnMutation', { description: 'Each key at most once in one commit.' });

const CommitBody = z
  .object({
    startTs: TimestampSchema,
    mutations: z.array(MutationSchema).openapi({ description: `At most ${limits.keysPerRequestMax} mutations.` }),
    encoding: EncodingSchema.optional(),
  })
  .openapi('TxnCommitRequest');

const CommitAnswer = z
  .object({
    commitTs: TimestampSchema.nullable().openapi({ description: 'null for an empty mutation list (a read-only transaction).' }),
  })
  .openapi('TxnCommitResponse');

const begin = createRoute({
  method: 'post',
  path: '/v1/txn/begin',
  tags: ['txn'],
  summary: 'Start a transaction: a fresh startTs',
  security: bearerSecurity,
  responses: {
    200: { description: 'The snapshot timestamp to read and commit with.', content: json(BeginAnswer) },
    ...errorResponses(401, 500, 503),
  },
});

const get = createRoute({
  method: 'post',
  path: '/v1/txn/get',
  tags: ['txn'],
  summary: 'Read keys at startTs',
  security: bearerSecurity,
  middleware: [jsonBody] as const,
  request: { query: EncodingQuery, body: { required: true, content: json(GetBody) } },
  responses: {
    200: { description: 'The values at startTs.', content: json(GetAnswer) },
    ...errorResponses(400, 401, 409, 413, 500, 503),
  },
});

const scan = createRoute({
  method: 'post',
  path: '/v1/txn/scan',
  tags: ['txn'],
  summary: 'Scan a key range [start, end) at startTs',
  security: bearerSecurity,
  middleware: [jsonBody] as const,
  request: { query: EncodingQuery, body: { required: true, content: json(ScanBody) } },
  responses: {
    200: { description: 'Up to `limit` pairs in key order (reverse: newest key first).', content: json(ScanAnswer) },
    ...errorResponses(400, 401, 409, 413, 500, 503),
  },
});

const commit = createRoute({
  method: 'post',
  path: '/v1/txn/commit',
  tags: ['txn'],
  summary: 'Commit a transaction’s writes; safe to repeat with the same startTs',
  security: bearerSecurity,
  middleware: [jsonBody] as const,
  request: { query: EncodingQuery, body: { required: true, content: json(CommitBody) } },
  responses: {
    200: { description: 'Committed (or nothing to commit).', content: json(CommitAnswer) },
    ...errorResponses(400, 401, 409, 413, 500, 503),
  },
});

function checkCount(count: number, what: string): void {
  if (count > limits.keysPerRequestMax) {
    throw payloadTooLarge(`${count} ${what} in one request; at most ${limits.keysPerRequestMax}`, {
      limit: limits.keysPerRequestMax,
    });
  }
}

function decodeMutation(m: z.infer<typeof MutationSchema>, i: number, encoding: Encoding): TxnMutation {
  const key = decodeKey(m.key, encoding, `mutations.${i}.key`);
  switch (m.op) {
    case 'put':
      return { op: 'put', key, value: decodeValue(m.value, encoding, `mutations.${i}.value`) };
    case 'delete':
      return { op: 'delete', key };
    case 'assert_not_exists':
      return { op: 'assert_not_exists', key };
  }
}

export function txnRoutes() {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
    .openapi(begin, async (c) => {
      const startTs = await txnStore(c).begin();
      return c.json({ startTs: formatTimestamp(startTs) }, 200);
    })
    .openapi(get, async (c) => {
      const body = c.req.valid('json');
      const encoding = useEncoding(c, body.encoding, c.req.valid('query').encoding);
      const startTs = parseTimestamp(body.startTs, 'startTs');
      checkCount(body.keys.length, 'keys');
      const keys = body.keys.map((k, i) => decodeKey(k, encoding, `keys.${i}`));
      const values = await txnStore(c).get(startTs, keys);
      assert(values.length === keys.length, `txn get answered ${values.length} values for ${keys.length} keys`);
      return c.json(
        {
          pairs: keys.map((key, i) => {
            const value = values[i]!;
            const text = value === null ? null : encodeBytes(value, encoding, 'value');
            return { key: encodeBytes(key, encoding, 'key'), value: text };
          }),
        },
        200,
      );
    })
    .openapi(scan, async (c) => {
      const body = c.req.valid('json');
      const encoding = useEncoding(c, body.encoding, c.req.valid('query').encoding);
      const startTs = parseTimestamp(body.startTs, 'startTs');
      const start = decodeBound(body.start, encoding, 'start');
      const end = decodeBound(body.end ?? '', encoding, 'end');
      // An empty or inverted range holds nothing (as in raw scan).
      if (end.length > 0 && compareBytes(start, end) >= 0) return c.json({ pairs: [], more: false }, 200);
      const { pairs, more } = await txnStore(c).scan(startTs, start, end, body.limit, body.reverse);
      assert(pairs.length <= body.limit, `txn scan returned ${pairs.length} pairs for limit ${body.limit}`);
      return c.json(
        {
          pairs: pairs.map((p) => ({ key: encodeBytes(p.key, encoding, 'key'), value: encodeBytes(p.value, encoding, 'value') })),
          more,
        },
        200,
      );
    })
    .openapi(commit, async (c) => {
      const body = c.req.valid('json');
      const encoding = useEncoding(c, body.encoding, c.req.valid('query').encoding);
      const startTs = parseTimestamp(body.startTs, 'startTs');
      checkCount(body.mutations.length, 'mutations');
      const mutations = body.mutations.map((m, i) => decodeMutation(m, i, encoding));
      const commitTs = await txnStore(c).commit(startTs, mutations);
      return c.json({ commitTs: commitTs === null ? null : formatTimestamp(commitTs) }, 200);
    });
}
