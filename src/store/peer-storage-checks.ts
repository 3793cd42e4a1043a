// The rules both PeerStorage backends enforce, in one place so that the
// simulator's MemoryPeerStorage and the Durable Object's SqlitePeerStorage
// cannot drift apart: the raft log's read contract (MemoryStorage's, exactly),
// where an append may land, and the invariants of the persistent records.
// Every check is an assertion: a violation is a bug in the caller, and a
// replica that persisted it would diverge, so it must stop instead.

import { CompactedError, type Entry, EntryType, type HardState, UnavailableError } from '../raft';
import { assert } from '../util/assert';
import type { ApplyState, ScanOptions } from './peer-storage';
import { type RegionMeta, assertValidRegion } from './region';

export function emptyApplyState(): ApplyState {
  return { appliedIndex: 0, truncatedState: { index: 0, term: 0 } };
}

export function cloneApplyState(s: ApplyState): ApplyState {
  return { appliedIndex: s.appliedIndex, truncatedState: { ...s.truncatedState } };
}

export function assertIndex(n: number, what: string): void {
  assert(Number.isSafeInteger(n) && n >= 0, `${what} must be a non-negative safe integer, got ${n}`);
}

/**
 * The raft log as both backends keep it: a contiguous run of entries
 * [logFirst, logLast] (both 0 when empty) behind the truncated state. Entries
 * at or below the truncated index may linger until log GC deletes them; they
 * are never read.
 */
export interface LogBounds {
  truncatedIndex: number;
  logFirst: number;
  logLast: number;
}

export function firstIndexOf(b: LogBounds): number {
  return b.truncatedIndex + 1;
}

/** After a snapshot the log may be empty: the last index is then the snapshot's. */
export function lastIndexOf(b: LogBounds): number {
  return Math.max(b.logLast, b.truncatedIndex);
}

/**
 * Throws for entries(lo, hi) exactly where MemoryStorage does, in the same
 * order: CompactedError at or below the truncated index, an assertion past
 * the end, UnavailableError when no entry is stored at all. After it returns,
 * every index in [lo, hi) is stored.
 */
export function checkEntriesRange(lo: number, hi: number, b: LogBounds): void {
  const first = firstIndexOf(b);
  const last = lastIndexOf(b);
  if (lo < first) throw new CompactedError(`entries from ${lo}: compacted through ${b.truncatedIndex}`);
  assert(hi <= last + 1, `entries hi ${hi} beyond last index ${last}`);
  assert(lo <= hi, `entries: lo ${lo} above hi ${hi}`);
  if (last < first) throw new UnavailableError('no entry is stored after the truncated index');
}

/**
 * Throws for term(i) exactly where MemoryStorage does. Returns true when the
 * answer is the truncated term (i is the boundary), false when the caller
 * must look the entry up (then i is in [firstIndex, lastIndex]).
 */
export function checkTermIndex(i: number, b: LogBounds): boolean {
  if (i < b.truncatedIndex) throw new CompactedError(`term(${i}): compacted through ${b.truncatedIndex}`);
  if (i > lastIndexOf(b)) throw new UnavailableError(`term(${i}): beyond last index ${lastIndexOf(b)}`);
  return i === b.truncatedIndex;
}

const entryTypes: ReadonlySet<string> = new Set(Object.values(EntryType));

export function assertValidEntry(e: Entry): void {
  assert(Number.isSafeInteger(e.index) && e.index >= 1, `entry index must be a positive safe integer, got ${e.index}`);
  assert(Number.isSafeInteger(e.term) && e.term >= 1, `entry ${e.index}: term must be a positive safe integer`);
  assert(entryTypes.has(e.type), `entry ${e.index}: unknown type ${String(e.type)}`);
  assert(e.data instanceof Uint8Array, `entry ${e.index}: data must be a Uint8Array`);
}

/**
 * Validates a batch for appendEntries and returns the part to write: what
 * is already compacted is skipped (the caller may have read the log before a
 * compaction), as MemoryStorage.append does. The rest must start no later
 * than right after the last index, or the log would have a hole.
 */
export function entriesToAppend(entries: Entry[], b: LogBounds, termBefore: (i: number) => number): Entry[] {
  if (entries.length === 0) return entries;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    assertValidEntry(e);
    if (i > 0) {
      const prev = entries[i - 1]!;
      assert(e.index === prev.index + 1, `entries to append are not contiguous at ${prev.index} -> ${e.index}`);
      // Raft thesis §3.5 (Log Matching): terms never decrease along the log.
      assert(e.term >= prev.term, `entry ${e.index}: term ${e.term} below the previous entry's ${prev.term}`);
    }
  }
  const first = firstIndexOf(b);
  const fresh = entries[0]!.index < first ? entries.slice(first - entries[0]!.index) : entries;
  if (fresh.length === 0) return fresh;
  const start = fresh[0]!.index;
  const last = lastIndexOf(b);
  assert(start <= last + 1, `missing log entry: last index ${last}, appending at ${start}`);
  const prevTerm = termBefore(start - 1);
  assert(fresh[0]!.term >= prevTerm, `entry ${start}: term ${fresh[0]!.term} below entry ${start - 1}'s ${prevTerm}`);
  return fresh;
}

