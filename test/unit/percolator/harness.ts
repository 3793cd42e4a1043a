// A region's storage with Percolator commands run the way a peer runs them:
// writes inside storage.write (reads through the storage, which sees the
// batch), reads straight from the storage.

import { expect } from 'vitest';
import type {
  Mutation,
  TxnCommand,
  TxnCommandOutcomes,
  TxnRead,
  TxnReadOutcomes,
} from '../../../src/percolator/commands';
import { applyTxnCommand, readTxn } from '../../../src/percolator/execute';
import { decodeKey, encodeKey } from '../../../src/percolator/key-codec';
import { type MvccLimits, defaultMvccLimits } from '../../../src/percolator/mvcc-store';
import { type Lock, type Write, decodeLock, decodeWrite } from '../../../src/percolator/records';
import { MemoryPeerStorage } from '../../../src/store/memory-peer-storage';
import type { ColumnFamily } from '../../../src/store/peer-storage';
import { fromUtf8, utf8 } from '../../../src/util/bytes';

export const k = utf8;

export function put(key: string, value: string): Mutation {
  return { op: 'put', key: utf8(key), value: utf8(value) };
}

export function del(key: string): Mutation {
  return { op: 'delete', key: utf8(key) };
}

export function lockOnly(key: string): Mutation {
  return { op: 'lock', key: utf8(key) };
}

export function assertAbsent(key: string): Mutation {
  return { op: 'assert_not_exists', key: utf8(key) };
}

export class TxnHarness {
  readonly storage = new MemoryPeerStorage();

  constructor(readonly limits: MvccLimits = defaultMvccLimits) {}

  apply<C extends TxnCommand>(cmd: C): TxnCommandOutcomes[C['type']] {
    let outcome: TxnCommandOutcomes[C['type']] | undefined;
    this.storage.write((batch) => {
      outcome = applyTxnCommand(cmd, this.storage, batch, this.limits);
    });
    expect(outcome).toBeDefined();
    return outcome!;
  }

  read<R extends TxnRead>(req: R): TxnReadOutcomes[R['type']] {
    return readTxn(req, this.storage, this.limits);
  }

  // --- shorthands for the common commands ---------------------------------

  prewrite(mutations: Mutation[], startTs: bigint, primary = mutations[0]!.key, lockTtl = 3000) {
    return this.apply({ type: 'Prewrite', mutations, primary, startTs, lockTtl });
  }

  commit(keys: string[], startTs: bigint, commitTs: bigint) {
    return this.apply({ type: 'Commit', keys: keys.map(utf8), startTs, commitTs });
  }

  rollback(keys: string[], startTs: bigint) {
    return this.apply({ type: 'Rollback', keys: keys.map(utf8), startTs });
  }

  /** Prewrites and commits in two phases; expects both to succeed. */
  commitTxn(mutations: Mutation[], startTs: bigint, commitTs: bigint): void {
    expect(this.prewrite(mutations, startTs)).toEqual({ type: 'Prewritten' });
    expect(this.apply({ type: 'Commit', keys: mutations.map((m) => m.key), startTs, commitTs })).toEqual({
      type: 'Committed',
      commitTs,
    });
  }

  /** The value at ts as a string, undefined when absent; fails on anything but a value. */
  get(key: string, ts: bigint): string | undefined {
    const out = this.read({ type: 'TxnGet', key: utf8(key), ts });
    if (out.type !== 'Value') throw new Error(`get ${key}@${ts}: ${out.type}`);
    return out.value === undefined ? undefined : fromUtf8(out.value);
  }

  // --- raw inspection --------------------------------------------------------

  lock(key: string): Lock | undefined {
    const bytes = this.storage.get('lock', utf8(key));
    return bytes === undefined ? undefined : decodeLock(bytes);
  }

  /** Write records of key, newest first, as [ts, record]. */
  writes(key: string): [bigint, Write][] {
    return this.rows('write')
      .map((r) => ({ d: decodeKey(r.key), v: r.value }))
      .filter((r) => fromUtf8(r.d.key) === key)
      .map((r) => [r.d.ts, decodeWrite(r.v)]);
  }

  value(key: string, startTs: bigint): string | undefined {
    const bytes = this.storage.get('default', encodeKey(utf8(key), startTs));
    return bytes === undefined ? undefined : fromUtf8(bytes);
  }

  /** Count of `default` rows of a key. */
  values(key: string): number {
    return this.rows('default').filter((r) => fromUtf8(decodeKey(r.key).key) === key).length;
  }

  rows(cf: ColumnFamily) {
    return this.storage.scan(cf, { start: new Uint8Array(0), end: new Uint8Array(0), limit: 1_000_000 });
  }

  /** Every row of the three column families, to check that a command wrote nothing. */
  dump(): string {
    const cfs: ColumnFamily[] = ['default', 'lock', 'write'];
    return cfs
      .map((cf) => `${cf}:${this.rows(cf).map((r) => `${Array.from(r.key).join('.')}=${Array.from(r.value).join('.')}`).join(',')}`)
      .join('\n');
  }
}

/** A TSO timestamp from physical ms and a logical counter. */
export function tso(physicalMs: number, logical = 0): bigint {
  return (BigInt(physicalMs) << 18n) + BigInt(logical);
}

/** Deterministic PRNG (mulberry32) for property tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
