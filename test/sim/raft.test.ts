// The seeded Raft simulation (see raft-sim.ts). `npm test` runs a fixed set of
// seeds; SOAK=1 (or SOAK=<number of seeds>) runs thousands with longer
// histories. To replay one seed:
//   SIM_SEED=<n> [SIM_NODES=3|5] [SIM_STEPS=<n>] [SIM_TRACE=1] npx vitest run --project unit test/sim/raft.test.ts
// (without SIM_NODES the seed runs with 3 and with 5 nodes).

import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/raft';
import { runSim, type SimStats } from './raft-sim';

interface SeedGroup {
  name: string;
  nodes: number;
  seeds: number[];
  steps: number;
}

const defaultSteps = 4000;

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function chunk(nodes: number, seeds: number[], steps: number, size: number): SeedGroup[] {
  const groups: SeedGroup[] = [];
  for (let i = 0; i < seeds.length; i += size) {
    const part = seeds.slice(i, i + size);
    groups.push({ name: `${nodes} nodes, seeds ${part[0]}..${part[part.length - 1]}, ${steps} steps`, nodes, seeds: part, steps });
  }
  return groups;
}

function plan(): SeedGroup[] {
  const env = process.env;
  if (env.SIM_SEED !== undefined && env.SIM_SEED !== '') {
    const seed = Number(env.SIM_SEED);
    const steps = env.SIM_STEPS ? Number(env.SIM_STEPS) : defaultSteps;
    const nodes = env.SIM_NODES ? [Number(env.SIM_NODES)] : [3, 5];
    return nodes.map((n) => ({ name: `${n} nodes, seed ${seed}, ${steps} steps`, nodes: n, seeds: [seed], steps }));
  }
  if (env.SOAK !== undefined && env.SOAK !== '') {
    const count = Number(env.SOAK) > 1 ? Number(env.SOAK) : 5000;
    const steps = env.SIM_STEPS ? Number(env.SIM_STEPS) : 10_000;
    const half = Math.ceil(count / 2);
    // Seeds the fixed run does not cover.
    return [...chunk(3, range(1001, 1000 + half), steps, 250), ...chunk(5, range(1001, 1000 + count - half), steps, 250)];
  }
  return [...chunk(3, range(1, 120), defaultSteps, 40), ...chunk(5, range(1, 100), defaultSteps, 25)];
}

const totals: SimStats[] = [];

describe('raft simulation', () => {
  for (const group of plan()) {
    it(group.name, { timeout: 6 * 3_600_000 }, () => {
      for (const seed of group.seeds) {
        // A SimFailure names the seed, the step and the replay command.
        totals.push(runSim({ seed, nodes: group.nodes, steps: group.steps, trace: process.env.SIM_TRACE === '1' }));
      }
    });
  }

  it('exercised every kind of event', () => {
    if (totals.length < 20) return; // a replay of one seed proves nothing here
    const sum = (f: (s: SimStats) => number) => totals.reduce((acc, s) => acc + f(s), 0);
    expect(sum((s) => s.appliedProposals)).toBeGreaterThan(totals.length * 50);
    expect(sum((s) => s.restarts)).toBeGreaterThan(totals.length);
    expect(sum((s) => s.snapshotsInstalled)).toBeGreaterThan(totals.length);
    expect(sum((s) => s.confChangesApplied)).toBeGreaterThan(totals.length);
    expect(sum((s) => s.partitions)).toBeGreaterThan(totals.length);
    expect(sum((s) => s.transfers)).toBeGreaterThan(totals.length);
    expect(totals.filter((s) => s.leaderTerms > 3).length).toBeGreaterThan(totals.length / 2);
  });
});

describe('found by the simulation', () => {
  it('a stale rejection does not move a probing follower below match + 1', () => {
    // The leader probes at next 9 after the follower acknowledged 8; a
    // delayed rejection of index 8 (hint 3) from before that arrives now.
    const pr = new Progress(9, 4);
    pr.match = 8;
    expect(pr.maybeDecrTo(8, 3)).toBe(true);
    expect(pr.next).toBe(9);
    expect(pr.match).toBeLessThan(pr.next);
  });
});
