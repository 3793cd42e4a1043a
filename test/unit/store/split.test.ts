// Region split, without a Raft group: the pure apply rules, the handoff
// record and which rows move, in every column family.

import { describe, expect, it } from 'vitest';
import { encodeKey } from '../../../src/percolator/key-codec';
import { bootstrapPeer } from '../../../src/store/bootstrap';
import { MemoryPeerStorage } from '../../../src/store/memory-peer-storage';
import { initializeFromSeed } from '../../../src/store/peer-seed';
import { type ColumnFamily, columnFamilies, raftInitLogIndex, raftInitLogTerm } from '../../../src/store/peer-storage';
import { cfRange } from '../../../src/store/cf-range';
import type { RegionMeta } from '../../../src/store/region';
import {
  type SplitHandoffHost,
  applySplit,
  execSplit,
  handoffRows,
  runHandoffs,
} from '../../../src/store/split';
import { compareBytes, fromUtf8, utf8 } from '../../../src/util/bytes';

const region: RegionMeta = {
  id: 1,
  startKey: utf8('a'),
  endKey: utf8('m'),
  epoch: { version: 3, confVer: 2 },
  peers: [
    { id: 10, storeId: 1 },
    { id: 11, storeId: 2 },
    { id: 12, storeId: 3 },
  ],
};
const header = { regionId: 1, epoch: { version: 3, confVer: 2 } };
const split = (key: string) => ({ type: 'Split' as const, splitKey: utf8(key), newRegionId: 2, newPeerIds: [20, 21, 22] });

describe('applySplit', () => {
  it('makes two adjacent halves covering the original, both at version + 1', () => {
    const out = applySplit(region, header, split('f'));
    if (!out.ok) throw new Error(JSON.stringify(out.error));
    expect(out.left.startKey).toEqual(region.startKey);
    expect(out.left.endKey).toEqual(utf8('f'));
    expect(out.right.startKey).toEqual(utf8('f'));
    expect(out.right.endKey).toEqual(region.endKey);
    expect(out.left.epoch).toEqual({ version: 4, confVer: 2 });
    expect(out.right.epoch).toEqual({ version: 4, confVer: 2 });
    expect(out.left.id).toBe(1);
    expect(out.left.peers).toEqual(region.peers);
    expect(out.right).toMatchObject({ id: 2, peers: [{ id: 20, storeId: 1 }, { id: 21, storeId: 2 }, { id: 22, storeId: 3 }] });
    // The input is not changed.
    expect(region.endKey).toEqual(utf8('m'));
  });

  it('splits an unbounded region; the right half keeps the empty end key', () => {
    const whole = { ...region, startKey: new Uint8Array(0), endKey: new Uint8Array(0) };
    const out = applySplit(whole, header, split('k'));
    if (!out.ok) throw new Error('refused');
    expect(out.left.endKey).toEqual(utf8('k'));
    expect(out.right.endKey).toEqual(new Uint8Array(0));
  });

  it('refuses a stale version, but not a confVer change (TiKV checks version for splits)', () => {
    const stale = applySplit(region, { regionId: 1, epoch: { version: 2, confVer: 2 } }, split('f'));
    expect(stale.ok === false && stale.error.type).toBe('EpochNotMatch');
    const other = applySplit(region, { regionId: 9, epoch: header.epoch }, split('f'));
    expect(other.ok === false && other.error.type).toBe('RegionNotFound');
    const wrongCount = applySplit(region, header, { ...split('f'), newPeerIds: [20, 21] });
    expect(wrongCount.ok === false && wrongCount.error.type).toBe('EpochNotMatch');
  });

  it('refuses a key at a boundary, outside the region, or empty', () => {
    for (const key of ['a', 'm', 'z', '', '0']) {
      const out = applySplit(region, header, split(key));
      expect(out.ok, `split at "${key}"`).toBe(false);
      expect(out.ok === false && out.error.type).toBe('KeyNotInRegion');
    }
  });
});

