import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Every call in flight on an object reset by `ctx.abort()` (the region
    // tests reset a leader on purpose) rejects with `durableObjectReset: true`;
    // one that rejects before the test attached its handler reaches vitest as
    // an unhandled rejection (abort itself leaves none: checked under pool
    // 0.23). Ignore exactly those; every other unhandled error still fails
    // the run. This must sit at the root: vitest 4.1 ignores it per project.
    onUnhandledError(error) {
      return (error as { durableObjectReset?: unknown }).durableObjectReset === true ? false : undefined;
    },
    projects: [
      {
        // Pure modules and the cluster simulator, in plain Node.
        test: {
          name: "unit",
          environment: "node",
          include: ["test/unit/**/*.test.ts", "test/sim/**/*.test.ts"],
        },
      },
      {
        // The worker and real Durable Objects, inside workerd.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            // Test-only: lets tests make peers drop and partition messages
            // (PeerObject.setFaults). Never set in wrangler.toml.
            // A small log GC limit makes compactions and snapshots happen in
            // every test that writes a few dozen entries past a lagging peer.
            miniflare: { bindings: { FAULT_INJECTION: "on", RAFT_LOG_GC_COUNT_LIMIT: "40" } },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
        },
      },
      {
        // HTTP against `npm start` (wrangler dev) in a child process group,
        // see test/e2e/dev-server.ts. It runs after the projects above (a
        // later group), one file at a time, so its servers never compete
        // with them for CPU or with each other for the ports 8790-8899.
        test: {
          name: "e2e",
          environment: "node",
          include: ["test/e2e/**/*.test.ts"],
          pool: "forks",
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
