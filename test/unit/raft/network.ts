// An in-memory network of Raft nodes for scenario tests, after etcd's test
// harness: `send` delivers messages until the network is quiet; `cut`,
// `isolate`, `drop` and `ignore` shape what gets through; `recover` heals.
// Nodes treat their log as durable at once (readMessages delivers the
// leader's self-acknowledgements).

import {
  type Config,
  type ConfChange,
  type Entry,
  encodeConfChange,
  EntryType,
  MemoryStorage,
  type Message,
  type MessageInit,
  MessageType,
  Raft,
} from '../../../src/raft';

export type NodeConfig = Omit<Config, 'id' | 'storage' | 'peers'>;

export const defaultNodeConfig: NodeConfig = { electionTick: 10, heartbeatTick: 1, maxInflightMsgs: 256 };

/** A deterministic generator for tests: the same seed gives the same history. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function entry(index: number, term: number, data: Uint8Array = new Uint8Array(0)): Entry {
  return { index, term, type: EntryType.Normal, data };
}

export function newTestRaft(
  id: number,
  peers: number[],
  storage = new MemoryStorage(),
  config: Partial<NodeConfig> = {},
): Raft {
  return new Raft({ ...defaultNodeConfig, ...config, id, peers: storage.initialState().confState.voters.length > 0 ? [] : peers, storage });
}

/** A storage preloaded with entries of the given terms at indexes 1..n. */
export function storageWithTerms(terms: number[]): MemoryStorage {
  const s = new MemoryStorage();
  s.append(terms.map((t, i) => entry(i + 1, t)));
  return s;
}

export class Network {
  readonly peers = new Map<number, Raft>();
  readonly storages = new Map<number, MemoryStorage>();
  private readonly dropRates = new Map<string, number>();
  private readonly ignored = new Set<MessageType>();
  private readonly rand: () => number;
  /** Every message that got through, in delivery order, for assertions. */
  delivered: Message[] = [];

  /**
   * `nodes[i]` is node i+1: a Raft to use as is, or undefined for a fresh
   * node with `config` and all of the network's ids as peers.
   */
  constructor(nodes: (Raft | undefined)[], config: Partial<NodeConfig> = {}, seed = 1) {
    this.rand = seededRandom(seed);
    const ids = nodes.map((_, i) => i + 1);
    nodes.forEach((node, i) => {
      const id = i + 1;
      if (node === undefined) {
        const storage = new MemoryStorage();
        this.storages.set(id, storage);
        this.peers.set(id, newTestRaft(id, ids, storage, config));
      } else {
        this.peers.set(id, node);
      }
    });
  }

  peer(id: number): Raft {
    const p = this.peers.get(id);
    if (p === undefined) throw new Error(`no peer ${id}`);
    return p;
  }

  /** Delivers the messages and everything they cause, until nothing is left. */
  send(...msgs: MessageInit[]): void {
    const queue: MessageInit[] = [...msgs];
    for (let steps = 0; queue.length > 0; steps++) {
      if (steps > 100_000) throw new Error('network did not quiesce');
      const m = queue.shift()!;
      const p = this.peers.get(m.to ?? 0);
      if (p === undefined) continue;
      p.step(m);
      queue.push(...this.filter(p.readMessages()));
    }
  }

  /** Starts an election on node id. */
  campaign(id: number): void {
    this.send({ type: MessageType.Hup, from: id, to: id });
  }

  propose(id: number, data: Uint8Array = new Uint8Array([1])): void {
    this.send({ type: MessageType.Propose, from: id, to: id, entries: [entry(0, 0, data)] });
  }

  /** Drops a fraction `rate` of the messages from `from` to `to`. */
  drop(from: number, to: number, rate: number): void {
    this.dropRates.set(`${from}-${to}`, rate);
  }

  cut(a: number, b: number): void {
    this.drop(a, b, 2);
    this.drop(b, a, 2);
  }

  isolate(id: number): void {
    for (const other of this.peers.keys()) {
      if (other !== id) this.cut(id, other);
    }
  }

  ignore(type: MessageType): void {
    this.ignored.add(type);
  }

  recover(): void {
    this.dropRates.clear();
    this.ignored.clear();
  }

  filter(msgs: Message[]): Message[] {
    const out: Message[] = [];
    for (const m of msgs) {
      if (this.ignored.has(m.type)) continue;
      // Hup is local: it never crosses the network, so it is never dropped.
      if (m.type !== MessageType.Hup) {
        const rate = this.dropRates.get(`${m.from}-${m.to}`) ?? 0;
        if (rate > 0 && this.rand() < rate) continue;
      }
      this.delivered.push(m);
      out.push(m);
    }
    return out;
  }
}

/** The messages of one type, optionally only those to one node. */
export function msgsOf(msgs: Message[], type: MessageType, to?: number): Message[] {
  return msgs.filter((m) => m.type === type && (to === undefined || m.to === to));
}

/** Ticks node `id` n times, delivering through the network whatever each tick sends. */
export function tickNode(nw: Network, id: number, n: number): void {
  const p = nw.peer(id);
  for (let i = 0; i < n; i++) {
    p.tick();
    nw.send(...nw.filter(p.readMessages()));
  }
}

/** Writes r's unstable entries to s and marks them stable, as the application would after a Ready. */
export function persistLog(r: Raft, s: MemoryStorage): void {
  const ents = r.raftLog.unstableEntries().slice();
  const last = ents[ents.length - 1];
  if (last === undefined) return;
  s.append(ents);
  r.raftLog.stableTo(last.index, last.term);
}

/** A ConfChange entry, as a proposal carries it (index and term are stamped by the leader). */
export function confChangeEntry(cc: ConfChange): Entry {
  return { index: 0, term: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) };
}
