// Percolator MVCC: what the rest of regionkv uses.

export * from './commands';
export { decodeTxnCommand, encodeTxnCommand } from './command-codec';
export { type TxnSpan, txnSpan } from './command-span';
export { applyTxnCommand, readTxn } from './execute';
export { decodeBytes, decodeKey, encodeBytes, encodeKey, nextKey, userKeyRange, versionRange } from './key-codec';
export { lockExpired } from './txn-status';
export { lockBlocksRead } from './read';
export { type MvccLimits, type MvccStore, type MvccWriter, type TxnColumnFamily, defaultMvccLimits } from './mvcc-store';
export { getLock, readValue, txnRecord, type TxnRecord, type WriteAt } from './mvcc-reader';
export { type Lock, type LockKind, type Write, type WriteKind, decodeLock, decodeWrite, encodeLock, encodeWrite } from './records';
export { assertTimestamp, composeTs, isTimestamp, physicalMs, tsLogicalBits, tsMax } from './timestamp';
export { isTxnCommand, isTxnRead, validateTxnCommand, validateTxnRead } from './validate';
