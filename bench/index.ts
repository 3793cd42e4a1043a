// `npm run bench`: every benchmark, one after another, each printing its
// table and writing its JSON under bench/results/. The imports are dynamic
// and awaited in turn on purpose: sibling static imports of modules with
// top-level await (http, tso) run concurrently, and two benchmarks sharing
// the machine would spoil each other's figures.

await import('./raft');
await import('./http');
await import('./txn');
await import('./tso');

// Makes this file a module, so that top-level await is allowed in it.
export {};
