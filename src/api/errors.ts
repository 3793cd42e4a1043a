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

/**
 * The 409s of the transactional key space. They carry the key as bytes, not
 * text: only the request knows whether its keys travel as UTF-8 or base64,
 * so the error handler writes `details.key` in the request's encoding.
 */
export class TxnKeyError extends ApiError {
  override name = 'TxnKeyError';

  constructor(
    code: typeof ErrorCode.WriteConflict | typeof ErrorCode.KeyLocked | typeof ErrorCode.TxnAborted,
    message: string,
    /** The key the failure is about; absent when no single key is to blame. */
    readonly key: Uint8Array | undefined,
    details: ErrorDetails = {},
  ) {
    super(409, code, message, details);
  }
}

/** Another transaction committed `key` at conflictTs >= our startTs (API.md: details key, conflictTs). */
export class WriteConflictError extends TxnKeyError {
  override name = 'WriteConflictError';

  constructor(
    key: Uint8Array,
    readonly conflictTs: bigint,
  ) {
    super(
      ErrorCode.WriteConflict,
      `another transaction committed a write to the key at ${conflictTs}, after this transaction started; retry with a new transaction`,
      key,
      { conflictTs: conflictTs.toString() },
    );
  }
}

/** A lock of transaction lockTs on `key` stayed in the way longer than we wait (API.md: details key, lockTs). */
export class KeyLockedError extends TxnKeyError {
  override name = 'KeyLockedError';

  constructor(
    key: Uint8Array,
    readonly lockTs: bigint,
  ) {
    super(
      ErrorCode.KeyLocked,
      `the key is locked by transaction ${lockTs}, which did not finish in time; retry with a new transaction`,
      key,
      { lockTs: lockTs.toString() },
    );
  }
}

/** This transaction was rolled back (by its coordinator, or by a reader that found it dead). */
export class TxnAbortedError extends TxnKeyError {
  override name = 'TxnAbortedError';

  constructor(message: string, key?: Uint8Array, details: ErrorDetails = {}) {
    super(ErrorCode.TxnAborted, message, key, details);
  }
}
