// RawNode is the application's handle on Raft: it turns the state machine's
// output into Ready batches and takes them back with advance(). The caller's
// loop (the peer Durable Object, the simulator, a test) does the I/O:
//
//   if (node.hasReady()) {
//     const rd = node.ready();
//     persist rd.hardState, rd.entries, rd.snapshot; apply rd.committedEntries  (one transaction)
//     send rd.messages
//     node.advance(rd);
//   }

import { assert } from '../util/assert';
import { type ConfChange, encodeConfChange } from './conf-change';
import { type Config, Raft } from './raft';
import {
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  type MessageInit,
  MessageType,
  type ReadState,
  type Snapshot,
  type SoftState,
  type StepResult,
} from './types';

/** One batch of work for the application; read-only. */
export interface Ready {
  /** Present only when leader or role changed since the last Ready. */
  softState?: SoftState;
  /** Present only when term, vote or commit changed; persist before sending messages. */
  hardState?: HardState;
  /** Entries to persist (they may overwrite a conflicting suffix). */
  entries: Entry[];
  /** A snapshot to install, before applying anything after it. */
  snapshot?: Snapshot;
  /** Committed entries to apply, each handed out once. */
  committedEntries: Entry[];
  /** Messages to send once the state above is durable. */
  messages: Message[];
  /** Confirmed read indexes: serve each read once applied >= index. */
  readStates: ReadState[];
}

export type SnapshotStatus = 'Finish' | 'Failure';

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.lead === b.lead && a.raftState === b.raftState;
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export class RawNode {
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /**
   * The leader's self-acknowledgements taken with the outstanding Ready:
   * delivered by advance(), once that Ready's entries are durable.
   * Invariant: defined exactly while a Ready is outstanding.
   */
  private outstandingSelfAcks: Message[] | undefined = undefined;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  campaign(): StepResult {
    return this.raft.step({ type: MessageType.Hup, from: this.raft.id });
  }

  propose(data: Uint8Array): StepResult {
    return this.proposeEntries([{ term: 0, index: 0, type: EntryType.Normal, data }]);
  }

  /** Many proposals in one step: they land in one append. */
  proposeBatch(datas: Uint8Array[]): StepResult {
    return this.proposeEntries(datas.map((data) => ({ term: 0, index: 0, type: EntryType.Normal, data })));
  }

  proposeConfChange(cc: ConfChange): StepResult {
    return this.proposeEntries([{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) }]);
  }

  private proposeEntries(entries: Entry[]): StepResult {
    return this.raft.step({ type: MessageType.Propose, from: this.raft.id, entries });
  }

  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  /** Steps a message received from another node. */
  step(m: MessageInit): StepResult {
    // Local message types never come from the network.
    if (m.type === MessageType.Hup || m.type === MessageType.Beat) return 'Ok';
    return this.raft.step(m);
  }

  transferLeader(transferee: number): void {
    this.raft.step({ type: MessageType.TransferLeader, from: transferee });
  }

  /** Asks for a linearizable read point; the answer comes as a ReadState carrying rctx. */
  readIndex(rctx: Uint8Array): StepResult {
    return this.raft.step({
      type: MessageType.ReadIndex,
      entries: [{ term: 0, index: 0, type: EntryType.Normal, data: rctx }],
    });
  }

  reportUnreachable(id: number): void {
    this.raft.step({ type: MessageType.Unreachable, from: id });
  }

  reportSnapshot(id: number, status: SnapshotStatus): void {
    this.raft.step({ type: MessageType.SnapshotStatus, from: id, reject: status === 'Failure' });
  }

  hasReady(): boolean {
    const r = this.raft;
    if (!softStateEqual(r.softState(), this.prevSoftState)) return true;
    if (!hardStateEqual(r.hardState(), this.prevHardState)) return true;
    if (r.raftLog.pendingSnapshot !== undefined) return true;
    if (r.raftLog.unstableEntries().length > 0) return true;
    if (r.hasPendingMessages() || r.msgsAfterAppend.length > 0) return true;
    if (r.readStates.length > 0) return true;
    return r.raftLog.hasNextEnts();
  }

  ready(): Ready {
    assert(this.outstandingSelfAcks === undefined, 'ready() called again before advance()');
    const r = this.raft;
    const rd: Ready = {
      // Copied: the unstable array keeps growing while the application persists.
      entries: r.raftLog.unstableEntries().slice(),
      committedEntries: r.raftLog.nextEnts(),
      messages: r.takeMessages(),
      readStates: r.readStates,
    };
    r.readStates = [];
    const soft = r.softState();
    if (!softStateEqual(soft, this.prevSoftState)) {
      rd.softState = soft;
      this.prevSoftState = soft;
    }
    const hard = r.hardState();
    if (!hardStateEqual(hard, this.prevHardState)) {
      rd.hardState = hard;
      this.prevHardState = hard;
    }
    const snapshot = r.raftLog.pendingSnapshot;
    if (snapshot !== undefined) rd.snapshot = snapshot;
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) r.raftLog.acceptApplying(lastCommitted.index);
    this.outstandingSelfAcks = r.takeSelfAcks();
    return rd;
  }

  /** The application has persisted, sent and applied everything in rd. */
  advance(rd: Ready): void {
    assert(this.outstandingSelfAcks !== undefined, 'advance() without an outstanding ready()');
    const r = this.raft;
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) r.raftLog.stableTo(lastEntry.index, lastEntry.term);
    if (rd.snapshot !== undefined) {
      r.raftLog.stableSnapTo(rd.snapshot.metadata.index);
      r.raftLog.appliedTo(rd.snapshot.metadata.index);
    }
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) r.raftLog.appliedTo(lastCommitted.index);
    const acks = this.outstandingSelfAcks;
    this.outstandingSelfAcks = undefined;
    r.stepSelfAcks(acks);
  }
}
