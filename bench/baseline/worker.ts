// The HTTP benchmark's baseline: `PUT /v1/raw/{key}` {"value"} and
// `GET /v1/raw/{key}` with regionkv's request and answer shapes and bearer
// check (API.md, "Raw key space"), served by ONE Durable Object writing to its
// own SQLite with no replication. What regionkv's raw put and get cost on top
// of this is the price of Raft, routing and the API layer.
//
// Deliberately plain (no Hono, no zod): the floor to measure against.

import { DurableObject } from 'cloudflare:workers';

interface BaselineEnv {
  STORE: DurableObjectNamespace<BaselineStore>;
  API_TOKEN?: string;
}

/** The one object every request goes to. */
const storeName = 'baseline';

/** API.md's limits for the two routes served here. */
const keyBytesMax = 4096;
const valueBytesMax = 1024 * 1024;

export class BaselineStore extends DurableObject<BaselineEnv> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: BaselineEnv) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec('CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) STRICT');
    });
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.sql.exec('INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)', key, value);
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const rows = this.sql.exec('SELECT value FROM kv WHERE key = ?', key).toArray();
    const value = rows[0]?.['value'];
    return value instanceof ArrayBuffer ? new Uint8Array(value) : undefined;
  }
}

const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF, as regionkv's decoder does.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function json(body: unknown, status: number): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function error(status: number, code: string, message: string): Response {
  return json({ error: { code, message } }, status);
}

/** Constant-time comparison over the bytes, like regionkv's (which hashes first). */
function tokenMatches(header: string | null, expected: string | undefined): boolean {
  if (expected === undefined || expected === '' || header === null) return false;
  const presented = /^bearer +(\S+) *$/i.exec(header)?.[1];
  if (presented === undefined) return false;
  const a = encoder.encode(presented);
  const b = encoder.encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i]!;
  return diff === 0;
}

async function handle(request: Request, env: BaselineEnv): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === '/v1/health' && request.method === 'GET') return json({ ok: true }, 200);
  if (!path.startsWith('/v1/raw/')) return error(404, 'NOT_FOUND', `no route for ${request.method} ${path}`);
  if (!tokenMatches(request.headers.get('authorization'), env.API_TOKEN)) {
    return error(401, 'UNAUTHORIZED', 'the bearer token is missing or not valid');
  }
  let keyText: string;
  try {
    keyText = decodeURIComponent(path.slice('/v1/raw/'.length));
  } catch {
    return error(400, 'INVALID_ARGUMENT', 'the key in the path is not valid percent-encoded UTF-8');
  }
  const key = encoder.encode(keyText);
  if (key.length === 0) return error(400, 'INVALID_ARGUMENT', '"key" must not be empty');
  if (key.length > keyBytesMax) return error(413, 'PAYLOAD_TOO_LARGE', `a key is at most ${keyBytesMax} bytes`);
  const store = env.STORE.get(env.STORE.idFromName(storeName));

  if (request.method === 'GET') {
    const value = await store.get(key);
    if (value === undefined) return error(404, 'NOT_FOUND', 'no value is stored under this key');
    return json({ key: keyText, value: decoder.decode(value) }, 200);
  }
  if (request.method === 'PUT') {
    let body: unknown;
    try {
      body = JSON.parse(await request.text());
    } catch {
      return error(400, 'INVALID_ARGUMENT', 'the request body is not valid JSON');
    }
    const valueText = typeof body === 'object' && body !== null ? (body as { value?: unknown }).value : undefined;
    if (typeof valueText !== 'string') return error(400, 'INVALID_ARGUMENT', '"value" must be a string');
    const value = encoder.encode(valueText);
    if (value.length > valueBytesMax) return error(413, 'PAYLOAD_TOO_LARGE', `a value is at most ${valueBytesMax} bytes`);
    await store.put(key, value);
    return json({}, 200);
  }
  return error(404, 'NOT_FOUND', `no route for ${request.method} ${path}`);
}

export default {
  fetch: handle,
} satisfies ExportedHandler<BaselineEnv>;
