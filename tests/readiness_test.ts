/** GET /ready for orchestrators (503 while Postgres or Redis is down) beside GET /health (200). */
import assert from "node:assert/strict";
import { startBridge } from "../scripts/redis_rest_bridge.ts";
import { createApp } from "../src/app.ts";
import { createSql } from "../src/db/client.ts";
import { createLiveStore } from "../src/live/store.ts";
import { delay, startRedisServer, startTcpProxy } from "./local_servers.ts";
import { startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

type App = { request: (path: string) => Response | Promise<Response> };

async function status(app: App, path: string) {
  const res = await app.request(path);
  return { status: res.status, headers: res.headers, body: await res.json() };
}

/** Polls /ready until it answers `want` (a dependency coming back takes a moment). */
async function readyBecomes(app: App, want: number) {
  let last = 0;
  for (let i = 0; i < 100 && last !== want; i++) {
    if (i > 0) await delay(100);
    last = (await status(app, "/ready")).status;
  }
  return last;
}

Deno.test("GET /ready answers 200 when Postgres and Redis both answer", async () => {
  const ready = await status(t.app, "/ready");
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.body, { status: "ready", database: "up", redis: "up" });
  assert.equal(ready.headers.get("cache-control"), "no-store");
  const health = await status(t.app, "/health");
  assert.equal(health.status, 200);
  assert.equal(health.body.status, "ok");
});

Deno.test("GET /ready answers 503 naming the database while Postgres is cut; /health stays 200", async () => {
  const db = new URL(t.deps.config.databaseUrl);
  const proxy = startTcpProxy({ hostname: db.hostname, port: Number(db.port) });
  const viaProxy = new URL(db.href);
  viaProxy.port = String(proxy.port);
  const sql = createSql(viaProxy.href, { max: 2 });
  const app = createApp({ ...t.deps, sql });
  try {
    assert.equal((await status(app, "/ready")).status, 200);
    proxy.down();
    const ready = await status(app, "/ready");
    assert.equal(ready.status, 503);
    assert.equal(ready.body.code, "service_unavailable");
    assert.equal(ready.body.database, "down");
    assert.equal(ready.body.redis, "up");
    assert.match(ready.body.error, /database/);
    assert.equal(typeof ready.body.requestId, "string");
    assert.ok(ready.headers.get("retry-after"));
    // Many probes at once while it is down: each answers 503, none is left hanging.
    const burst = await Promise.all(Array.from({ length: 20 }, () => status(app, "/ready")));
    assert.deepEqual(new Set(burst.map((r) => r.status)), new Set([503]));

    const health = await status(app, "/health");
    assert.equal(health.status, 200);
    assert.equal(health.body.status, "degraded");
    assert.equal(health.body.database, "disconnected");
    assert.equal(health.body.redis, "connected");

    proxy.up();
    assert.equal(await readyBecomes(app, 200), 200);
  } finally {
    await sql.end({ timeout: 1 });
    await proxy.close();
  }
});

Deno.test("GET /ready answers 503 naming Redis while Redis is stopped; /health stays 200", async () => {
  const redis = await startRedisServer();
  const bridge = await startBridge({ port: 0, redisUrl: redis.url, token: "ready-token" });
  const live = createLiveStore({
    url: bridge.url,
    token: "ready-token",
    prefix: "bpt:",
    retries: 0,
  });
  const app = createApp({ ...t.deps, live });
  try {
    assert.equal((await status(app, "/ready")).status, 200);
    await redis.stop();
    const ready = await status(app, "/ready");
    assert.equal(ready.status, 503);
    assert.equal(ready.body.code, "service_unavailable");
    assert.equal(ready.body.redis, "down");
    assert.equal(ready.body.database, "up");
    assert.match(ready.body.error, /Redis/);

    const health = await status(app, "/health");
    assert.equal(health.status, 200);
    assert.equal(health.body.status, "degraded");
    assert.equal(health.body.redis, "disconnected");
    assert.equal(health.body.database, "connected");

    await redis.start();
    assert.equal(await readyBecomes(app, 200), 200);
  } finally {
    live.close();
    await bridge.shutdown();
    await redis.stop();
  }
});

Deno.test("GET /ready sends one query for many probes while the database does not answer", async () => {
  // A server that accepts connections and never says a word: queries hang, they do not fail.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })().catch(() => {});
  const url = new URL(t.deps.config.databaseUrl);
  url.port = String((silent.addr as Deno.NetAddr).port);
  const real = createSql(url.href, { max: 4 });
  let queries = 0;
  const sql = new Proxy(real, {
    apply(target, self, args) {
      queries++;
      return Reflect.apply(target, self, args);
    },
  });
  const app = createApp({ ...t.deps, sql });
  try {
    const burst = await Promise.all(Array.from({ length: 10 }, () => status(app, "/ready")));
    for (const ready of burst) {
      assert.equal(ready.status, 503);
      assert.equal(ready.body.database, "down");
    }
    assert.equal(queries, 1);
  } finally {
    await real.end({ timeout: 0 });
    silent.close();
    for (const conn of held) conn.close();
    await accepting;
  }
});

Deno.test("GET /ready answers 503 naming both when neither answers", async () => {
  const db = new URL(t.deps.config.databaseUrl);
  const proxy = startTcpProxy({ hostname: db.hostname, port: Number(db.port) });
  const viaProxy = new URL(db.href);
  viaProxy.port = String(proxy.port);
  const sql = createSql(viaProxy.href, { max: 2 });
  const live = createLiveStore({
    url: "http://127.0.0.1:9",
    token: "x",
    prefix: "bpt:",
    retries: 0,
  });
  const app = createApp({ ...t.deps, sql, live });
  try {
    proxy.down();
    const ready = await status(app, "/ready");
    assert.equal(ready.status, 503);
    assert.equal(ready.body.database, "down");
    assert.equal(ready.body.redis, "down");
    assert.equal((await status(app, "/health")).status, 200);
  } finally {
    live.close();
    await sql.end({ timeout: 1 });
    await proxy.close();
  }
});
