// A scripted fetch for SDK unit tests: records every request and answers
// from a handler, so tests see exactly what went on the wire.

import type { FetchLike } from 'regionkv/client';

export interface Recorded {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: unknown;
}

export type Handler = (req: Recorded) => { status?: number; body?: unknown; headers?: Record<string, string> } | Promise<{ status?: number; body?: unknown; headers?: Record<string, string> }>;

export function fakeFetch(handler: Handler): { fetch: FetchLike; calls: Recorded[] } {
  const calls: Recorded[] = [];
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input);
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const req: Recorded = {
      method: init?.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      headers,
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    calls.push(req);
    const answer = await handler(req);
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
    return new Response(text, { status: answer.status ?? 200, headers: answer.headers ?? {} });
  };
  return { fetch, calls };
}

export const conflict = (key = 'k') => ({
  status: 409,
  body: { error: { code: 'WRITE_CONFLICT', message: 'a newer commit', key, conflictTs: '7' } },
});
