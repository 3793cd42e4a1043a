// Request bodies are JSON whatever the Content-Type says (API.md: `curl -d`
// sends a form type). The zod-openapi validators only read bodies labelled
// JSON and refuse other types with 415, so this middleware, which runs before
// them on every route with a body, reads the body within the size limit,
// parses it, and hands them the same bytes labelled application/json.

import { createMiddleware } from 'hono/factory';
import { fromUtf8 } from '../util/bytes';
import type { AppEnv } from './app-env';
import { invalidArgument, payloadTooLarge } from './errors';
import { limits } from './limits';

export const jsonBody = createMiddleware<AppEnv>(async (c, next) => {
  const bytes = await readBodyCapped(c.req.raw, limits.bodyBytesMax);
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    throw invalidArgument('the request body is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? `: ${err.message}` : '';
    throw invalidArgument(`the request body is not valid JSON${reason}`);
  }
  const headers = new Headers(c.req.raw.headers);
  headers.set('content-type', 'application/json');
  // A new Request because incoming headers are immutable in workerd; built
  // from the old one so that platform fields such as `cf` stay.
  c.req.raw = new Request(c.req.raw, { headers, body: bytes });
  // Saves the validator a second parse of up to bodyBytesMax of JSON.
  c.req.bodyCache.json = Promise.resolve(parsed);
  c.set('jsonBody', parsed);
  await next();
});

function tooLarge(): Error {
  return payloadTooLarge(`the request body is over ${limits.bodyBytesMax} bytes`, { limitBytes: limits.bodyBytesMax });
}

/**
 * The whole body, refusing more than maxBytes. Content-Length is checked
 * first so an honest large upload is refused before it is read; the count of
 * bytes actually read covers chunked bodies and a header that lies.
 */
async function readBodyCapped(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
