import { describe, expect, it } from 'vitest';
import { RegionRegistry, compareEndKeys } from '../../../src/scheduler/region-registry';
import { AssertionError } from '../../../src/util/assert';
import { fromUtf8, utf8 } from '../../../src/util/bytes';
import { peersOf, region } from './helpers';

/** The region id that serves `key`, or undefined. */
function at(r: RegionRegistry, key: string): number | undefined {
  return r.route(utf8(key))?.region.id;
}

/** The registry's ranges in key order, as "start-end@id". */
function layout(r: RegionRegistry): string[] {
  return r.routes().map(({ region: g }) => `${fromUtf8(g.startKey)}-${fromUtf8(g.endKey)}@${g.id}`);
}

/** Regions [.., b) [b, d) [d, ..) with ids 1, 2, 3, at version 2. */
function threeRegions(): RegionRegistry {
  const r = new RegionRegistry();
  r.putRegion(region(1, '', 'b', 2));
  r.putRegion(region(2, 'b', 'd', 2));
  r.putRegion(region(3, 'd', '', 2));
  return r;
}

describe('compareEndKeys', () => {
  it('orders the empty end key after every other key', () => {
    expect(compareEndKeys(utf8(''), utf8('zzz'))).toBeGreaterThan(0);
    expect(compareEndKeys(utf8('zzz'), utf8(''))).toBeLessThan(0);
    expect(compareEndKeys(utf8(''), utf8(''))).toBe(0);
    expect(compareEndKeys(utf8('a'), utf8('b'))).toBeLessThan(0);
  });
});

describe('RegionRegistry.route', () => {
  it('finds nothing in an empty registry', () => {
    expect(at(new RegionRegistry(), 'a')).toBeUndefined();
  });

  it('covers every key with one region over the whole key space', () => {
    const r = new RegionRegistry();
    r.putRegion(region(1, '', ''));
    for (const key of ['', 'a', '\u00ff\u00ff', 'zzzzzzzz']) expect(at(r, key)).toBe(1);
  });

  it('puts a start key in its region and an end key in the next one', () => {
    const r = threeRegions();
    expect(at(r, '')).toBe(1);
    expect(at(r, 'a')).toBe(1);
    expect(at(r, 'azzz')).toBe(1);
    expect(at(r, 'b')).toBe(2);
    expect(at(r, 'b\u0000')).toBe(2);
    expect(at(r, 'czzz')).toBe(2);
    expect(at(r, 'd')).toBe(3);
  });

  it('sends every key past the last end key to the region with the empty end key', () => {
    const r = threeRegions();
    expect(at(r, 'z')).toBe(3);
    expect(r.route(new Uint8Array([0xff, 0xff, 0xff]))?.region.id).toBe(3);
  });

  it('finds nothing in a gap between regions', () => {
    const r = new RegionRegistry();
    r.putRegion(region(1, 'a', 'c'));
    r.putRegion(region(2, 'e', 'g'));
    expect(at(r, '0')).toBeUndefined();
    expect(at(r, 'c')).toBeUndefined();
    expect(at(r, 'd')).toBeUndefined();
    expect(at(r, 'e')).toBe(2);
    expect(at(r, 'g')).toBeUndefined();
  });

  it('routes among many regions inserted in any order', () => {
    const r = new RegionRegistry();
    const n = 500;
    const key = (i: number) => `k${String(i).padStart(4, '0')}`;
    // Region i covers [key(i), key(i+1)); the first starts at '' and the last ends at ''.
    const ids = Array.from({ length: n }, (_, i) => i);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = (i * 7919) % (i + 1); // a fixed shuffle; no randomness in tests
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    for (const i of ids) {
      const start = i === 0 ? '' : key(i);
      const end = i === n - 1 ? '' : key(i + 1);
      expect(r.putRegion(region(i + 1, start, end)).type).toBe('Accepted');
    }
    expect(r.size).toBe(n);
    for (let i = 0; i < n; i++) {
      expect(at(r, key(i))).toBe(i + 1);
      expect(at(r, `${key(i)}~`)).toBe(i + 1);
    }
    expect(at(r, '')).toBe(1);
    expect(at(r, 'zzz')).toBe(n);
    const starts = r.routes().map((x) => fromUtf8(x.region.startKey));
    expect(starts).toEqual([...starts].sort());
  });

  it('returns copies: changing a route does not change the registry', () => {
    const r = threeRegions();
    const route = r.route(utf8('a'))!;
    route.region.endKey = utf8('zz');
    route.region.peers.pop();
    expect(r.route(utf8('a'))!.region).toEqual(region(1, '', 'b', 2));
  });
});

