// Bearer-token auth (API.md, Conventions). Data routes take API_TOKEN,
// /v1/admin/* takes ADMIN_TOKEN only. A deployment without the token a route
// needs refuses every request to it, saying what to set: failing open would
// publish the whole store.

import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './app-env';
import { unauthorized } from './errors';

export type TokenRole = 'api' | 'admin';

export function requireToken(role: TokenRole) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const expected = role === 'admin' ? c.env.ADMIN_TOKEN : c.env.API_TOKEN;
    const secretName = role === 'admin' ? 'ADMIN_TOKEN' : 'API_TOKEN';
    if (expected === undefined || expected === '') {
      throw unauthorized(
        `this deployment has no ${secretName} set, so it refuses every request here; ` +
          `set one with \`wrangler secret put ${secretName}\``,
      );
    }
    const presented = bearerToken(c.req.header('authorization'));
    if (presented === undefined) {
      throw unauthorized('missing bearer token: send the header `Authorization: Bearer <token>`');
    }
    if (await tokensEqual(presented, expected)) {
      await next();
      return;
    }
    const apiToken = c.env.API_TOKEN;
    if (role === 'admin' && apiToken !== undefined && apiToken !== '' && (await tokensEqual(presented, apiToken))) {
      throw unauthorized('admin routes need the admin token (ADMIN_TOKEN); the API token is refused here');
    }
    throw unauthorized('the bearer token is not valid');
  });
}

/** The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive (RFC 7235). */
function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

/**
 * Compares two tokens without leaking through timing how much of a guess was
 * right: both are hashed to fixed-length digests, which are compared in full.
 */
async function tokensEqual(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder();
  const [da, db] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(a)),
    crypto.subtle.digest('SHA-256', encoder.encode(b)),
  ]);
  const x = new Uint8Array(da);
  const y = new Uint8Array(db);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}