export function assertValidHardState(hs: HardState): void {
  assertIndex(hs.term, 'hard state term');
  assertIndex(hs.vote, 'hard state vote');
  assertIndex(hs.commit, 'hard state commit');
}

/** A persisted hard state only moves forward; a changed vote within a term is a double vote. */
export function assertHardStateAdvance(prev: HardState, next: HardState): void {
  assertValidHardState(next);
  assert(next.term >= prev.term, `hard state term went back: ${prev.term} -> ${next.term}`);
  assert(next.commit >= prev.commit, `hard state commit went back: ${prev.commit} -> ${next.commit}`);
  assert(
    next.term > prev.term || prev.vote === 0 || next.vote === prev.vote,
    `term ${next.term}: vote changed from ${prev.vote} to ${next.vote}`,
  );
}

export function assertValidApplyState(s: ApplyState): void {
  assertIndex(s.appliedIndex, 'applied index');
  assertIndex(s.truncatedState.index, 'truncated index');
  assertIndex(s.truncatedState.term, 'truncated term');
  assert(
    s.truncatedState.index <= s.appliedIndex,
    `truncated index ${s.truncatedState.index} above applied index ${s.appliedIndex}`,
  );
}

export function assertApplyStateAdvance(prev: ApplyState, next: ApplyState): void {
  assertValidApplyState(next);
  assert(next.appliedIndex >= prev.appliedIndex, `applied index went back: ${prev.appliedIndex} -> ${next.appliedIndex}`);
  assert(
    next.truncatedState.index >= prev.truncatedState.index,
    `truncated index went back: ${prev.truncatedState.index} -> ${next.truncatedState.index}`,
  );
  assert(
    next.truncatedState.term >= prev.truncatedState.term,
    `truncated term went back: ${prev.truncatedState.term} -> ${next.truncatedState.term}`,
  );
}

/** A Durable Object holds one peer for life: its id is set once (destroy clears it). */
export function assertPeerIdChange(prev: number | undefined, next: number): void {
  assert(Number.isSafeInteger(next) && next > 0, `peer id must be a positive safe integer, got ${next}`);
  assert(prev === undefined || prev === next, `peer id is ${prev}; it cannot become ${next}`);
}

/** A peer belongs to one region for life, whose epoch only moves forward (TiKV's RegionEpoch). */
export function assertRegionChange(prev: RegionMeta | undefined, next: RegionMeta): void {
  assertValidRegion(next);
  for (const p of next.peers) {
    assert(Number.isSafeInteger(p.id) && p.id > 0, `region ${next.id}: invalid peer id ${p.id}`);
    assert(Number.isSafeInteger(p.storeId) && p.storeId > 0, `region ${next.id}: invalid store id ${p.storeId}`);
  }
  assert(Number.isSafeInteger(next.epoch.version) && Number.isSafeInteger(next.epoch.confVer), 'epoch must be integers');
  if (prev === undefined) return;
  assert(prev.id === next.id, `this storage holds region ${prev.id}; it cannot become region ${next.id}`);
  assert(
    next.epoch.version >= prev.epoch.version && next.epoch.confVer >= prev.epoch.confVer,
    `region ${next.id}: epoch went back`,
  );
}

/**
 * What must hold when a write commits, and on load: the log has no hole
 * after the truncated index, and truncated <= applied <= commit <= last
 * (the ApplyState invariant; etcd checks commit <= last on restart too).
 */
export function assertStorageInvariants(hs: HardState, apply: ApplyState, b: LogBounds): void {
  assert(b.truncatedIndex === apply.truncatedState.index, 'log bounds disagree with the apply state');
  assert((b.logFirst === 0) === (b.logLast === 0) && b.logFirst <= b.logLast, `bad log bounds ${b.logFirst}..${b.logLast}`);
  if (b.logLast > b.truncatedIndex) {
    assert(
      b.logFirst <= b.truncatedIndex + 1,
      `log hole: truncated through ${b.truncatedIndex} but the log starts at ${b.logFirst}`,
    );
  }
  assertValidApplyState(apply);
  assert(apply.appliedIndex <= hs.commit, `applied index ${apply.appliedIndex} above commit ${hs.commit}`);
  assert(hs.commit <= lastIndexOf(b), `commit ${hs.commit} above last index ${lastIndexOf(b)}`);
}

export function assertScanOptions(o: ScanOptions): void {
  assert(o.start instanceof Uint8Array && o.end instanceof Uint8Array, 'scan bounds must be Uint8Array');
  assert(Number.isSafeInteger(o.limit) && o.limit >= 0, `scan limit must be a non-negative safe integer, got ${o.limit}`);
}

export function assertKeyValue(key: Uint8Array, value?: Uint8Array): void {
  assert(key instanceof Uint8Array, 'key must be a Uint8Array');
  assert(value === undefined || value instanceof Uint8Array, 'value must be a Uint8Array');
}
