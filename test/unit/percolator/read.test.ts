import { describe, expect, it } from 'vitest';
import type { TxnScan } from '../../../src/percolator/commands';
import { defaultMvccLimits } from '../../../src/percolator/mvcc-store';
import { fromUtf8, utf8 } from '../../../src/util/bytes';
import { TxnHarness, del, k, lockOnly, prng, put } from './harness';

const none: Uint8Array = new Uint8Array(0);

function scan(h: TxnHarness, ts: bigint, opts: Partial<TxnScan> = {}) {
  const out = h.read({ type: 'TxnScan', start: none, end: none, limit: 100, ts, ...opts });
  if (out.type !== 'Pairs') return out;
  return { ...out, pairs: out.pairs.map((p) => [fromUtf8(p.key), fromUtf8(p.value)]) };
}

describe('get', () => {
  it('on an empty store, and on a key that was never written', () => {
    const h = new TxnHarness();
    expect(h.read({ type: 'TxnGet', key: k('a'), ts: 100n })).toEqual({ type: 'Value', value: undefined });
    h.commitTxn([put('b', '1')], 1n, 2n);
    expect(h.get('a', 100n)).toBeUndefined();
    expect(h.get('c', 100n)).toBeUndefined();
  });

  it('sees the version of its snapshot among many', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'v1')], 1n, 2n);
    h.commitTxn([put('a', 'v2')], 3n, 4n);
    h.commitTxn([del('a')], 5n, 6n);
    h.commitTxn([put('a', 'v3')], 7n, 8n);
    expect([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n].map((ts) => h.get('a', ts))).toEqual([
      undefined, 'v1', 'v1', 'v2', 'v2', undefined, undefined, 'v3', 'v3',
    ]);
  });

  it('skips rollback and lock records', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'v1')], 1n, 2n);
    h.commitTxn([lockOnly('a')], 3n, 4n);
    h.rollback(['a'], 5n);
    expect(h.get('a', 6n)).toBe('v1');
  });

  it('a lock with startTs <= ts blocks; a later one does not', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'v1')], 1n, 2n);
    h.prewrite([put('a', 'v2')], 10n, k('p'));
    expect(h.read({ type: 'TxnGet', key: k('a'), ts: 10n })).toEqual({
      type: 'KeyLocked',
      key: k('a'),
      lock: { primary: k('p'), startTs: 10n, ttl: 3000, kind: 'put' },
    });
    expect(h.read({ type: 'TxnGet', key: k('a'), ts: 11n }).type).toBe('KeyLocked');
    expect(h.get('a', 9n)).toBe('v1');
  });

  it('a delete lock blocks too; a lock-kind lock does not', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'v1'), put('b', 'w1')], 1n, 2n);
    h.prewrite([del('a'), lockOnly('b')], 10n);
    expect(h.read({ type: 'TxnGet', key: k('a'), ts: 11n }).type).toBe('KeyLocked');
    expect(h.get('b', 11n)).toBe('w1');
  });

  it('ignores locks the reader bypasses and locks whose minCommitTs is above ts', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'v1'), put('b', 'w1')], 1n, 2n);
    h.prewrite([put('a', 'v2')], 10n);
    h.apply({ type: 'Prewrite', mutations: [put('b', 'w2')], primary: k('b'), startTs: 11n, lockTtl: 5, minCommitTs: 21n });
    expect(h.read({ type: 'TxnGet', key: k('a'), ts: 20n, bypassLocks: [10n] })).toEqual({ type: 'Value', value: utf8('v1') });
    expect(h.read({ type: 'TxnGet', key: k('a'), ts: 20n, bypassLocks: [9n] }).type).toBe('KeyLocked');
    expect(h.get('b', 20n)).toBe('w1');
    expect(h.read({ type: 'TxnGet', key: k('b'), ts: 21n }).type).toBe('KeyLocked');
  });

  it('refuses an invalid request', () => {
    const h = new TxnHarness();
    expect(h.read({ type: 'TxnGet', key: none, ts: 1n }).type).toBe('Invalid');
    expect(h.read({ type: 'TxnGet', key: k('a'), ts: -1n }).type).toBe('Invalid');
  });
});

