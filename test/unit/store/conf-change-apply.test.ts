import { describe, expect, it } from 'vitest';
import { ConfChangeType } from '../../../src/raft';
import { applyChangePeer, changePeerOf, confChangeFor } from '../../../src/store/conf-change-apply';
import type { RegionMeta } from '../../../src/store/region';

const region: RegionMeta = {
  id: 1,
  startKey: new Uint8Array(0),
  endKey: new Uint8Array(0),
  epoch: { version: 3, confVer: 2 },
  peers: [
    { id: 10, storeId: 1 },
    { id: 11, storeId: 2 },
  ],
};
const header = { regionId: 1, epoch: { version: 3, confVer: 2 } };

describe('applyChangePeer', () => {
  it('adds a peer and bumps confVer only', () => {
    const out = applyChangePeer(region, header, { type: 'ChangePeer', changeType: 'AddNode', peer: { id: 12, storeId: 3 } });
    expect(out.ok && out.region.peers.map((p) => p.id)).toEqual([10, 11, 12]);
    expect(out.ok && out.region.epoch).toEqual({ version: 3, confVer: 3 });
    expect(region.peers).toHaveLength(2); // the input is not mutated
  });

  it('removes a peer', () => {
    const out = applyChangePeer(region, header, { type: 'ChangePeer', changeType: 'RemoveNode', peer: { id: 11, storeId: 2 } });
    expect(out.ok && out.region.peers).toEqual([{ id: 10, storeId: 1 }]);
    expect(out.ok && out.region.epoch.confVer).toBe(3);
  });

  it('refuses a stale confVer, a duplicate store, a non-member and the last member', () => {
    const stale = { regionId: 1, epoch: { version: 3, confVer: 1 } };
    const add = { type: 'ChangePeer', changeType: 'AddNode', peer: { id: 12, storeId: 3 } } as const;
    expect(applyChangePeer(region, stale, add)).toMatchObject({ ok: false, error: { type: 'EpochNotMatch' } });
    expect(applyChangePeer(region, header, { ...add, peer: { id: 12, storeId: 1 } }).ok).toBe(false);
    expect(applyChangePeer(region, header, { ...add, changeType: 'RemoveNode', peer: { id: 99, storeId: 9 } }).ok).toBe(false);
    const solo = { ...region, peers: [{ id: 10, storeId: 1 }] };
    expect(applyChangePeer(solo, header, { ...add, changeType: 'RemoveNode', peer: { id: 10, storeId: 1 } }).ok).toBe(false);
  });

  it('round-trips the command through a ConfChange', () => {
    const admin = { type: 'ChangePeer', changeType: 'RemoveNode', peer: { id: 11, storeId: 2 } } as const;
    const cc = confChangeFor(header, admin);
    expect(cc.type).toBe(ConfChangeType.RemoveNode);
    expect(changePeerOf(cc)).toEqual({ header, admin });
  });
});
