// The changes one command plans, kept aside until the command knows it
// succeeds. Commands check every key first and only then write, so a failed
// command leaves storage untouched (all-or-nothing without relying on the
// storage's rollback) and reads during the check never see half a command.
// This is TinyKV's MvccTxn: reads go to the store, writes to a buffer.

import { encodeKey } from './key-codec';
import type { MvccWriter, TxnColumnFamily } from './mvcc-store';
import { type Lock, type Write, encodeLock, encodeWrite } from './records';

type Modify =
  | { op: 'put'; cf: TxnColumnFamily; key: Uint8Array; value: Uint8Array }
  | { op: 'delete'; cf: TxnColumnFamily; key: Uint8Array };

export class MvccTxn {
  /** Planned changes, in the order they will be written. */
  private readonly mods: Modify[] = [];

  get size(): number {
    return this.mods.length;
  }

  putLock(key: Uint8Array, lock: Lock): void {
    this.mods.push({ op: 'put', cf: 'lock', key, value: encodeLock(lock) });
  }

  deleteLock(key: Uint8Array): void {
    this.mods.push({ op: 'delete', cf: 'lock', key });
  }

  putValue(key: Uint8Array, startTs: bigint, value: Uint8Array): void {
    this.mods.push({ op: 'put', cf: 'default', key: encodeKey(key, startTs), value });
  }

  deleteValue(key: Uint8Array, startTs: bigint): void {
    this.mods.push({ op: 'delete', cf: 'default', key: encodeKey(key, startTs) });
  }

  /** `commitTs` is the commit ts for a commit record and the txn's startTs for a rollback. */
  putWrite(key: Uint8Array, commitTs: bigint, write: Write): void {
    this.mods.push({ op: 'put', cf: 'write', key: encodeKey(key, commitTs), value: encodeWrite(write) });
  }

  deleteWrite(key: Uint8Array, commitTs: bigint): void {
    this.mods.push({ op: 'delete', cf: 'write', key: encodeKey(key, commitTs) });
  }

  /** Writes every planned change, in order. */
  flush(writer: MvccWriter): void {
    for (const m of this.mods) {
      if (m.op === 'put') writer.put(m.cf, m.key, m.value);
      else writer.delete(m.cf, m.key);
    }
  }
}