describe('split handoff', () => {
  /** User keys around the split key "b", including ones an 8-byte group boundary or a prefix could confuse. */
  const userKeys = ['a', 'a\u0000', 'abcdefghijk', 'az', 'b', 'b\u0000', 'ba', 'bcdefghijklmnop', 'c', 'l'];
  const splitKey = 'b';

  function seeded(): MemoryPeerStorage {
    const storage = new MemoryPeerStorage();
    bootstrapPeer(storage, { id: 10, storeId: 1 }, region);
    storage.write((batch) => {
      for (const k of userKeys) {
        const key = utf8(k);
        batch.put('raw', key, utf8(`raw-${k}`));
        batch.put('lock', key, utf8(`lock-${k}`));
        for (const ts of [5n, 9n]) {
          batch.put('default', encodeKey(key, ts), utf8(`default-${k}-${ts}`));
          batch.put('write', encodeKey(key, ts + 1n), utf8(`write-${k}-${ts}`));
        }
      }
    });
    return storage;
  }

  function values(storage: MemoryPeerStorage, cf: ColumnFamily): string[] {
    return storage.scan(cf, { start: new Uint8Array(0), end: new Uint8Array(0), limit: 1000 }).map((p) => fromUtf8(p.value));
  }

  function applyAt(storage: MemoryPeerStorage): void {
    storage.write((batch) => {
      const out = execSplit(batch, storage.region()!, { id: 10, storeId: 1 }, 7, header, split(splitKey));
      expect(out.ok).toBe(true);
    });
  }

  it('maps a user-key range onto the encoded column families exactly', () => {
    const storage = seeded();
    const right = userKeys.filter((k) => compareBytes(utf8(k), utf8(splitKey)) >= 0);
    for (const cf of columnFamilies) {
      const range = cfRange(cf, utf8(splitKey), new Uint8Array(0));
      const found = storage.scan(cf, { ...range, limit: 1000 });
      const perKey = cf === 'default' || cf === 'write' ? 2 : 1;
      expect(found.length, cf).toBe(right.length * perKey);
      expect(found.map((p) => fromUtf8(p.value).split('-')[1]), cf).toEqual(right.flatMap((k) => Array<string>(perKey).fill(k)));
    }
  });

  it('records the handoff with the region change; the rows move only when the new peer confirms', async () => {
    const storage = seeded();
    applyAt(storage);
    expect(storage.region()!.endKey).toEqual(utf8(splitKey));
    expect(storage.region()!.epoch.version).toBe(4);
    const [handoff] = storage.pendingSplits();
    expect(handoff).toMatchObject({ newPeer: { id: 20, storeId: 1 }, index: 7, right: { id: 2 } });
    const moved = handoffRows(storage, handoff!);
    const rightKeys = userKeys.filter((k) => compareBytes(utf8(k), utf8(splitKey)) >= 0);
    expect(moved).toHaveLength(rightKeys.length * 6);

    // The new peer's object, on the same store.
    const target = new MemoryPeerStorage();
    let failFirst = true;
    const reports: RegionMeta[][] = [];
    const host: SplitHandoffHost = {
      reportSplit: async (left, right) => {
        reports.push([left, right]);
      },
      initSplitPeer: async (peer, r, rows) => {
        if (failFirst) {
          failFirst = false;
          throw new Error('object unreachable');
        }
        if (target.region() === undefined) initializeFromSeed(target, peer, { region: r, index: raftInitLogIndex, term: raftInitLogTerm, rows });
        return true;
      },
    };
    // A failed attempt leaves everything in place ...
    await expect(runHandoffs(storage, host)).rejects.toThrow('object unreachable');
    expect(storage.pendingSplits()).toHaveLength(1);
    expect(values(storage, 'raw')).toHaveLength(userKeys.length);
    // ... and the retry finishes it.
    expect(await runHandoffs(storage, host)).toBe(true);
    expect(storage.pendingSplits()).toEqual([]);
    expect(reports).toHaveLength(2);
    expect(reports[0]![0]!.endKey).toEqual(reports[0]![1]!.startKey);

    for (const cf of columnFamilies) {
      const leftKeys = values(storage, cf).map((v) => v.split('-')[1]!);
      const newKeys = values(target, cf).map((v) => v.split('-')[1]!);
      for (const k of leftKeys) expect(compareBytes(utf8(k), utf8(splitKey)), `${cf} kept ${k}`).toBeLessThan(0);
      for (const k of newKeys) expect(compareBytes(utf8(k), utf8(splitKey)), `${cf} moved ${k}`).toBeGreaterThanOrEqual(0);
      expect(leftKeys.length + newKeys.length, cf).toBe(userKeys.length * (cf === 'default' || cf === 'write' ? 2 : 1));
    }
    expect(target.region()).toMatchObject({ id: 2, epoch: { version: 4, confVer: 2 } });
    expect(target.applyState().appliedIndex).toBe(raftInitLogIndex);
  });

  it('refuses at apply without touching anything when the epoch is stale', () => {
    const storage = seeded();
    storage.write((batch) => {
      const out = execSplit(batch, storage.region()!, { id: 10, storeId: 1 }, 7, { regionId: 1, epoch: { version: 2, confVer: 2 } }, split('b'));
      expect(out.ok).toBe(false);
    });
    expect(storage.region()!.epoch.version).toBe(3);
    expect(storage.pendingSplits()).toEqual([]);
  });

  it('a destroyed peer forgets its pending handoffs', () => {
    const storage = seeded();
    applyAt(storage);
    storage.write((batch) => batch.destroy());
    expect(storage.pendingSplits()).toEqual([]);
  });
});
