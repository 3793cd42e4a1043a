// One seeded history of the whole cluster: bootstrap, rounds of the
// workload under the scenario's faults with checks after each round, then
// the final check — faults healed, every peer crashed and restarted, and
// every acknowledged put still there on every replica.

import { type RetryPolicy, defaultRetryPolicy } from '../../../src/api/region-router';
import { SimCluster, SimFailure } from './cluster';
import type { TimerHandle } from './clock';
import { Workload } from './workload';

export interface Scenario {
  /** Short id for SIM_SCENARIO. */
  id: string;
  name: string;
  clients: number;
  /** Clients that only read. */
  readers?: number;
  rounds: number;
  /** Simulated time per round, faults on. */
  roundMs: number;
  /** Drops ~10% of Raft messages, duplicates some, random latency (a few held up for seconds), loses a few worker RPCs. */
  unreliable?: boolean;
  /**
   * 'one': one long partition with a minority of one store; 'random': a new
   * random split every 0.5–2.5 s; 'leader': each new leader is cut off
   * soon after it is elected, so leadership flaps between peers that still
   * hold proposals of their earlier terms.
   */
  partitions?: 'one' | 'random' | 'leader';
  /**
   * 'all': every 1.5–2.5 s every peer crashes, each back within half a
   * second. 'one': every 0.5–1.5 s one peer (the leader half the time)
   * crashes and is back within a second, while the others carry on.
   */
  crashes?: 'all' | 'one';
  /**
   * Every 1–2 s stall one peer (the leader half the time) for 0.3–2.5 s:
   * its alarm, messages and calls wait, and it resumes with what it
   * believed — a leader that was deposed meanwhile still thinks it leads.
   */
  pauses?: boolean;
  /** Alarms up to 150 ms late, peers at different speeds (default: up to 10 ms), a few delivered twice. */
  lateAlarms?: boolean;
}

export interface ScenarioStats {
  seed: number;
  simMs: number;
  wallMs: number;
  timers: number;
  puts: number;
  acked: number;
  uncertain: number;
  /** Put attempts answered with a region error, by type. */
  rejected: Record<string, number>;
  scans: number;
  gets: number;
  crashes: number;
  pauses: number;
  partitions: number;
  leaderReports: number;
  appliedMax: number;
  compactions: number;
  snapshotsInstalled: number;
  /** Acknowledged puts that started during the one partition (majority side serving). */
  ackedDuringPartition: number;
}

/**
 * Odd seeds use the production retry policy; even seeds one whose deadline
 * is shorter than an election, so puts do end in 503 and the "uncertain put"
 * rules (may show up later, must not vanish once seen) get exercised.
 */
const impatientPolicy: RetryPolicy = { deadlineMs: 1_500, rpcTimeoutMs: 500, backoffStartMs: 20, backoffMaxMs: 200 };

export function policyFor(seed: number): RetryPolicy {
  return seed % 2 === 1 ? defaultRetryPolicy : impatientPolicy;
}

/**
 * The log GC threshold by seed: the production default for a third of the
 * seeds, and small ones for the rest, so that compactions and the
 * snapshots a follower that fell behind then needs happen in most histories.
 */
export function gcLimitFor(seed: number): number | undefined {
  return [undefined, 100, 20][seed % 3];
}

const unreliableFaults = { dropRate: 0.1, duplicateRate: 0.05, jitterMs: 20, longDelayRate: 0.01, rpcDropRate: 0.02 };

/** Time the clients get to finish their last operation once told to stop. */
function drainMs(cluster: SimCluster): number {
  const p = cluster.policy;
  return p.deadlineMs + p.rpcTimeoutMs + p.backoffMaxMs + 1_000;
}

