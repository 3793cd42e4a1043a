// zod schemas shared by the routes. They validate requests and, through
// @hono/zod-openapi, are the OpenAPI document, so the two cannot drift.

import { z } from '@hono/zod-openapi';
import { encodings } from './encoding';
import { ErrorCode, type ErrorStatus } from './errors';

/** The security scheme name every authenticated route refers to. */
export const bearerScheme = 'bearer';
export const bearerSecurity = [{ [bearerScheme]: [] }];

export const EncodingSchema = z.enum(encodings).openapi('Encoding', {
  description: 'How keys and values are written in this request and its answer: UTF-8 text (default) or base64.',
});

export const EncodingQuery = z.object({ encoding: EncodingSchema.optional() });

export const ErrorBodySchema = z
  .object({
    error: z
      .object({
        code: z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]),
        message: z.string().openapi({ description: 'What went wrong, for a person to read.' }),
      })
      .catchall(z.unknown())
      .openapi({ description: 'Codes and statuses as in API.md; some codes add detail fields.' }),
  })
  .openapi('Error');

const errorDescriptions: Record<ErrorStatus, string> = {
  400:
    'INVALID_ARGUMENT: malformed JSON, a missing or ill-typed field, bad base64, an empty key, ' +
    'or an answer that is not UTF-8 (ask with encoding=base64)',
  401: 'UNAUTHORIZED: missing or wrong token, or the deployment has no token set',
  404: 'NOT_FOUND',
  409: 'WRITE_CONFLICT, KEY_LOCKED or TXN_ABORTED; retry with a new transaction',
  413: 'PAYLOAD_TOO_LARGE: a key over 4096 bytes, a value over 1 MiB or a body over 8 MiB',
  500: 'INTERNAL: a bug; the message says what failed',
  503: 'UNAVAILABLE: a region has no reachable leader; retry after the Retry-After header',
};

const jsonError = { 'application/json': { schema: ErrorBodySchema } };

const RetryAfterHeaders = z.object({
  'Retry-After': z.string().openapi({ description: 'Whole seconds to wait before retrying.', example: '1' }),
});

interface ErrorResponse {
  description: string;
  content: typeof jsonError;
  headers?: typeof RetryAfterHeaders;
}

/** The OpenAPI `responses` entries for the given error statuses. */
export function errorResponses<const S extends ErrorStatus>(...statuses: S[]): Record<S, ErrorResponse> {
  const out = {} as Record<S, ErrorResponse>;
  for (const status of statuses) {
    out[status] = { description: errorDescriptions[status], content: jsonError };
    if (status === 503) out[status].headers = RetryAfterHeaders;
  }
  return out;
}

/** A JSON body (request or response) described by `schema`, for createRoute. */
export const json = <T extends z.ZodType>(schema: T) => ({ 'application/json': { schema } });
