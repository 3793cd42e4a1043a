// A bench-only Worker, bundled and loaded next to the real regionkv worker by
// bench/tso.ts (never deployed, no route in src/api). It runs the TSO client
// where production runs it, inside workerd, with its SCHEDULER binding
// pointing at regionkv's SchedulerObject, so the numbers are timestamps
// served to a worker rather than to Node through Miniflare's proxy.
//
//   GET /?concurrency=64&ms=3000   runs `concurrency` loops of getTimestamp()
//                                  for `ms`, answers with a TsoRunResult
//   ...&direct=1                   the loops call getTimestamps(1) on the stub
//                                  themselves, no coalescing: what batching buys

import { TsoClient } from '../src/api/tso-client';
import { schedulerStub } from '../src/objects/peer-api';
import type { Env } from '../src/api/env';

export interface TsoRunResult {
  concurrency: number;
  timestamps: number;
  rpcs: number;
  /** As the worker saw it; Date.now() in workerd only advances across I/O, so bench/tso.ts times the run itself. */
  workerElapsedMs: number;
  /** Every loop saw its timestamps strictly increase (the client checks batches never overlap). */
  monotonic: boolean;
}

const concurrencyMax = 4096;
const runMsMax = 60_000;

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const concurrency = Number(url.searchParams.get('concurrency'));
    const ms = Number(url.searchParams.get('ms'));
    if (!(Number.isSafeInteger(concurrency) && concurrency >= 1 && concurrency <= concurrencyMax)) {
      return new Response(`concurrency must be in [1, ${concurrencyMax}]`, { status: 400 });
    }
    if (!(Number.isSafeInteger(ms) && ms >= 1 && ms <= runMsMax)) {
      return new Response(`ms must be in [1, ${runMsMax}]`, { status: 400 });
    }
    const stub = schedulerStub(env);
    let directRpcs = 0;
    const direct = url.searchParams.get('direct') === '1';
    const client = new TsoClient((count) => stub.getTimestamps(count));
    const next = direct
      ? async () => {
          directRpcs++;
          return (await stub.getTimestamps(1)).first;
        }
      : () => client.getTimestamp();
    const start = Date.now();
    const deadline = start + ms;
    let monotonic = true;
    // Each loop checks its own timestamps increase; that batches never
    // overlap is asserted by the client as each answer arrives.
    const loops = Array.from({ length: concurrency }, async () => {
      let previous = -1n;
      while (Date.now() < deadline) {
        const ts = await next();
        if (ts <= previous) monotonic = false;
        previous = ts;
      }
    });
    await Promise.all(loops);
    const result: TsoRunResult = {
      concurrency,
      timestamps: direct ? directRpcs : client.timestampCount,
      rpcs: direct ? directRpcs : client.rpcCount,
      workerElapsedMs: Date.now() - start,
      monotonic,
    };
    return Response.json(result);
  },
};
