// `{key}` travels percent-encoded in the path (API.md). Hono's own parameter
// decoding keeps a malformed escape as literal text, which would quietly
// address another key, so the segment is taken from the URL and decoded here.

import { invalidArgument } from './errors';

/** The last path segment of the request URL, percent-decoded; a bad escape is 400. */
export function pathKeyText(url: string): string {
  const path = new URL(url).pathname;
  const segment = path.slice(path.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidArgument(
      'the key in the path is not valid percent-encoded UTF-8; percent-encode its UTF-8 bytes, ' +
        'or use encoding=base64 for binary keys',
    );
  }
}
