// The vocabulary of the Raft library: entries, messages, states and the
// persistent records. Values of the `as const` enums are readable strings so
// that logs and test failures need no lookup table.

/** The absent node id, term or index. */
export const None = 0;

export const StateType = {
  Follower: 'Follower',
  PreCandidate: 'PreCandidate',
  Candidate: 'Candidate',
  Leader: 'Leader',
} as const;
export type StateType = (typeof StateType)[keyof typeof StateType];

export const EntryType = {
  Normal: 'Normal',
  ConfChange: 'ConfChange',
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export const ConfChangeType = {
  AddNode: 'AddNode',
  RemoveNode: 'RemoveNode',
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

export const MessageType = {
  /** Local: start an election (pre-vote first when enabled). */
  Hup: 'Hup',
  /** Local: the leader should broadcast a heartbeat now. */
  Beat: 'Beat',
  /** Propose entries; a follower forwards it to its leader. */
  Propose: 'Propose',
  Append: 'Append',
  AppendResponse: 'AppendResponse',
  RequestVote: 'RequestVote',
  RequestVoteResponse: 'RequestVoteResponse',
  RequestPreVote: 'RequestPreVote',
  RequestPreVoteResponse: 'RequestPreVoteResponse',
  Snapshot: 'Snapshot',
  Heartbeat: 'Heartbeat',
  HeartbeatResponse: 'HeartbeatResponse',
  /** `from` is the transferee; sent to (or forwarded to) the leader. */
  TransferLeader: 'TransferLeader',
  /** Leader to transferee: campaign now, skipping pre-vote and leases. */
  TimeoutNow: 'TimeoutNow',
  ReadIndex: 'ReadIndex',
  ReadIndexResponse: 'ReadIndexResponse',
  /** Local, on the leader: the application reports how a snapshot send ended. */
  SnapshotStatus: 'SnapshotStatus',
  /** Local, on the leader: the application could not reach `from`. */
  Unreachable: 'Unreachable',
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

export interface ConfState {
  /** The voting members. */
  voters: number[];
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  confState: ConfState;
}

export interface Snapshot {
  /** Opaque to Raft; the application's state at `metadata.index`. */
  data: Uint8Array;
  metadata: SnapshotMetadata;
}

export interface HardState {
  term: number;
  vote: number;
  commit: number;
}

export interface SoftState {
  lead: number;
  raftState: StateType;
}

export interface ReadState {
  /** The commit index at the time the read was confirmed; serve once applied >= index. */
  index: number;
  requestCtx: Uint8Array;
}

/**
 * One message on the wire. It is a single shape for every type, like etcd's
 * raftpb.Message, because the transport serializes them uniformly and the
 * well-known etcd/TinyKV scenarios are written against it; `type` is the
 * discriminant and each handler reads only the fields its type defines.
 */
export interface Message {
  type: MessageType;
  to: number;
  from: number;
  /** 0 for local messages. */
  term: number;
  /** Append: term of the entry at `index`. Rejections: term of `rejectHint`. Votes: last log term. */
  logTerm: number;
  /** Append: index preceding `entries`. Responses: last index the follower matched. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  rejectHint: number;
  snapshot?: Snapshot;
  /** Read-index request context, or the transfer marker on a vote. */
  context?: Uint8Array;
}

/** What callers may pass to `step`: any field left out takes its zero value. */
export type MessageInit = Pick<Message, 'type'> & Partial<Omit<Message, 'type'>>;

/** The expected outcomes of stepping a message, as values (they cross RPC). */
export type StepResult = 'Ok' | 'ProposalDropped';

const emptyEntries: Entry[] = [];

export function completeMessage(m: MessageInit): Message {
  if (
    m.to !== undefined &&
    m.from !== undefined &&
    m.term !== undefined &&
    m.logTerm !== undefined &&
    m.index !== undefined &&
    m.entries !== undefined &&
    m.commit !== undefined &&
    m.reject !== undefined &&
    m.rejectHint !== undefined
  ) {
    return m as Message;
  }
  const full: Message = {
    type: m.type,
    to: m.to ?? None,
    from: m.from ?? None,
    term: m.term ?? 0,
    logTerm: m.logTerm ?? 0,
    index: m.index ?? 0,
    entries: m.entries ?? emptyEntries,
    commit: m.commit ?? 0,
    reject: m.reject ?? false,
    rejectHint: m.rejectHint ?? 0,
  };
  if (m.snapshot !== undefined) full.snapshot = m.snapshot;
  if (m.context !== undefined) full.context = m.context;
  return full;
}

/** Entry size for flow control: payload plus a fixed allowance for the header. */
export function entrySize(e: Entry): number {
  return e.data.byteLength + 24;
}

/** Keeps a prefix of `ents` whose total size is within maxSize, but at least one entry. */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxSize) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

export function isEmptySnapshot(s: Snapshot | undefined): boolean {
  return s === undefined || s.metadata.index === 0;
}

/** A message with every field at its zero value; the caller sets what its type needs. */
export function newMessage(type: MessageType, to: number, from: number, term: number): Message {
  return { type, to, from, term, logTerm: 0, index: 0, entries: emptyEntries, commit: 0, reject: false, rejectHint: 0 };
}
