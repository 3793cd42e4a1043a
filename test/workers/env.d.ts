import type { Env as RegionkvEnv } from "../../src/api/env";

// Types `env` and `exports` from "cloudflare:workers" in the workers tests.
declare global {
  namespace Cloudflare {
    interface Env extends RegionkvEnv {}
    interface GlobalProps {
      mainModule: typeof import("../../src/index");
      durableNamespaces: "PeerObject" | "SchedulerObject";
    }
  }
}