describe('RegionRegistry.putRegion: epochs', () => {
  it('rejects a region whose version is below the known one', () => {
    const r = new RegionRegistry();
    r.putRegion(region(1, '', '', 3, 1));
    const outcome = r.putRegion(region(1, '', '', 2, 5));
    expect(outcome).toEqual({ type: 'Stale', current: region(1, '', '', 3, 1) });
    expect(r.routeById(1)?.region.epoch).toEqual({ version: 3, confVer: 1 });
  });

  it('rejects a region whose confVer is below the known one', () => {
    const r = new RegionRegistry();
    r.putRegion(region(1, '', '', 1, 3));
    expect(r.putRegion(region(1, '', '', 5, 2)).type).toBe('Stale');
    expect(r.routeById(1)?.region.epoch).toEqual({ version: 1, confVer: 3 });
  });

  it('replaces a region with a newer one of the same id', () => {
    const r = new RegionRegistry();
    r.putRegion(region(1, '', ''));
    const newer = region(1, '', '', 1, 2, [...peersOf(1), { id: 99, storeId: 4 }]);
    expect(r.putRegion(newer)).toEqual({ type: 'Accepted', region: newer, removed: [] });
    expect(r.routeById(1)?.region).toEqual(newer);
    expect(r.size).toBe(1);
  });

  it('moves a region whose range changed with its version', () => {
    const r = new RegionRegistry();
    r.putRegion(region(1, '', ''));
    // The left half of a split, reported before the right half: a gap until that arrives.
    r.putRegion(region(1, '', 'm', 2));
    expect(at(r, 'a')).toBe(1);
    expect(at(r, 'm')).toBeUndefined();
    r.putRegion(region(2, 'm', '', 2));
    expect(layout(r)).toEqual(['-m@1', 'm-@2']);
  });

  it('removes the older regions a newer one overlaps', () => {
    const r = threeRegions();
    // A merge of 1 and 2 into 2 at a higher version.
    const outcome = r.putRegion(region(2, '', 'd', 3));
    expect(outcome.type).toBe('Accepted');
    expect(outcome.type === 'Accepted' && outcome.removed.map((g) => g.id)).toEqual([1]);
    expect(layout(r)).toEqual(['-d@2', 'd-@3']);
    expect(r.routeById(1)).toBeUndefined();
  });

  it('removes several overlapped regions at once, and the leader of each', () => {
    const r = threeRegions();
    r.updateLeader(1, peersOf(1)[0]!, { version: 2, confVer: 1 });
    r.updateLeader(3, peersOf(3)[0]!, { version: 2, confVer: 1 });
    const outcome = r.putRegion(region(9, 'a', 'e', 2));
    expect(outcome.type === 'Accepted' && outcome.removed.map((g) => g.id)).toEqual([1, 2, 3]);
    expect(layout(r)).toEqual(['a-e@9']);
    expect(r.toState().records.every((rec) => rec.leader === undefined)).toBe(true);
  });

  it('rejects a region that overlaps a known region of a higher version', () => {
    const r = threeRegions();
    // Region 7 predates the split that made regions 1-3 at version 2.
    const outcome = r.putRegion(region(7, '', '', 1));
    expect(outcome).toEqual({ type: 'Stale', current: region(1, '', 'b', 2) });
    expect(layout(r)).toEqual(['-b@1', 'b-d@2', 'd-@3']);
  });

  it('answers Unchanged, and keeps the routing version, for a region exactly as known', () => {
    const r = threeRegions();
    const before = r.routingVersion;
    const sameWithPeersReordered = region(2, 'b', 'd', 2, 1, [...peersOf(2)].reverse());
    expect(r.putRegion(sameWithPeersReordered)).toEqual({ type: 'Unchanged' });
    expect(r.routingVersion).toBe(before);
  });

  it('asserts on an invalid region', () => {
    const r = new RegionRegistry();
    expect(() => r.putRegion(region(1, 'b', 'a'))).toThrow(AssertionError);
    expect(() => r.putRegion(region(1, '', '', 0, 1))).toThrow(AssertionError);
    expect(() => r.putRegion(region(1, '', '', 1, 1, [{ id: 1, storeId: 1 }, { id: 2, storeId: 1 }]))).toThrow(
      AssertionError,
    );
  });

  it('keeps no reference to the caller\'s region', () => {
    const r = new RegionRegistry();
    const g = region(1, '', '');
    r.putRegion(g);
    g.endKey = utf8('x');
    g.epoch.version = 9;
    expect(r.routeById(1)?.region).toEqual(region(1, '', ''));
  });
});

