// Keys and values as the SDK takes and gives them (strings or bytes), and as
// the wire carries them (UTF-8 text, or base64 when `encoding: "base64"`).
// Only web-platform globals (TextEncoder, btoa, atob) so it runs in Workers,
// browsers and Node alike.

import { RegionKVError } from './errors';

export type Bytes = Uint8Array;
/** A key or value given to the SDK: text (sent as UTF-8) or raw bytes. */
export type Data = string | Uint8Array;
export type WireEncoding = 'utf8' | 'base64';

/** What reads give back: strings by default, bytes with `{ as: 'bytes' }`. */
export type As = 'string' | 'bytes';
export interface ReadOptions<A extends As = As> {
  as?: A;
}
export type Out<A extends As> = A extends 'bytes' ? Uint8Array : string;

const encoder = new TextEncoder();
// fatal: a value that is not UTF-8 must not silently turn into U+FFFD;
// ignoreBOM: a leading U+FEFF is part of the value, keep it.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function toBytes(data: Data): Uint8Array {
  return typeof data === 'string' ? encoder.encode(data) : data;
}

/**
 * Whether a string survives UTF-8 unchanged: a lone surrogate does not
 * (TextEncoder writes U+FFFD for it), so such strings go as base64 of what
 * the caller would get back anyway, and the choice is at least explicit.
 */
function isWellFormed(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/**
 * The wire encoding of a request: base64 as soon as one input is bytes or
 * the caller wants bytes back (the answer may then hold non-UTF-8 data, which
 * the server refuses to write as text), else UTF-8 so requests stay readable.
 */
export function chooseEncoding(inputs: readonly Data[], as: As | undefined): WireEncoding {
  if (as === 'bytes') return 'base64';
  for (const input of inputs) {
    if (typeof input !== 'string' || !isWellFormed(input)) return 'base64';
  }
  return 'utf8';
}

export function bytesToBase64(bytes: Uint8Array): string {
  // btoa takes a "binary string"; build it in chunks to stay clear of the
  // argument limit of String.fromCharCode on large values (1 MiB).
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Bytes as text. Data that is not UTF-8 fails the way the server fails a
 * UTF-8 answer it cannot write (400 INVALID_ARGUMENT), so callers handle one
 * error whichever side noticed.
 */
export function utf8Decode(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch (err) {
    throw new RegionKVError(400, 'INVALID_ARGUMENT', "the data is not valid UTF-8; read it with { as: 'bytes' }", {}, undefined, { cause: err });
  }
}

/** An SDK input as the wire carries it. */
export function encodeData(data: Data, encoding: WireEncoding): string {
  if (encoding === 'utf8') return typeof data === 'string' ? data : utf8Decode(data);
  return bytesToBase64(toBytes(data));
}

/** A wire string as bytes. */
export function decodeToBytes(text: string, encoding: WireEncoding): Uint8Array {
  return encoding === 'base64' ? base64ToBytes(text) : encoder.encode(text);
}

/** A wire string as the caller asked for it. */
export function decodeData<A extends As>(text: string, encoding: WireEncoding, as: A | undefined): Out<A> {
  if (as === 'bytes') return decodeToBytes(text, encoding) as Out<A>;
  return (encoding === 'base64' ? utf8Decode(base64ToBytes(text)) : text) as Out<A>;
}

/** memcmp order, the order of keys in the store. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** A Map key for bytes (a "binary string": one char per byte, so equal bytes give equal strings). */
export function bytesId(bytes: Uint8Array): string {
  let id = '';
  for (const b of bytes) id += String.fromCharCode(b);
  return id;
}

/** Percent-encodes a key for a path segment (`/v1/kv/{key}`), UTF-8 only. */
export function pathKey(key: string): string {
  return encodeURIComponent(key);
}