export async function runScenario(
  scenario: Scenario,
  seed: number,
  trace?: (line: string) => void,
): Promise<ScenarioStats> {
  const wallStart = Date.now();
  const cluster = new SimCluster({
    seed,
    retryPolicy: policyFor(seed),
    tickLateMaxMs: scenario.lateAlarms === true ? 150 : 10,
    alarmTwiceRate: scenario.lateAlarms === true ? 0.05 : 0,
    raftLogGcCountLimit: gcLimitFor(seed),
    ...(trace === undefined ? {} : { trace }),
  });
  const clock = cluster.clock;
  const faultRand = cluster.fork();
  let partitions = 0;
  let ackedDuringPartition = 0;

  await cluster.bootstrap();
  const workload = new Workload(cluster, { clients: scenario.clients, readers: scenario.readers ?? 0 }, cluster.fork());
  if (scenario.unreliable === true) cluster.network.setFaults(unreliableFaults);

  for (let round = 0; round < scenario.rounds; round++) {
    const roundStart = clock.now();
    const roundEnd = roundStart + scenario.roundMs;
    cluster.trace(`round ${round} starts`);
    workload.start();
    const timers: TimerHandle[] = [];
    const every = (minMs: number, maxMs: number, fn: () => void) => {
      const next = () => {
        const at = minMs + Math.floor(faultRand() * (maxMs - minMs));
        if (clock.now() + at >= roundEnd) return;
        timers.push(
          clock.setTimer(at, () => {
            fn();
            next();
          }),
        );
      };
      next();
    };

    if (scenario.partitions === 'random') {
      every(500, 2_500, () => {
        const split = randomSplit(cluster, faultRand);
        partitions++;
        cluster.trace(`partition ${JSON.stringify(split)}`);
        cluster.network.setFaults({ partition: split });
      });
    }
    if (scenario.partitions === 'leader') {
      // Cut the leader off; as soon as another peer leads, heal for a moment
      // (so the deposed leader takes the new leader's log, keeping the
      // proposals of its own term pending) and cut the new leader off, so
      // the deposed one may lead again. Now and then let things rest.
      let cutOff: number | undefined;
      const poll = () => {
        if (clock.now() >= roundEnd) return;
        const leader = cluster.leader();
        let wait = 50;
        if (leader !== undefined && leader !== cutOff) {
          if (cutOff !== undefined) {
            cluster.trace('heal');
            cluster.network.setFaults({ partition: undefined });
          }
          const rest = faultRand() < 0.2;
          const isolateIn = rest ? 500 + Math.floor(faultRand() * 1_500) : 20 + Math.floor(faultRand() * 200);
          cutOff = leader;
          timers.push(
            clock.setTimer(isolateIn, () => {
              const isolated = cluster.peerMeta(leader).storeId;
              partitions++;
              cluster.trace(`partition: peer ${leader}'s store ${isolated} alone`);
              cluster.network.setFaults({ partition: [[isolated], cluster.storeIds.filter((s) => s !== isolated)] });
            }),
          );
          wait = isolateIn + 50;
        }
        timers.push(clock.setTimer(wait, poll));
      };
      timers.push(clock.setTimer(0, poll));
    }
    if (scenario.partitions === 'one') {
      // Once a leader is elected (so that cutting it off means something),
      // one store is cut off for six seconds: half the time the leader's.
      const partitionMs = 6_000;
      let minority = 0;
      let partitionStart = 0;
      const heal = () => {
        const since = workload.putsStartedSince(partitionStart);
        for (const peerId of cluster.peerIds().filter((p) => cluster.peerMeta(p).storeId === minority)) {
          workload.checkPeerLacks(peerId, since, 'minority side of the partition');
          workload.checkPeerData(peerId, false);
        }
        ackedDuringPartition = since.filter((p) => p.state === 'acked').length;
        if (ackedDuringPartition === 0) {
          throw new SimFailure(`the majority side acknowledged no put during ${partitionMs} ms of partition`);
        }
        cluster.trace(`heal the partition (${ackedDuringPartition} puts acknowledged meanwhile)`);
        cluster.network.setFaults({ partition: undefined, workerReach: undefined });
      };
      const cut = () => {
        const leader = cluster.leader();
        if (leader === undefined && clock.now() < roundStart + 4_000) {
          timers.push(clock.setTimer(50, cut));
          return;
        }
        minority =
          leader !== undefined && faultRand() < 0.5
            ? cluster.peerMeta(leader).storeId
            : cluster.storeIds[Math.floor(faultRand() * cluster.storeIds.length)]!;
        const majority = cluster.storeIds.filter((s) => s !== minority);
        partitionStart = clock.now();
        partitions++;
        // Half the time the worker is on the majority's side too, so a client
        // cannot even reach the minority; otherwise it can, and must be
        // turned away (or time out) there.
        const workerReach = faultRand() < 0.5 ? majority : undefined;
        cluster.trace(
          `partition: store ${minority} alone (leader is peer ${leader ?? 'none'}), ` +
            `the worker reaches ${workerReach === undefined ? 'every store' : 'the majority only'}`,
        );
        cluster.network.setFaults({ partition: [[minority], majority], workerReach });
        if (partitionStart + partitionMs >= roundEnd) throw new SimFailure('the round is too short for the partition');
        timers.push(clock.setTimer(partitionMs, heal));
      };
      timers.push(clock.setTimer(1_500, cut));
    }
    if (scenario.crashes === 'all') {
      every(1_500, 2_500, () => {
        cluster.crashAll();
        for (const peerId of cluster.peerIds()) {
          timers.push(clock.setTimer(Math.floor(faultRand() * 500), () => cluster.restart(peerId)));
        }
      });
    }
    if (scenario.crashes === 'one') {
      every(500, 1_500, () => {
        const leader = cluster.leader();
        const ids = cluster.peerIds();
        const victim = leader !== undefined && faultRand() < 0.5 ? leader : ids[Math.floor(faultRand() * ids.length)]!;
        cluster.crash(victim);
        timers.push(clock.setTimer(Math.floor(faultRand() * 1_000), () => cluster.restart(victim)));
      });
    }

    if (scenario.pauses === true) {
      every(1_000, 2_000, () => {
        const leader = cluster.leader();
        const ids = cluster.peerIds();
        const victim = leader !== undefined && faultRand() < 0.5 ? leader : ids[Math.floor(faultRand() * ids.length)]!;
        cluster.pause(victim, 300 + Math.floor(faultRand() * 2_200));
      });
    }

    await clock.run(roundEnd);
    // End of round: faults that stop progress end (unreliable delivery stays),
    // the clients finish, and each client's range is checked.
    for (const t of timers) t.cancel();
    cluster.network.setFaults({ partition: undefined, workerReach: undefined });
    cluster.restartAll();
    workload.stop();
    if (!(await clock.runWhile(() => workload.running(), drainMs(cluster)))) {
      throw new SimFailure(`clients did not finish their last operation after round ${round}`);
    }
    await workload.checkAllClients(`check after round ${round}`);
    workload.checkAppliedLog();
    if (scenario.partitions === 'one') {
      // Healing converges: the minority catches up and every replica holds the same data.
      await cluster.awaitConvergence(20_000);
      for (const peerId of cluster.peerIds()) workload.checkPeerData(peerId, true);
    }
  }

  // The end: a healthy network, then every peer loses its memory at once.
  cluster.trace('final: heal, crash and restart every peer');
  cluster.network.heal();
  cluster.crashAll();
  cluster.restartAll();
  await cluster.awaitConvergence(30_000);
  for (const peerId of cluster.peerIds()) workload.checkPeerData(peerId, true);
  workload.checkAppliedLog(cluster.peerIds()[0]);
  await workload.checkAllClients('final check');
  // A last Raft-level comparison, after the final reads moved the cluster on.
  await cluster.awaitConvergence(30_000);

  return {
    seed,
    simMs: clock.now(),
    wallMs: Date.now() - wallStart,
    timers: clock.fired(),
    puts: workload.stats.puts,
    acked: workload.stats.acked,
    uncertain: workload.stats.uncertain,
    rejected: workload.stats.rejected,
    scans: workload.stats.scans,
    gets: workload.stats.gets,
    crashes: cluster.stats.crashes,
    pauses: cluster.stats.pauses,
    partitions,
    leaderReports: cluster.stats.leaderReports,
    appliedMax: cluster.stats.appliedMax,
    ...cluster.storageStats(),
    ackedDuringPartition,
  };
}

/**
 * A random split of the stores. A uniformly random one rarely cuts off the
 * leader (the interesting case), so a third of the time the leader's store
 * is isolated on purpose; otherwise up to three random groups, sometimes
 * everyone together again.
 */
function randomSplit(cluster: SimCluster, rand: () => number): number[][] {
  const storeIds = cluster.storeIds;
  const leader = cluster.leader();
  if (leader !== undefined && rand() < 1 / 3) {
    const isolated = cluster.peerMeta(leader).storeId;
    return [[isolated], storeIds.filter((s) => s !== isolated)];
  }
  const groupCount = 1 + Math.floor(rand() * 3);
  const groups: number[][] = Array.from({ length: groupCount }, () => []);
  for (const id of storeIds) groups[Math.floor(rand() * groupCount)]!.push(id);
  return groups.filter((g) => g.length > 0);
}
