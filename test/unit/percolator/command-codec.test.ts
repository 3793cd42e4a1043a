import { describe, expect, it } from 'vitest';
import { decodeTxnCommand, encodeTxnCommand } from '../../../src/percolator/command-codec';
import { txnSpan } from '../../../src/percolator/command-span';
import type { TxnCommand } from '../../../src/percolator/commands';
import { tsMax } from '../../../src/percolator/timestamp';
import { encodeTagged } from '../../../src/store/command-codec';
import { AssertionError } from '../../../src/util/assert';
import { utf8 } from '../../../src/util/bytes';

const b = utf8;

const commands: TxnCommand[] = [
  {
    type: 'Prewrite',
    mutations: [
      { op: 'put', key: b('a'), value: Uint8Array.of(0, 255, 7) },
      { op: 'put', key: b('i'), value: b(''), assertNotExists: true },
      { op: 'delete', key: b('b') },
      { op: 'lock', key: b('c') },
      { op: 'assert_not_exists', key: b('d') },
    ],
    primary: b('a'),
    startTs: tsMax - 1n,
    lockTtl: 3000,
    minCommitTs: tsMax,
  },
  { type: 'PrewriteAndCommit', mutations: [{ op: 'put', key: b('a'), value: b('v') }], startTs: 1n, commitTs: 2n },
  { type: 'Commit', keys: [b('a'), b('b')], startTs: 10n, commitTs: 12n },
  { type: 'Rollback', keys: [], startTs: 0n },
  { type: 'CheckTxnStatus', primary: b('p'), lockTs: 5n, currentTs: 6n, callerStartTs: 7n },
  { type: 'CheckTxnStatus', primary: b('p'), lockTs: 5n, currentTs: 6n },
  { type: 'ResolveLock', startTs: 5n, commitTs: 0n, scope: { start: new Uint8Array(0), end: b('z') }, limit: 64 },
  { type: 'ResolveLock', startTs: 5n, commitTs: 9n, scope: { keys: [b('x')] }, limit: 1 },
  { type: 'TxnHeartbeat', primary: b('p'), startTs: 5n, adviseTtl: 10_000 },
  { type: 'Gc', safePoint: 1n << 40n, start: b('a'), end: new Uint8Array(0), limit: 256 },
];

describe('txn command codec', () => {
  it('round trips every command, bigints and bytes included', () => {
    for (const cmd of commands) expect(decodeTxnCommand(encodeTxnCommand(cmd))).toEqual(cmd);
  });

  it('refuses to encode an invalid command', () => {
    expect(() => encodeTxnCommand({ type: 'Commit', keys: [b('a')], startTs: 5n, commitTs: 5n })).toThrow(AssertionError);
  });

  it('refuses to decode bytes that are not a valid command', () => {
    expect(() => decodeTxnCommand(encodeTagged({ type: 'Commit', keys: [], startTs: { $n: '5' } }))).toThrow(AssertionError);
    expect(() => decodeTxnCommand(encodeTagged({ type: 'Nope' }))).toThrow(AssertionError);
    expect(() => decodeTxnCommand(encodeTagged({ type: 'Rollback', keys: [], startTs: { $n: '-1' } }))).toThrow(AssertionError);
    expect(() => decodeTxnCommand(encodeTagged({ type: 'Rollback', keys: [], startTs: { $n: '18446744073709551616' } }))).toThrow(
      AssertionError,
    );
    expect(() => decodeTxnCommand(encodeTagged({ type: 'Rollback', keys: [], startTs: 5 }))).toThrow(AssertionError);
    expect(() => decodeTxnCommand(b('{not json'))).toThrow();
  });
});

describe('txnSpan', () => {
  it('names the keys or range each command touches', () => {
    expect(txnSpan(commands[0]!)).toEqual({ kind: 'keys', keys: [b('a'), b('i'), b('b'), b('c'), b('d')] });
    expect(txnSpan(commands[2]!)).toEqual({ kind: 'keys', keys: [b('a'), b('b')] });
    expect(txnSpan(commands[4]!)).toEqual({ kind: 'keys', keys: [b('p')] });
    expect(txnSpan(commands[6]!)).toEqual({ kind: 'range', start: new Uint8Array(0), end: b('z') });
    expect(txnSpan(commands[7]!)).toEqual({ kind: 'keys', keys: [b('x')] });
    expect(txnSpan(commands[9]!)).toEqual({ kind: 'range', start: b('a'), end: new Uint8Array(0) });
    expect(txnSpan({ type: 'TxnGet', key: b('g'), ts: 1n })).toEqual({ kind: 'keys', keys: [b('g')] });
    expect(txnSpan({ type: 'TxnScan', start: b('s'), end: b('t'), limit: 1, ts: 1n })).toEqual({ kind: 'range', start: b('s'), end: b('t') });
  });
});
