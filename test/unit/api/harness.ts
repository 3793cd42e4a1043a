// Runs the real app in Node through `app.request()`, against a fake store.

import { buildApp } from '../../../src/api/app';
import type { Env } from '../../../src/api/env';
import { FakeRawStore } from './fake-raw-store';

export const apiToken = 't';
export const adminToken = 'a';

/** The bindings the routes read; the Durable Object namespaces stay unused here. */
export function testEnv(overrides: Partial<Env> = {}): Env {
  return { API_TOKEN: apiToken, ADMIN_TOKEN: adminToken, ...overrides } as Env;
}

export interface Call {
  /** JSON-encoded unless a string, which is sent as is. */
  body?: unknown;
  /** Bearer token; null sends no Authorization header. Defaults to the API token. */
  token?: string | null;
  headers?: Record<string, string>;
  env?: Env;
}

export interface ErrorAnswer {
  error: { code: string; message: string; [detail: string]: unknown };
}

export function harness() {
  const store = new FakeRawStore();
  const app = buildApp(() => ({ raw: store }));
  const env = testEnv();

  async function call(method: string, path: string, opts: Call = {}): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === undefined ? apiToken : opts.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const init: RequestInit = { method, headers };
    if (opts.body !== undefined) {
      init.body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    return app.request(path, init, opts.env ?? env);
  }

  return { app, store, env, call };
}

/** `/v1/raw/<key>` with the key percent-encoded as a client must. */
export function rawPath(key: string, query = ''): string {
  return `/v1/raw/${encodeURIComponent(key)}${query}`;
}

export async function errorOf(res: Response): Promise<ErrorAnswer['error']> {
  const body = (await res.json()) as ErrorAnswer;
  return body.error;
}
