// What the transactional routes (kv.ts, txn.ts) share: the store (absent
// until the worker's regions run Percolator commands), the request encoding
// remembered for error details, and timestamps as decimal strings.

import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { tsMax } from '../../percolator';
import type { AppEnv } from '../app-env';
import { type Encoding, resolveEncoding } from '../encoding';
import { invalidArgument, UnavailableError } from '../errors';
import type { TxnStore } from '../txn-store';

/** How long a client should wait when transactions are not wired at all: this is not a blip. */
const notWiredRetryAfterSeconds = 30;

export function txnStore(c: Context<AppEnv>): TxnStore {
  const txn = c.var.services.txn;
  if (txn === undefined) {
    throw new UnavailableError(
      'the transactional key space is not available on this deployment yet (transactions are not wired to the regions); ' +
        'the raw key space (/v1/raw) works',
      notWiredRetryAfterSeconds,
    );
  }
  return txn;
}

/** resolveEncoding, remembered on the context so that a 409's `key` detail uses it too. */
export function useEncoding(c: Context<AppEnv>, fromBody: Encoding | undefined, fromQuery: Encoding | undefined): Encoding {
  const encoding = resolveEncoding(fromBody, fromQuery);
  c.set('encoding', encoding);
  return encoding;
}

export const TimestampSchema = z.string().openapi({
  description: 'A timestamp: an unsigned 64-bit integer written as a decimal string.',
  example: '449570157674086401',
});

const decimal = /^[0-9]{1,20}$/;

/** A timestamp from the wire; anything but a decimal u64 is 400. */
export function parseTimestamp(text: string, field: string): bigint {
  if (decimal.test(text)) {
    const ts = BigInt(text);
    if (ts <= tsMax) return ts;
  }
  throw invalidArgument(`"${field}" must be an unsigned 64-bit integer written as a decimal string, e.g. "42"`, { field });
}

/** A timestamp for the wire. */
export function formatTimestamp(ts: bigint): string {
  return ts.toString();
}
