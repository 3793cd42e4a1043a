import { describe, expect, it } from 'vitest';
import type { GcOutcome } from '../../../src/percolator/commands';
import { utf8 } from '../../../src/util/bytes';
import { TxnHarness, del, lockOnly, prng, put } from './harness';

const none: Uint8Array = new Uint8Array(0);

function gc(h: TxnHarness, safePoint: bigint, limit = 1000, start = none, end = none): GcOutcome {
  return h.apply({ type: 'Gc', safePoint, start, end, limit });
}

/** Runs gc passes until done; returns how many passes it took. */
function gcAll(h: TxnHarness, safePoint: bigint, limit: number): number {
  let start = none;
  for (let pass = 1; pass <= 1000; pass++) {
    const out = gc(h, safePoint, limit, start);
    if (out.type !== 'Collected') throw new Error(out.type);
    if (!out.more) return pass;
    start = out.resumeKey!;
  }
  throw new Error('gc did not finish');
}

describe('gc', () => {
  it('keeps the newest version at or below the safe point and everything above it', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'v1')], 10n, 11n);
    h.commitTxn([put('a', 'v2')], 20n, 21n);
    h.commitTxn([put('a', 'v3')], 30n, 31n);
    expect(gc(h, 25n)).toEqual({ type: 'Collected', deleted: 1, more: false });
    expect(h.writes('a').map(([ts]) => ts)).toEqual([31n, 21n]);
    expect(h.value('a', 10n)).toBeUndefined();
    expect(h.values('a')).toBe(2);
    expect(h.get('a', 25n)).toBe('v2');
    expect(h.get('a', 31n)).toBe('v3');
  });

  it('drops a delete that is the newest version at or below the safe point, with all below it', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'v1')], 10n, 11n);
    h.commitTxn([del('a')], 20n, 21n);
    h.commitTxn([put('b', 'w1')], 10n, 11n);
    expect(gc(h, 25n)).toEqual({ type: 'Collected', deleted: 2, more: false });
    expect(h.writes('a')).toEqual([]);
    expect(h.values('a')).toBe(0);
    expect(h.get('a', 25n)).toBeUndefined();
    expect(h.get('b', 25n)).toBe('w1');
  });

  it('removes rollback and lock records at or below the safe point, keeps newer ones', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', 'v1')], 10n, 11n);
    h.commitTxn([lockOnly('a')], 12n, 13n);
    h.rollback(['a'], 14n);
    h.rollback(['a'], 40n);
    h.rollback(['only-rollbacks'], 5n);
    gc(h, 30n);
    expect(h.writes('a')).toEqual([
      [40n, { startTs: 40n, kind: 'rollback' }],
      [11n, { startTs: 10n, kind: 'put' }],
    ]);
    expect(h.writes('only-rollbacks')).toEqual([]);
    expect(h.get('a', 30n)).toBe('v1');
  });

  it('leaves locks alone and touches nothing outside its range', () => {
    const h = new TxnHarness();
    h.commitTxn([put('a', '1'), put('b', '1'), put('c', '1')], 1n, 2n);
    h.commitTxn([put('a', '2'), put('b', '2'), put('c', '2')], 3n, 4n);
    h.prewrite([put('b', '3')], 5n);
    gc(h, 10n, 1000, utf8('b'), utf8('c'));
    expect(h.writes('a')).toHaveLength(2);
    expect(h.writes('b')).toHaveLength(1);
    expect(h.writes('c')).toHaveLength(2);
    expect(h.lock('b')?.startTs).toBe(5n);
  });

  it('is bounded per call and a delete cut short still hides everything below it', () => {
    const h = new TxnHarness();
    for (let i = 0n; i < 10n; i++) h.commitTxn([put('a', `v${i}`)], 10n + 2n * i, 11n + 2n * i);
    h.commitTxn([del('a')], 40n, 41n);
    h.commitTxn([put('a', 'after')], 50n, 51n);
    let start = none;
    let passes = 0;
    for (; passes < 50; passes++) {
      const out = gc(h, 45n, 2, start);
      if (out.type !== 'Collected') throw new Error(out.type);
      // Between passes, no read at or after the safe point changes.
      expect(h.get('a', 45n)).toBeUndefined();
      expect(h.get('a', 51n)).toBe('after');
      if (!out.more) break;
      start = out.resumeKey!;
    }
    expect(passes).toBeGreaterThan(3);
    expect(h.writes('a').map(([ts]) => ts)).toEqual([51n]);
    expect(h.values('a')).toBe(1);
  });

  it('rejects a limit below 2', () => {
    expect(gc(new TxnHarness(), 10n, 1).type).toBe('Invalid');
  });

  it('against a model: reads at and after the safe point never change, one version at most below it', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const rand = prng(100 + seed);
      const h = new TxnHarness();
      const names = ['a', 'b', 'c', 'dd', 'eeeeeeeee'];
      let ts = 1n;
      for (let i = 0; i < 50; i++) {
        const startTs = ts++;
        const n = names[Math.floor(rand() * names.length)]!;
        const r = rand();
        if (r < 0.15) h.rollback([n], startTs);
        else h.commitTxn([r < 0.35 ? del(n) : r < 0.45 ? lockOnly(n) : put(n, `${n}${startTs}`)], startTs, ts++);
      }
      const safePoint = BigInt(Math.floor(rand() * Number(ts)));
      const snapshot = (): (string | undefined)[] => {
        const out: (string | undefined)[] = [];
        for (let t = safePoint; t <= ts; t++) for (const n of names) out.push(h.get(n, t));
        return out;
      };
      const before = snapshot();
      gcAll(h, safePoint, 2 + Math.floor(rand() * 4));
      expect(snapshot()).toEqual(before);
      for (const n of names) {
        const below = h.writes(n).filter(([t]) => t <= safePoint);
        expect(below.length).toBeLessThanOrEqual(1);
        if (below.length === 1) expect(below[0]![1].kind).toBe('put');
        // Every remaining value belongs to a remaining put record.
        expect(h.values(n)).toBe(h.writes(n).filter(([, w]) => w.kind === 'put').length);
      }
      // A second full pass finds nothing left to do.
      const again = gc(h, safePoint);
      expect(again).toEqual({ type: 'Collected', deleted: 0, more: false });
    }
  });
});
