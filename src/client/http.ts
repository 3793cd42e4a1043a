// The one place that talks HTTP: bearer token, JSON bodies, error mapping.
// Only `fetch` (injectable), so the SDK runs in Workers, browsers and Node.

import { errorFromResponse, RegionKVError } from './errors';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface TransportOptions {
  url: string;
  token: string;
  fetch: FetchLike;
  /** Per-request timeout; undefined = none (the worker bounds its own retries). */
  timeoutMs: number | undefined;
}

export type Method = 'GET' | 'PUT' | 'DELETE' | 'POST';

export class Transport {
  readonly baseUrl: string;
  constructor(private readonly options: TransportOptions) {
    // A trailing slash would double up with the paths' leading one.
    this.baseUrl = options.url.replace(/\/+$/, '');
  }

  /** Sends a request and returns the parsed JSON of a 2xx answer; throws RegionKVError otherwise. */
  async request(method: Method, path: string, body?: unknown, token: string = this.options.token): Promise<unknown> {
    const init: RequestInit = {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    if (this.options.timeoutMs !== undefined) init.signal = AbortSignal.timeout(this.options.timeoutMs);
    let res: Response;
    try {
      res = await this.options.fetch(`${this.baseUrl}${path}`, init);
    } catch (err) {
      // No answer at all: status 0, so callers can tell it from any HTTP error.
      // The request may or may not have taken effect (API.md).
      const message = err instanceof Error ? err.message : String(err);
      throw new RegionKVError(0, 'UNAVAILABLE', `request to ${path} failed: ${message}`, {}, undefined, { cause: err });
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text.length === 0 ? undefined : JSON.parse(text);
    } catch {
      // not JSON (a proxy's error page): keep the text for the message
    }
    if (!res.ok) throw errorFromResponse(res.status, parsed, res.headers.get('retry-after'));
    return parsed;
  }
}

// Minimal shape checks of answers: a server that answers something else is a
// bug worth a clear error, not an `undefined` deep in the caller's code.

export function malformed(what: string): RegionKVError {
  return new RegionKVError(200, 'INTERNAL', `malformed answer from the server: ${what}`);
}

export function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(what);
  return value as Record<string, unknown>;
}

export function field<T>(
  record: Record<string, unknown>,
  name: string,
  check: (v: unknown) => v is T,
  what: string,
): T {
  const value = record[name];
  if (!check(value)) throw malformed(`${what}.${name}`);
  return value;
}

export const isString = (v: unknown): v is string => typeof v === 'string';
export const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
export const isArray = (v: unknown): v is unknown[] => Array.isArray(v);
export const isStringOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';

/** A decimal-string timestamp (API.md) as a bigint. */
export function parseTs(value: unknown, what: string): bigint {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw malformed(what);
  return BigInt(value);
}
