// Raft throughput: a 3-node group in one process (MemoryStorage, in-memory
// delivery), 128-byte entries. For each batch size, propose that many
// entries one by one on the leader, then run the Ready loop on every node
// until the leader has committed them all; repeat for a fixed time.
//
//   npm run bench:raft            prints a table, writes bench/results/raft.json

import { writeFileSync } from 'node:fs';
import { MemoryStorage, type Message, RawNode, StateType } from '../src/raft';
import { printTable, resultsPath } from './table';

const payloadBytes = 128;
const batchSizes = [1, 16, 256];
const secondsPerBatch = Number(process.env.BENCH_SECONDS ?? 2);

interface Node {
  raw: RawNode;
  storage: MemoryStorage;
}

function newGroup(): Node[] {
  const ids = [1, 2, 3];
  let seed = 7;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  return ids.map((id) => {
    const storage = new MemoryStorage();
    const raw = new RawNode({
      id,
      peers: ids,
      storage,
      electionTick: 10,
      heartbeatTick: 1,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      rand,
    });
    return { raw, storage };
  });
}

/** Runs one Ready turn on every node; returns the messages they sent. */
function turn(nodes: Node[]): Message[] {
  const out: Message[] = [];
  for (const { raw, storage } of nodes) {
    if (!raw.hasReady()) continue;
    const rd = raw.ready();
    if (rd.snapshot) storage.applySnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState) storage.setHardState(rd.hardState);
    for (const m of rd.messages) out.push(m);
    raw.advance(rd);
  }
  return out;
}

function settle(nodes: Node[], until: () => boolean): void {
  for (let rounds = 0; !until(); rounds++) {
    if (rounds > 100_000) throw new Error('group did not settle');
    for (const m of turn(nodes)) nodes[m.to - 1]!.raw.step(m);
  }
}

interface Row {
  batch: number;
  entriesPerSec: number;
  heapUsedMB: number;
}

function measure(batch: number): Row {
  const nodes = newGroup();
  const leader = nodes[0]!;
  leader.raw.campaign();
  settle(nodes, () => leader.raw.raft.state === StateType.Leader && !nodes.some((n) => n.raw.hasReady()));
  const payload = new Uint8Array(payloadBytes).fill(7);
  const log = leader.raw.raft.raftLog;
  let committedEntries = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(secondsPerBatch * 1e9));
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < batch; i++) leader.raw.propose(payload);
    const target = log.lastIndex();
    settle(nodes, () => log.committed >= target);
    committedEntries += batch;
    // Keep memory bounded the way a real peer does: compact applied entries.
    if (leader.storage.lastIndex() - leader.storage.firstIndex() > 20_000) {
      for (const n of nodes) {
        const applied = n.raw.raft.raftLog.applied;
        if (applied > n.storage.firstIndex()) n.storage.compact(applied);
      }
    }
    now = process.hrtime.bigint();
  }
  const seconds = Number(now - start) / 1e9;
  return {
    batch,
    entriesPerSec: Math.round(committedEntries / seconds),
    heapUsedMB: Math.round((process.memoryUsage().heapUsed / 1024 / 1024) * 10) / 10,
  };
}

const rows = batchSizes.map(measure);
printTable(
  'Raft: committed entries/s on the leader (3 nodes in process, 128-byte entries)',
  ['batch', 'entries/s', 'heap MB'],
  rows.map((r) => [String(r.batch), r.entriesPerSec.toLocaleString('en-US'), String(r.heapUsedMB)]),
);
writeFileSync(resultsPath('raft.json'), `${JSON.stringify(rows, null, 2)}\n`);
