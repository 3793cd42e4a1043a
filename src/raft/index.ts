// Public surface of the Raft library.

export { type ConfChange, decodeConfChange, encodeConfChange } from './conf-change';
export { Inflights } from './inflights';
export { Progress, ProgressState } from './progress';
export { type Config, Raft } from './raft';
export { RaftLog } from './raft-log';
export { type Ready, RawNode, type SnapshotStatus } from './raw-node';
export {
  CompactedError,
  type InitialState,
  MemoryStorage,
  SnapshotOutOfDateError,
  SnapshotTemporarilyUnavailableError,
  type Storage,
  UnavailableError,
} from './storage';
export {
  type ConfState,
  ConfChangeType,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  type MessageInit,
  MessageType,
  None,
  type ReadState,
  type Snapshot,
  type SnapshotMetadata,
  type SoftState,
  StateType,
  type StepResult,
  entrySize,
  isEmptySnapshot,
} from './types';
