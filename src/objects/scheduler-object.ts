import { DurableObject } from "cloudflare:workers";
import type { Env } from "../api/env";

/** The cluster's placement driver (TiKV's PD): one instance, named `scheduler`. */
export class SchedulerObject extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // TSO, id allocation and the region registry land with the scheduler issue; nothing to create yet.
    void ctx.blockConcurrencyWhile(async () => {});
  }
}