describe('RegionRegistry: leaders', () => {
  it('records the leader of a known region under the current epoch', () => {
    const r = threeRegions();
    const leader = peersOf(2)[1]!;
    expect(r.updateLeader(2, leader, { version: 2, confVer: 1 })).toEqual({ type: 'Updated' });
    expect(r.route(utf8('c'))?.leader).toEqual(leader);
    expect(r.route(utf8('a'))?.leader).toBeUndefined();
  });

  it('accepts a leader reported under a newer epoch if it is a member', () => {
    const r = threeRegions();
    expect(r.updateLeader(2, peersOf(2)[0]!, { version: 5, confVer: 5 }).type).toBe('Updated');
  });

  it('ignores a leader for an unknown region', () => {
    const r = threeRegions();
    const before = r.routingVersion;
    expect(r.updateLeader(42, { id: 421, storeId: 1 }, { version: 9, confVer: 9 })).toEqual({ type: 'RegionNotFound' });
    expect(r.routingVersion).toBe(before);
  });

  it('ignores a leader reported under a stale version or confVer', () => {
    const r = new RegionRegistry();
    r.putRegion(region(1, '', '', 3, 3));
    const leader = peersOf(1)[0]!;
    expect(r.updateLeader(1, leader, { version: 2, confVer: 3 }).type).toBe('StaleEpoch');
    expect(r.updateLeader(1, leader, { version: 3, confVer: 2 }).type).toBe('StaleEpoch');
    expect(r.routeById(1)?.leader).toBeUndefined();
  });

  it('ignores a leader that is not a member of the region', () => {
    const r = threeRegions();
    expect(r.updateLeader(1, { id: 77, storeId: 4 }, { version: 2, confVer: 1 }).type).toBe('NotMember');
    // Right id, wrong store: not the same peer.
    expect(r.updateLeader(1, { id: peersOf(1)[0]!.id, storeId: 5 }, { version: 2, confVer: 1 }).type).toBe('NotMember');
    expect(r.routeById(1)?.leader).toBeUndefined();
  });

  it('keeps the leader across a newer epoch that still has it, drops it when it was removed', () => {
    const r = new RegionRegistry();
    r.putRegion(region(1, '', ''));
    const [p1, p2, p3] = peersOf(1);
    r.updateLeader(1, p1!, { version: 1, confVer: 1 });
    r.putRegion(region(1, '', '', 1, 2, [p1!, p2!, p3!, { id: 14, storeId: 4 }]));
    expect(r.routeById(1)?.leader).toEqual(p1);
    r.putRegion(region(1, '', '', 1, 3, [p2!, p3!, { id: 14, storeId: 4 }]));
    expect(r.routeById(1)?.leader).toBeUndefined();
  });
});

describe('RegionRegistry.routingVersion', () => {
  it('goes up by one on every change and stays put otherwise', () => {
    const r = new RegionRegistry();
    expect(r.routingVersion).toBe(0);
    r.putRegion(region(1, '', ''));
    expect(r.routingVersion).toBe(1);
    r.putRegion(region(1, '', '', 1, 2));
    expect(r.routingVersion).toBe(2);
    r.updateLeader(1, peersOf(1)[0]!, { version: 1, confVer: 2 });
    expect(r.routingVersion).toBe(3);
    expect(r.route(utf8('x'))?.routingVersion).toBe(3);

    r.updateLeader(1, peersOf(1)[0]!, { version: 1, confVer: 2 }); // same leader
    r.putRegion(region(1, '', '', 1, 2)); // same region
    r.putRegion(region(1, '', '', 1, 1)); // stale
    r.updateLeader(1, peersOf(1)[1]!, { version: 1, confVer: 1 }); // stale
    r.updateLeader(5, peersOf(1)[1]!, { version: 9, confVer: 9 }); // unknown
    expect(r.routingVersion).toBe(3);
  });
});

describe('RegionRegistry: persistence', () => {
  it('comes back from its state with the same routes, leaders and routing version', () => {
    const r = threeRegions();
    r.updateLeader(2, peersOf(2)[2]!, { version: 2, confVer: 1 });
    const state = r.toState();
    const back = RegionRegistry.fromState(structuredClone(state));
    expect(back.routes()).toEqual(r.routes());
    expect(back.routingVersion).toBe(r.routingVersion);
    expect(back.toState()).toEqual(state);
    // It carries on counting from where it was.
    back.putRegion(region(3, 'd', '', 3));
    expect(back.routingVersion).toBe(r.routingVersion + 1);
  });

  it('accepts records in any order', () => {
    const state = threeRegions().toState();
    const back = RegionRegistry.fromState({ ...state, records: [...state.records].reverse() });
    expect(layout(back)).toEqual(['-b@1', 'b-d@2', 'd-@3']);
  });

  it('refuses overlapping, duplicate or inconsistent state', () => {
    const one = (id: number, start: string, end: string) => ({ region: region(id, start, end), leader: undefined });
    expect(() => RegionRegistry.fromState({ routingVersion: 1, records: [one(1, '', 'c'), one(2, 'b', '')] })).toThrow(
      AssertionError,
    );
    expect(() => RegionRegistry.fromState({ routingVersion: 1, records: [one(1, '', 'b'), one(1, 'b', '')] })).toThrow(
      AssertionError,
    );
    const strangerLeads = { region: region(1, '', ''), leader: { id: 5, storeId: 5 } };
    expect(() => RegionRegistry.fromState({ routingVersion: 1, records: [strangerLeads] })).toThrow(AssertionError);
    expect(() => RegionRegistry.fromState({ routingVersion: -1, records: [] })).toThrow(AssertionError);
  });
});