describe('scan', () => {
  function abc(): TxnHarness {
    const h = new TxnHarness();
    h.commitTxn([put('a', '1'), put('b', '2'), put('c', '3'), put('d', '4'), put('e', '5')], 1n, 2n);
    return h;
  }

  it('on an empty store', () => {
    expect(scan(new TxnHarness(), 10n)).toEqual({ type: 'Pairs', pairs: [], more: false });
  });

  it('with limit zero returns nothing and says there is more', () => {
    expect(scan(abc(), 10n, { limit: 0 })).toEqual({ type: 'Pairs', pairs: [], more: true, resumeKey: k('a') });
    expect(scan(new TxnHarness(), 10n, { limit: 0 })).toEqual({ type: 'Pairs', pairs: [], more: false });
  });

  it('everything, a single key, and within [start, end)', () => {
    const h = abc();
    expect(scan(h, 10n)).toMatchObject({ pairs: [['a', '1'], ['b', '2'], ['c', '3'], ['d', '4'], ['e', '5']], more: false });
    expect(scan(h, 1n)).toMatchObject({ pairs: [], more: false });
    expect(scan(h, 10n, { start: k('b'), end: k('d') })).toMatchObject({ pairs: [['b', '2'], ['c', '3']], more: false });
    expect(scan(h, 10n, { start: k('bb') })).toMatchObject({ pairs: [['c', '3'], ['d', '4'], ['e', '5']] });
    expect(scan(h, 10n, { start: k('c'), end: k('c') })).toMatchObject({ pairs: [], more: false });
    expect(scan(h, 10n, { start: k('d'), end: k('b') })).toMatchObject({ pairs: [], more: false });
  });

  it('limited, then resumed from resumeKey', () => {
    const h = abc();
    const first = scan(h, 10n, { limit: 2 });
    expect(first).toEqual({ type: 'Pairs', pairs: [['a', '1'], ['b', '2']], more: true, resumeKey: k('c') });
    const second = scan(h, 10n, { limit: 2, start: k('c') });
    expect(second).toMatchObject({ pairs: [['c', '3'], ['d', '4']], more: true });
    expect(scan(h, 10n, { limit: 2, start: k('e') })).toMatchObject({ pairs: [['e', '5']], more: false });
  });

  it('skips deleted and rolled-back keys and sees each key at its snapshot', () => {
    const h = abc();
    h.commitTxn([del('b'), put('c', '33')], 3n, 4n);
    h.prewrite([put('d', 'x')], 5n);
    h.rollback(['d'], 5n);
    h.rollback(['zz'], 6n);
    expect(scan(h, 3n)).toMatchObject({ pairs: [['a', '1'], ['b', '2'], ['c', '3'], ['d', '4'], ['e', '5']] });
    expect(scan(h, 10n)).toMatchObject({ pairs: [['a', '1'], ['c', '33'], ['d', '4'], ['e', '5']], more: false });
  });

  it('a lock in range blocks (even on a key with no committed version); one after ts does not', () => {
    const h = abc();
    h.prewrite([put('cc', 'new')], 5n);
    expect(scan(h, 10n)).toMatchObject({ type: 'KeyLocked', key: k('cc') });
    expect(scan(h, 10n, { end: k('cc') })).toMatchObject({ type: 'Pairs', pairs: [['a', '1'], ['b', '2'], ['c', '3']] });
    expect(scan(h, 4n)).toMatchObject({ type: 'Pairs', pairs: [['a', '1'], ['b', '2'], ['c', '3'], ['d', '4'], ['e', '5']] });
    h.prewrite([lockOnly('b')], 6n);
    expect(scan(h, 10n, { end: k('cc') })).toMatchObject({ type: 'Pairs' });
  });

  it('a lock beyond the limit does not block', () => {
    const h = abc();
    h.prewrite([put('e', 'x')], 5n);
    expect(scan(h, 10n, { limit: 2 })).toMatchObject({ type: 'Pairs', pairs: [['a', '1'], ['b', '2']], more: true });
  });

  it('reverse: newest keys first, from end down to start, limited and resumed', () => {
    const h = abc();
    expect(scan(h, 10n, { reverse: true })).toMatchObject({ pairs: [['e', '5'], ['d', '4'], ['c', '3'], ['b', '2'], ['a', '1']], more: false });
    expect(scan(h, 10n, { reverse: true, start: k('b'), end: k('d') })).toMatchObject({ pairs: [['c', '3'], ['b', '2']], more: false });
    const first = scan(h, 10n, { reverse: true, limit: 2 });
    expect(first).toEqual({ type: 'Pairs', pairs: [['e', '5'], ['d', '4']], more: true, resumeKey: utf8('c\0') });
    expect(scan(h, 10n, { reverse: true, limit: 2, end: utf8('c\0') })).toMatchObject({ pairs: [['c', '3'], ['b', '2']], more: true });
  });

  it('reverse skips deletes and is blocked by locks', () => {
    const h = abc();
    h.commitTxn([del('d')], 3n, 4n);
    expect(scan(h, 10n, { reverse: true })).toMatchObject({ pairs: [['e', '5'], ['c', '3'], ['b', '2'], ['a', '1']] });
    h.prewrite([put('bb', 'x')], 5n);
    expect(scan(h, 10n, { reverse: true })).toMatchObject({ type: 'KeyLocked', key: k('bb') });
  });

  it('gives up after examining too many keys and says where to go on', () => {
    const h = new TxnHarness({ ...defaultMvccLimits, scanKeysExaminedMax: 3 });
    h.commitTxn([put('a', '1'), put('b', '2'), put('c', '3'), put('d', '4'), put('e', '5')], 1n, 2n);
    h.commitTxn([del('a'), del('b'), del('c')], 3n, 4n);
    expect(scan(h, 10n)).toEqual({ type: 'Pairs', pairs: [], more: true, resumeKey: utf8('c\0') });
    expect(scan(h, 10n, { start: utf8('c\0') })).toMatchObject({ pairs: [['d', '4'], ['e', '5']], more: false });
    expect(scan(h, 10n, { reverse: true })).toEqual({ type: 'Pairs', pairs: [['e', '5'], ['d', '4']], more: true, resumeKey: k('c') });
  });

  it('refuses an invalid request', () => {
    const h = new TxnHarness();
    expect(h.read({ type: 'TxnScan', start: none, end: none, limit: -1, ts: 1n }).type).toBe('Invalid');
  });
});

