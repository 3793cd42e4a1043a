// The error family of the HTTP edge. Every failure a client can see is an
// ApiError carrying the status and code from the table in API.md; the one
// onError handler (error-handler.ts) turns it into the JSON body.

/** The `error.code` values of API.md, one per documented failure. */
export const ErrorCode = {
  InvalidArgument: 'INVALID_ARGUMENT',
  Unauthorized: 'UNAUTHORIZED',
  NotFound: 'NOT_FOUND',
  WriteConflict: 'WRITE_CONFLICT',
  KeyLocked: 'KEY_LOCKED',
  TxnAborted: 'TXN_ABORTED',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  Unavailable: 'UNAVAILABLE',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The statuses API.md pairs with the codes above. */
export type ErrorStatus = 400 | 401 | 404 | 409 | 413 | 500 | 503;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Extra fields that sit next to `code` and `message` in the error body. */
export type ErrorDetails = Readonly<Record<string, JsonValue>>;

export class ApiError extends Error {
  override name = 'ApiError';

  constructor(
    readonly status: ErrorStatus,
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
  ) {
    super(message);
  }
}

/**
 * A region had no reachable leader after the store's own retries. The store
 * layer throws it; clients get 503 with a `Retry-After` header.
 */
export class UnavailableError extends ApiError {
  override name = 'UnavailableError';

  constructor(
    message: string,
    /** How long the client should wait before retrying; whole seconds on the wire. */
    readonly retryAfterSeconds: number,
  ) {
    super(503, ErrorCode.Unavailable, message, { retryAfterSeconds });
  }
}

export function invalidArgument(message: string, details?: ErrorDetails): ApiError {
  return new ApiError(400, ErrorCode.InvalidArgument, message, details);
}

export function payloadTooLarge(message: string, details?: ErrorDetails): ApiError {
  return new ApiError(413, ErrorCode.PayloadTooLarge, message, details);
}

export function unauthorized(message: string): ApiError {
  return new ApiError(401, ErrorCode.Unauthorized, message);
}

export function notFound(message: string): ApiError {
  return new ApiError(404, ErrorCode.NotFound, message);
}

/** The JSON body of every error answer: `{"error": {"code", "message", ...details}}`. */
export function errorBody(code: ErrorCode, message: string, details: ErrorDetails = {}) {
  // code and message first for people reading the JSON, and never overwritten by a detail.
  return { error: Object.assign({ code, message }, details, { code, message }) };
}
