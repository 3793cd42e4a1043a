// The one place errors become answers. ApiErrors carry their status and code;
// a Hono HTTPException is mapped by status; anything else is a bug, answered
// 500 INTERNAL with what failed but never a stack (API.md), and logged whole.

import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import type { AppEnv } from './app-env';
import { toBase64 } from '../util/base64';
import { type Encoding, encodeBytes } from './encoding';
import { ApiError, type ErrorDetails, ErrorCode, errorBody, TxnKeyError, UnavailableError } from './errors';

export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof ApiError) return apiErrorResponse(err, c);
  if (err instanceof HTTPException) {
    const mapped = fromHttpException(err);
    if (mapped !== undefined) return apiErrorResponse(mapped, c);
  }
  console.error(`${c.req.method} ${c.req.path} failed:`, err);
  const what =
    err instanceof Error && err.message !== '' ? `${err.name}: ${firstLine(err.message)}` : 'an unknown error';
  const message = `internal error while handling ${c.req.method} ${routePath(c, -1)}: ${what}`;
  return c.json(errorBody(ErrorCode.Internal, message), 500);
};

export const onNotFound: NotFoundHandler<AppEnv> = (c) =>
  c.json(errorBody(ErrorCode.NotFound, `no route for ${c.req.method} ${c.req.path}`), 404);

function apiErrorResponse(err: ApiError, c: Context<AppEnv>): Response {
  if (err instanceof UnavailableError) {
    const seconds = Number.isFinite(err.retryAfterSeconds) ? Math.max(1, Math.ceil(err.retryAfterSeconds)) : 1;
    c.header('Retry-After', String(seconds));
  }
  if (err.status === 401) c.header('WWW-Authenticate', 'Bearer realm="regionkv"');
  let details = err.details;
  if (err instanceof TxnKeyError && err.key !== undefined) {
    details = { ...details, ...keyDetail(err.key, c.get('encoding') ?? 'utf8') };
  }
  return c.json(errorBody(err.code, err.message, details), err.status);
}

/**
 * `key` as the client writes keys. A key that is not UTF-8, in a UTF-8
 * request, goes as base64 and says so: turning the 409 into a 400 would
 * hide the conflict.
 */
function keyDetail(key: Uint8Array, encoding: Encoding): ErrorDetails {
  try {
    return { key: encodeBytes(key, encoding, 'key') };
  } catch {
    return { key: toBase64(key), keyEncoding: 'base64' };
  }
}

/** Hono's own 4xx (e.g. a body it could not read) in our vocabulary; others stay bugs. */
function fromHttpException(err: HTTPException): ApiError | undefined {
  const message = err.message !== '' ? err.message : `HTTP ${err.status}`;
  switch (err.status) {
    case 400:
    case 415:
      return new ApiError(400, ErrorCode.InvalidArgument, message);
    case 401:
      return new ApiError(401, ErrorCode.Unauthorized, message);
    case 404:
      return new ApiError(404, ErrorCode.NotFound, message);
    case 413:
      return new ApiError(413, ErrorCode.PayloadTooLarge, message);
    default:
      return undefined;
  }
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