describe('reads against a model', () => {
  it('get and scan (both ways) at every ts agree with a map of committed versions', () => {
    const rand = prng(11);
    const h = new TxnHarness({ ...defaultMvccLimits, versionPageRows: 3 });
    const names = ['a', 'ab', 'abc', 'b', 'b\0', 'c', 'cafebabe1', 'cafebabe12'];
    // history[ts] = snapshot of the map after the txn committed at ts.
    const history: Map<string, string>[] = [new Map()];
    let ts = 1n;
    for (let i = 0; i < 60; i++) {
      const startTs = ts++;
      const commitTs = ts++;
      const prev = history[history.length - 1]!;
      const next = new Map(prev);
      const chosen = names.filter(() => rand() < 0.3);
      if (chosen.length === 0) continue;
      const mutations = chosen.map((n) => {
        const r = rand();
        if (r < 0.3) {
          next.delete(n);
          return del(n);
        }
        if (r < 0.4) return lockOnly(n);
        const v = `${n}@${startTs}`;
        next.set(n, v);
        return put(n, v);
      });
      if (rand() < 0.2) {
        // An aborted txn leaves nothing visible.
        h.prewrite(mutations, startTs);
        h.rollback(chosen, startTs);
        continue;
      }
      h.commitTxn(mutations, startTs, commitTs);
      while (BigInt(history.length) <= commitTs) history.push(prev);
      history[Number(commitTs)] = next;
    }
    for (let t = 0; t < history.length + 2; t++) {
      const model = history[Math.min(t, history.length - 1)]!;
      for (const n of names) expect(h.get(n, BigInt(t))).toBe(model.get(n));
      const sorted = [...model.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1));
      expect(scan(h, BigInt(t))).toMatchObject({ pairs: sorted, more: false });
      expect(scan(h, BigInt(t), { reverse: true })).toMatchObject({ pairs: [...sorted].reverse(), more: false });
      const paged: [string, string][] = [];
      let start = none;
      for (let page = 0; page < 20; page++) {
        const out = h.read({ type: 'TxnScan', start, end: none, limit: 2, ts: BigInt(t) });
        if (out.type !== 'Pairs') throw new Error(out.type);
        for (const p of out.pairs) paged.push([fromUtf8(p.key), fromUtf8(p.value)]);
        if (!out.more) break;
        start = out.resumeKey!;
      }
      expect(paged).toEqual(sorted);
    }
  });
});
