// Typed errors of the SDK. Every failed HTTP answer becomes a RegionKVError
// carrying the API's code (API.md, "Errors"), so callers can branch on
// `err.code` instead of parsing messages.

/** The error codes API.md promises; nothing else is ever put in `code`. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'WRITE_CONFLICT'
  | 'KEY_LOCKED'
  | 'TXN_ABORTED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAVAILABLE'
  | 'INTERNAL';

const knownCodes: ReadonlySet<string> = new Set<ErrorCode>([
  'INVALID_ARGUMENT',
  'UNAUTHORIZED',
  'NOT_FOUND',
  'WRITE_CONFLICT',
  'KEY_LOCKED',
  'TXN_ABORTED',
  'PAYLOAD_TOO_LARGE',
  'UNAVAILABLE',
  'INTERNAL',
]);

/** The 409 codes API.md calls safe to retry with a new transaction. */
export const retryableTxnCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['WRITE_CONFLICT', 'KEY_LOCKED', 'TXN_ABORTED']);

export class RegionKVError extends Error {
  override readonly name = 'RegionKVError';
  /** The HTTP status; 0 when no answer arrived (network failure). */
  readonly status: number;
  readonly code: ErrorCode;
  /** The extra fields of the error object, e.g. `key` and `conflictTs` of a WRITE_CONFLICT. */
  readonly details: Readonly<Record<string, unknown>>;
  /** Seconds from a `Retry-After` header (503 UNAVAILABLE), if any. */
  readonly retryAfter: number | undefined;

  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    retryAfter?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }

  /** Whether a new transaction may succeed where this one failed (a 409). */
  get retryable(): boolean {
    return retryableTxnCodes.has(this.code);
  }
}

/** A code for an answer whose body carried none we know (a proxy's HTML page, say). */
function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'INVALID_ARGUMENT';
    case 401:
    case 403:
      return 'UNAUTHORIZED';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'TXN_ABORTED';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 502:
    case 503:
    case 504:
      return 'UNAVAILABLE';
    default:
      return 'INTERNAL';
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Builds the error for a non-2xx answer from its status, parsed body (or text) and Retry-After. */
export function errorFromResponse(status: number, body: unknown, retryAfterHeader: string | null): RegionKVError {
  const retryAfterNumber = retryAfterHeader === null ? Number.NaN : Number(retryAfterHeader);
  const retryAfter = Number.isFinite(retryAfterNumber) ? retryAfterNumber : undefined;
  const error = isRecord(body) ? body.error : undefined;
  if (isRecord(error)) {
    const { code, message, ...details } = error;
    const known = typeof code === 'string' && knownCodes.has(code) ? (code as ErrorCode) : codeForStatus(status);
    const text = typeof message === 'string' ? message : `HTTP ${status}`;
    return new RegionKVError(status, known, text, details, retryAfter);
  }
  const text = typeof body === 'string' && body.length > 0 ? body.slice(0, 200) : `HTTP ${status}`;
  return new RegionKVError(status, codeForStatus(status), text, {}, retryAfter);
}
