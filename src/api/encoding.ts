// Keys and values cross the wire as strings: UTF-8 text by default, base64
// when the request asks for it (API.md, Conventions). These helpers turn them
// into bytes with the limits applied, and back.

import { fromBase64, toBase64 } from '../util/base64';
import { fromUtf8, utf8 } from '../util/bytes';
import { invalidArgument, payloadTooLarge } from './errors';
import { limits } from './limits';

export const encodings = ['utf8', 'base64'] as const;
export type Encoding = (typeof encodings)[number];

// In a `u` regex a surrogate pair is one code point, so this matches only a
// lone surrogate, which TextEncoder would silently turn into U+FFFD.
const loneSurrogate = /[\uD800-\uDFFF]/u;

/**
 * The encoding a request asked for. A body route may carry it in the body and
 * the query; both are honoured, but they must agree, since reading a key in
 * the wrong encoding would address a different key.
 */
export function resolveEncoding(fromBody: Encoding | undefined, fromQuery: Encoding | undefined): Encoding {
  if (fromBody !== undefined && fromQuery !== undefined && fromBody !== fromQuery) {
    throw invalidArgument(`the body asks for encoding "${fromBody}" but the query for "${fromQuery}"; use one`);
  }
  return fromBody ?? fromQuery ?? 'utf8';
}

/** The bytes a wire string stands for; `field` names it in error messages. */
export function decodeBytes(text: string, encoding: Encoding, field: string): Uint8Array {
  if (encoding === 'base64') {
    const bytes = fromBase64(text);
    if (bytes === undefined) {
      throw invalidArgument(`"${field}" is not valid base64 (standard alphabet, with padding)`, { field });
    }
    return bytes;
  }
  if (loneSurrogate.test(text)) {
    throw invalidArgument(`"${field}" is not valid Unicode (it holds a lone surrogate)`, { field });
  }
  return utf8(text);
}

/** A key: 1..keyBytesMax bytes. */
export function decodeKey(text: string, encoding: Encoding, field = 'key'): Uint8Array {
  const key = decodeBytes(text, encoding, field);
  if (key.length === 0) throw invalidArgument(`"${field}" must not be empty`, { field });
  checkBoundSize(key, field);
  return key;
}

/**
 * A scan bound: like a key, but empty is allowed (the start, or the end, of
 * the key space). The size limit still holds, as no stored key is longer.
 */
export function decodeBound(text: string, encoding: Encoding, field: string): Uint8Array {
  const bound = decodeBytes(text, encoding, field);
  checkBoundSize(bound, field);
  return bound;
}

function checkBoundSize(bytes: Uint8Array, field: string): void {
  if (bytes.length > limits.keyBytesMax) {
    throw payloadTooLarge(`"${field}" is ${bytes.length} bytes; a key is at most ${limits.keyBytesMax} bytes`, {
      field,
      limitBytes: limits.keyBytesMax,
    });
  }
}

/** A value: at most valueBytesMax bytes. */
export function decodeValue(text: string, encoding: Encoding, field = 'value'): Uint8Array {
  const value = decodeBytes(text, encoding, field);
  if (value.length > limits.valueBytesMax) {
    throw payloadTooLarge(`"${field}" is ${value.length} bytes; a value is at most ${limits.valueBytesMax} bytes`, {
      field,
      limitBytes: limits.valueBytesMax,
    });
  }
  return value;
}

/**
 * The wire string for stored bytes. In UTF-8 mode bytes that are not UTF-8
 * cannot be written as a JSON string without loss, so the answer is a 400
 * that tells the client how to ask instead.
 */
export function encodeBytes(bytes: Uint8Array, encoding: Encoding, field: string): string {
  if (encoding === 'base64') return toBase64(bytes);
  try {
    return fromUtf8(bytes);
  } catch {
    throw invalidArgument(`the stored ${field} is not valid UTF-8; ask again with encoding=base64`, { field });
  }
}
