// Malformed commands become Invalid outcomes on every replica (never an
// exception at apply time) and write nothing.

import { describe, expect, it } from 'vitest';
import type { TxnCommand } from '../../../src/percolator/commands';
import { validateTxnCommand, validateTxnRead } from '../../../src/percolator/validate';
import { utf8 } from '../../../src/util/bytes';
import { TxnHarness } from './harness';

const b = utf8;
const none: Uint8Array = new Uint8Array(0);

describe('validation', () => {
  const bad: [string, unknown][] = [
    ['not an object', 42],
    ['unknown type', { type: 'Explode' }],
    ['duplicate keys', { type: 'Prewrite', mutations: [{ op: 'put', key: b('a'), value: b('1') }, { op: 'lock', key: b('a') }], primary: b('a'), startTs: 1n, lockTtl: 1 }],
    ['empty key', { type: 'Prewrite', mutations: [{ op: 'delete', key: none }], primary: b('a'), startTs: 1n, lockTtl: 1 }],
    ['unknown op', { type: 'Prewrite', mutations: [{ op: 'upsert', key: b('a') }], primary: b('a'), startTs: 1n, lockTtl: 1 }],
    ['put without value', { type: 'Prewrite', mutations: [{ op: 'put', key: b('a') }], primary: b('a'), startTs: 1n, lockTtl: 1 }],
    ['number ts', { type: 'Prewrite', mutations: [], primary: b('a'), startTs: 1, lockTtl: 1 }],
    ['fractional ttl', { type: 'Prewrite', mutations: [], primary: b('a'), startTs: 1n, lockTtl: 1.5 }],
    ['ts above u64', { type: 'Rollback', keys: [], startTs: 1n << 64n }],
    ['keys not bytes', { type: 'Commit', keys: ['a'], startTs: 1n, commitTs: 2n }],
    ['bad scope', { type: 'ResolveLock', startTs: 1n, commitTs: 0n, scope: { start: 'a', end: none }, limit: 1 }],
    ['zero limit', { type: 'ResolveLock', startTs: 1n, commitTs: 0n, scope: { keys: [] }, limit: 0 }],
    ['negative adviseTtl', { type: 'TxnHeartbeat', primary: b('p'), startTs: 1n, adviseTtl: -5 }],
    ['bad callerStartTs', { type: 'CheckTxnStatus', primary: b('p'), lockTs: 1n, currentTs: 2n, callerStartTs: 'x' }],
  ];

  it.each(bad)('rejects %s', (_name, cmd) => {
    expect(validateTxnCommand(cmd)).toEqual(expect.any(String));
    const h = new TxnHarness();
    expect(h.apply(cmd as TxnCommand).type).toBe('Invalid');
    expect(h.dump()).toBe(new TxnHarness().dump());
  });

  it('accepts valid reads and rejects bad ones', () => {
    expect(validateTxnRead({ type: 'TxnGet', key: b('a'), ts: 1n, bypassLocks: [2n] })).toBeUndefined();
    expect(validateTxnRead({ type: 'TxnGet', key: b('a'), ts: 1n, bypassLocks: [2] })).toEqual(expect.any(String));
    expect(validateTxnRead({ type: 'TxnScan', start: none, end: none, limit: 0, ts: 1n, reverse: 'yes' })).toEqual(expect.any(String));
    expect(validateTxnRead({ type: 'RawGet', key: b('a') })).toEqual(expect.any(String));
  });
});
