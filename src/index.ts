import { Hono } from "hono";
import type { Env } from "./api/env";

export { PeerObject } from "./objects/peer-object";
export { SchedulerObject } from "./objects/scheduler-object";

const app = new Hono<{ Bindings: Env }>()
  .get("/v1/health", (c) => c.json({ ok: true }));

app.notFound((c) =>
  c.json(
    { error: { code: "NOT_FOUND", message: `no route for ${c.req.method} ${c.req.path}` } },
    404,
  ),
);

// A bug reaches here. The client gets what failed but never a stack (API.md);
// the full error goes to the worker's log.
app.onError((err, c) => {
  console.error(err);
  const message = err instanceof Error && err.message !== "" ? err.message : "internal error";
  return c.json({ error: { code: "INTERNAL", message } }, 500);
});

export default app;
