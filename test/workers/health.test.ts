import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PeerObject } from "../../src/index";

// `exports.default` is the worker's own default export (what the pool's
// deprecated `SELF` was); the host name is ignored.
const worker = exports.default;

describe("worker", () => {
  it("answers GET /v1/health without a token", async () => {
    const res = await worker.fetch("http://regionkv.test/v1/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it("answers an unknown route with 404 NOT_FOUND", async () => {
    const res = await worker.fetch("http://regionkv.test/v1/no-such-route");
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("NOT_FOUND");
    expect(body.error.message).not.toBe("");
  });
});

describe("PeerObject", () => {
  it("is backed by SQLite storage", async () => {
    const stub = env.PEERS.getByName("peer:1");
    const rows = await runInDurableObject(stub, (instance, state) => {
      expect(instance).toBeInstanceOf(PeerObject);
      const sql = state.storage.sql;
      sql.exec("CREATE TABLE probe (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
      sql.exec("INSERT INTO probe (k, v) VALUES (?, ?)", "a", 1);
      return sql.exec<{ k: string; v: number }>("SELECT k, v FROM probe").toArray();
    });
    expect(rows).toEqual([{ k: "a", v: 1 }]);
  });
});
