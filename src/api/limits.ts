// The request limits of API.md in one place, units last in each name.

export const limits = {
  /** A key is 1..keyBytesMax bytes; bigger is 413, empty is 400. */
  keyBytesMax: 4096,
  /** A stored value is at most 1 MiB. */
  valueBytesMax: 1024 * 1024,
  /** A whole request body, checked on Content-Length and on the bytes read. */
  bodyBytesMax: 8 * 1024 * 1024,
  /** Scan `limit` is 1..scanLimitMax pairs. */
  scanLimitMax: 10_000,
  scanLimitDefault: 100,
  /** Keys of one txn get, or mutations of one commit; more is 413. */
  keysPerRequestMax: 10_000,
} as const;
