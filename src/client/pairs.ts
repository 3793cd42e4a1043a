// Shared parsing of `{"pairs": [...], "more"}` answers and scan bodies.

import { type As, type Data, type Out, type WireEncoding, decodeData, encodeData } from './encoding';
import { asRecord, field, isArray, isBoolean, isString, isStringOrNull } from './http';

export interface Pair<A extends As = 'string'> {
  key: Out<A>;
  value: Out<A>;
}

export interface ScanResult<A extends As = 'string'> {
  pairs: Pair<A>[];
  /** True when the limit cut the range short: scan again from after the last key. */
  more: boolean;
}

export interface ScanOptions<A extends As = 'string'> {
  /** Inclusive start; '' is the start of the key space. */
  start: Data;
  /** Exclusive end; absent or empty means the end of the key space. */
  end?: Data;
  /** 1..10,000; the server's default is 100. */
  limit?: number;
  as?: A;
}

/** The JSON body of a scan, minus what the caller adds (startTs, reverse). */
export function scanBody(options: ScanOptions<As>, encoding: WireEncoding): Record<string, unknown> {
  const body: Record<string, unknown> = { start: encodeData(options.start, encoding) };
  if (options.end !== undefined) body.end = encodeData(options.end, encoding);
  if (options.limit !== undefined) body.limit = options.limit;
  if (encoding === 'base64') body.encoding = 'base64';
  return body;
}

/** Raw wire pairs: values may be null (txn/get of an absent key). */
export function wirePairs(answer: unknown, what: string): { key: string; value: string | null }[] {
  const pairs = field(asRecord(answer, what), 'pairs', isArray, what);
  return pairs.map((item, i) => {
    const pair = asRecord(item, `${what}.pairs[${i}]`);
    return {
      key: field(pair, 'key', isString, `${what}.pairs[${i}]`),
      value: field(pair, 'value', isStringOrNull, `${what}.pairs[${i}]`),
    };
  });
}

export function parseScan<A extends As>(answer: unknown, encoding: WireEncoding, as: A | undefined, what: string): ScanResult<A> {
  const more = field(asRecord(answer, what), 'more', isBoolean, what);
  const pairs = wirePairs(answer, what).map(({ key, value }) => ({
    key: decodeData(key, encoding, as),
    value: decodeData(value ?? '', encoding, as),
  }));
  return { pairs, more };
}
