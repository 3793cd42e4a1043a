import { describe, expect, it } from 'vitest';
import { StateType } from '../../../src/raft';
import { Network } from './network';

describe('smoke', () => {
  it('elects a leader and commits a proposal on every node', () => {
    const nw = new Network([undefined, undefined, undefined]);
    nw.campaign(1);
    expect(nw.peer(1).state).toBe(StateType.Leader);
    nw.propose(1);
    for (const id of [1, 2, 3]) expect(nw.peer(id).raftLog.committed).toBe(2);
  });
});
