import { describe, expect, it } from 'vitest';
import { parseReplicas, parseStores } from '../../../src/scheduler/stores';

describe('parseStores', () => {
  it('defaults to stores 1-5 without hints', () => {
    for (const text of [undefined, '', '  ']) {
      expect(parseStores(text)).toEqual({
        ok: true,
        value: [1, 2, 3, 4, 5].map((id) => ({ id, locationHint: undefined })),
      });
    }
  });

  it('reads ids with optional location hints', () => {
    expect(parseStores('1:weur, 2:enam,3')).toEqual({
      ok: true,
      value: [
        { id: 1, locationHint: 'weur' },
        { id: 2, locationHint: 'enam' },
        { id: 3, locationHint: undefined },
      ],
    });
  });

  it('refuses bad ids, unknown hints and duplicates, naming the variable', () => {
    for (const text of ['0', '-1', '1.5', 'x', '1,,2', '1:mars', '1:weur:x', '1,2,1']) {
      const parsed = parseStores(text);
      expect(parsed.ok).toBe(false);
      expect(!parsed.ok && parsed.message).toMatch(/^STORES/);
    }
  });
});

describe('parseReplicas', () => {
  it('defaults to 3 and accepts up to one per store', () => {
    expect(parseReplicas(undefined, 5)).toEqual({ ok: true, value: 3 });
    expect(parseReplicas('5', 5)).toEqual({ ok: true, value: 5 });
  });

  it('refuses non-positive values and more replicas than stores', () => {
    expect(parseReplicas('0', 5).ok).toBe(false);
    expect(parseReplicas('two', 5).ok).toBe(false);
    expect(parseReplicas('4', 3).ok).toBe(false);
  });
});
