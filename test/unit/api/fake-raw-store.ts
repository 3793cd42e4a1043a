// An in-memory RawStore for the HTTP tests: a Map keyed by the bytes, sorted
// by memcmp on scan, with a switch to make every call fail.

import type { RawStore } from '../../../src/api/services';
import { bytesKey, compareBytes } from '../../../src/util/bytes';

export class FakeRawStore implements RawStore {
  private readonly entries = new Map<string, { key: Uint8Array; value: Uint8Array }>();
  /** When set, every call throws it (to test how the edge maps store failures). */
  failWith: Error | undefined;
  /** Every call's method name, in order. */
  readonly calls: string[] = [];

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.enter('get');
    return this.entries.get(bytesKey(key))?.value;
  }

  async put(key: Uint8Array, value: Uint8Array): Promise<void> {
    this.enter('put');
    this.entries.set(bytesKey(key), { key: key.slice(), value: value.slice() });
  }

  async delete(key: Uint8Array): Promise<void> {
    this.enter('delete');
    this.entries.delete(bytesKey(key));
  }

  async scan(start: Uint8Array, end: Uint8Array, limit: number) {
    this.enter('scan');
    const inRange = [...this.entries.values()]
      .filter((e) => compareBytes(e.key, start) >= 0 && (end.length === 0 || compareBytes(e.key, end) < 0))
      .sort((a, b) => compareBytes(a.key, b.key));
    return { pairs: inRange.slice(0, limit), more: inRange.length > limit };
  }

  /** The stored value, for assertions that bypass the HTTP layer. */
  peek(key: Uint8Array): Uint8Array | undefined {
    return this.entries.get(bytesKey(key))?.value;
  }

  private enter(method: string): void {
    this.calls.push(method);
    if (this.failWith !== undefined) throw this.failWith;
  }
}
