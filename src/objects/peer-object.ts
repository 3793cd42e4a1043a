import { DurableObject } from "cloudflare:workers";
import type { Env } from "../api/env";

/** One replica of one region (TiKV's region peer), backed by its own SQLite database. */
export class PeerObject extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Schema and raft state recovery land with the region-peer issue; nothing to create yet.
    void ctx.blockConcurrencyWhile(async () => {});
  }
}
