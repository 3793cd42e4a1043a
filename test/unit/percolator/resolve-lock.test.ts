import { describe, expect, it } from 'vitest';
import type { ResolveLock } from '../../../src/percolator/commands';
import { utf8 } from '../../../src/util/bytes';
import { TxnHarness, del, k, put } from './harness';

const all = { start: new Uint8Array(0), end: new Uint8Array(0) };
const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${String(i).padStart(3, '0')}`);

function resolve(h: TxnHarness, startTs: bigint, commitTs: bigint, scope: ResolveLock['scope'] = all, limit = 1000) {
  return h.apply({ type: 'ResolveLock', startTs, commitTs, scope, limit });
}

describe('resolveLock', () => {
  it('with no locks resolves nothing', () => {
    const h = new TxnHarness();
    expect(resolve(h, 10n, 12n)).toEqual({ type: 'Resolved', resolved: 0, more: false });
    expect(h.dump()).toBe(new TxnHarness().dump());
  });

  it('commits every lock of the txn across many keys', () => {
    const h = new TxnHarness();
    const names = keys(50);
    h.prewrite(names.map((n) => put(n, `v${n}`)), 10n);
    expect(resolve(h, 10n, 12n)).toEqual({ type: 'Resolved', resolved: 50, more: false });
    expect(h.rows('lock')).toHaveLength(0);
    for (const n of names) expect(h.get(n, 12n)).toBe(`v${n}`);
  });

  it('rolls back every lock of the txn across many keys', () => {
    const h = new TxnHarness();
    const names = keys(50);
    h.prewrite(names.map((n) => put(n, 'v')), 10n);
    expect(resolve(h, 10n, 0n)).toEqual({ type: 'Resolved', resolved: 50, more: false });
    expect(h.rows('lock')).toHaveLength(0);
    expect(h.rows('default')).toHaveLength(0);
    for (const n of names) expect(h.writes(n)).toEqual([[10n, { startTs: 10n, kind: 'rollback' }]]);
  });

  it('leaves other txns’ locks alone', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1'), put('c', '3')], 10n);
    h.prewrite([put('b', '2'), put('d', '4')], 11n);
    expect(resolve(h, 10n, 12n)).toMatchObject({ resolved: 2 });
    expect(h.lock('b')?.startTs).toBe(11n);
    expect(h.lock('d')?.startTs).toBe(11n);
    expect(resolve(h, 11n, 0n)).toMatchObject({ resolved: 2 });
    expect(h.rows('lock')).toHaveLength(0);
  });

  it('stays within its range', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1'), put('b', '2'), put('c', '3')], 10n);
    expect(resolve(h, 10n, 12n, { start: utf8('b'), end: utf8('c') })).toMatchObject({ resolved: 1 });
    expect(h.lock('a')).toBeDefined();
    expect(h.lock('b')).toBeUndefined();
    expect(h.lock('c')).toBeDefined();
  });

  it('resolves a key list, skipping keys it does not hold', () => {
    const h = new TxnHarness();
    h.prewrite([put('a', '1'), del('b'), put('c', '3')], 10n);
    h.prewrite([put('x', 'other')], 11n);
    const out = resolve(h, 10n, 12n, { keys: [k('a'), k('b'), k('x'), k('nope'), k('a')] });
    expect(out).toEqual({ type: 'Resolved', resolved: 2, more: false });
    expect(h.lock('c')).toBeDefined();
    expect(h.lock('x')?.startTs).toBe(11n);
  });

  it('is bounded by limit and resumes where it stopped', () => {
    const h = new TxnHarness();
    const names = keys(10);
    h.prewrite(names.filter((_, i) => i % 2 === 0).map((n) => put(n, 'v')), 10n);
    h.prewrite(names.filter((_, i) => i % 2 === 1).map((n) => put(n, 'w')), 11n);
    let scope: ResolveLock['scope'] = all;
    let total = 0;
    let calls = 0;
    for (; calls < 20; calls++) {
      const out = resolve(h, 10n, 12n, scope, 3);
      if (out.type !== 'Resolved') throw new Error(out.type);
      total += out.resolved;
      if (!out.more) break;
      expect(out.resumeKey).toBeDefined();
      scope = { start: out.resumeKey!, end: new Uint8Array(0) };
    }
    expect(total).toBe(5);
    expect(calls).toBe(3); // 10 rows at 3 per call: the 4th call finds 1 row and ends
    expect(h.rows('lock')).toHaveLength(5);
  });

  it('commit where the key is already committed (written) does nothing', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', '1')], 10n, 12n);
    const before = h.dump();
    expect(resolve(h, 10n, 12n)).toEqual({ type: 'Resolved', resolved: 0, more: false });
    expect(resolve(h, 10n, 12n, { keys: [k('a')] })).toEqual({ type: 'Resolved', resolved: 0, more: false });
    expect(h.dump()).toBe(before);
  });

  it('rollback where the key is already committed does nothing (no lock to resolve)', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', '1')], 10n, 12n);
    const before = h.dump();
    expect(resolve(h, 10n, 0n)).toMatchObject({ resolved: 0 });
    expect(h.dump()).toBe(before);
  });

  it('a secondary whose minCommitTs is above commitTs refuses, and nothing is written', () => {
    const h = new TxnHarness();
    h.apply({ type: 'Prewrite', mutations: [put('a', '1'), put('b', '2')], primary: k('a'), startTs: 10n, lockTtl: 5, minCommitTs: 20n });
    const before = h.dump();
    expect(resolve(h, 10n, 15n)).toEqual({ type: 'CommitTsExpired', key: k('a'), commitTs: 15n, minCommitTs: 20n });
    expect(h.dump()).toBe(before);
  });

  it('rejects a commitTs that is not after startTs', () => {
    const h = new TxnHarness();
    expect(resolve(h, 10n, 10n).type).toBe('Invalid');
    expect(resolve(h, 10n, 5n).type).toBe('Invalid');
  });

  it('a reader’s resolution of a dead txn: primary rolled back, secondaries follow', () => {
    const h = new TxnHarness();
    h.commitTxn([put('s', 'old')], 1n, 2n);
    h.prewrite([put('p', 'new'), put('s', 'new')], 10n, k('p'), 0);
    expect(h.read({ type: 'TxnGet', key: k('s'), ts: 20n }).type).toBe('KeyLocked');
    const st = h.apply({ type: 'CheckTxnStatus', primary: k('p'), lockTs: 10n, currentTs: 20n });
    expect(st.type).toBe('RolledBack');
    resolve(h, 10n, 0n, { keys: [k('s')] });
    expect(h.get('s', 20n)).toBe('old');
  });

  it('a reader’s resolution of a committed txn: secondaries roll forward', () => {
    const h = new TxnHarness();
    h.prewrite([put('p', 'new'), put('s', 'new')], 10n, k('p'), 0);
    h.commit(['p'], 10n, 11n);
    expect(h.read({ type: 'TxnGet', key: k('s'), ts: 20n }).type).toBe('KeyLocked');
    const st = h.apply({ type: 'CheckTxnStatus', primary: k('p'), lockTs: 10n, currentTs: 20n });
    expect(st).toEqual({ type: 'Committed', commitTs: 11n });
    resolve(h, 10n, 11n, { keys: [k('s')] });
    expect(h.get('s', 20n)).toBe('new');
    expect(h.get('s', 10n)).toBeUndefined();
  });
});
