import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { SqlitePeerStorage } from "../../src/objects/sqlite-peer-storage";
import { peerStorageSuite } from "../shared/peer-storage-suite";

// A fresh PeerObject per test gives each one an empty database. The storage
// can only be touched from inside the object, so each test body runs in the
// runInDurableObject callback; `reopen` builds a second SqlitePeerStorage
// over the same database, which is what the object does after an eviction.
let objects = 0;

peerStorageSuite(
  "SqlitePeerStorage",
  (body) =>
    runInDurableObject(env.PEERS.getByName(`peer-storage-suite:${++objects}`), (_instance, state) =>
      body(new SqlitePeerStorage(state.storage), () => new SqlitePeerStorage(state.storage)),
    ),
  { reopen: true },
);
