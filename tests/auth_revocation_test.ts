import assert from "node:assert/strict";
import { startBridge } from "../scripts/redis_rest_bridge.ts";
import { createApp } from "../src/app.ts";
import type { Revocation, Revocations } from "../src/auth/revocations.ts";
import { createSql } from "../src/db/client.ts";
import { delay, startRedisServer, startTcpProxy } from "./local_servers.ts";
import { registerRider, startTestApp, type TestApp, testConfig, testDeps } from "./support.ts";

// Two instances of the service on the same database and Redis prefix, as behind a load balancer.
let a: TestApp;
let b: TestApp;
Deno.test.beforeAll(async () => {
  a = await startTestApp();
  b = await startTestApp();
  await Promise.all([untilFresh(a.deps.revocations), untilFresh(b.deps.revocations)]);
});
Deno.test.afterAll(async () => {
  await a.close();
  await b.close();
});

async function untilFresh(revocations: Revocations, fresh = true) {
  const deadline = Date.now() + 5000;
  while (revocations.fresh() !== fresh) {
    if (Date.now() > deadline) throw new Error(`revocation feed never became fresh=${fresh}`);
    await delay(20);
  }
}

async function newKey(t: TestApp, token: string): Promise<{ id: string; key: string }> {
  const res = await t.request("POST", "/api/users/me/api-keys", {
    token,
    body: { name: "trainer" },
  });
  assert.equal(res.status, 201);
  return await res.json();
}

async function status(t: TestApp, headers: Record<string, string>): Promise<number> {
  const res = await t.request("GET", "/api/users/me", { headers });
  await res.body?.cancel();
  return res.status;
}

/** Polls `t` until `headers` are refused; answers the delay in ms (asserting it is under 1 s). */
async function refusedWithin1s(t: TestApp, headers: Record<string, string>, since: number) {
  for (;;) {
    const code = await status(t, headers);
    const elapsed = Date.now() - since;
    if (code === 401) {
      assert.ok(elapsed < 1000, `refused only after ${elapsed} ms`);
      // And it stays refused.
      for (let i = 0; i < 5; i++) {
        await delay(50);
        assert.equal(await status(t, headers), 401);
      }
      return elapsed;
    }
    assert.ok(code === 200 || code === 404, `answered ${code}`); // 404: a deleted account
    if (elapsed > 3000) assert.fail(`still accepted ${elapsed} ms after the revocation`);
    await delay(5);
  }
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

Deno.test("logout on instance A: instance B refuses the access token within 1 s", async () => {
  const rider = await registerRider(a);
  assert.equal(await status(b, bearer(rider.accessToken)), 200);
  const since = Date.now();
  const out = await a.request("POST", "/api/auth/logout", { token: rider.accessToken });
  assert.equal(out.status, 200);
  await out.body?.cancel();
  const ms = await refusedWithin1s(b, bearer(rider.accessToken), since);
  console.log(`  logout on A -> token refused on B after ${ms} ms`);
});

Deno.test("a reused refresh token revokes the session on every instance within 1 s", async () => {
  const rider = await registerRider(a);
  const first = await a.request("POST", "/api/auth/refresh", {
    body: { refreshToken: rider.refreshToken },
  });
  assert.equal(first.status, 200);
  const { accessToken } = await first.json();
  assert.equal(await status(b, bearer(accessToken)), 200);
  const since = Date.now();
  const reused = await a.request("POST", "/api/auth/refresh", {
    body: { refreshToken: rider.refreshToken },
  });
  assert.equal(reused.status, 401);
  await reused.body?.cancel();
  const ms = await refusedWithin1s(b, bearer(accessToken), since);
  console.log(`  refresh reuse on A -> token refused on B after ${ms} ms`);
});

Deno.test("API key revoked on instance A: instance B refuses its cached key within 1 s", async () => {
  const rider = await registerRider(a);
  const { id, key } = await newKey(a, rider.accessToken);
  assert.equal(await status(b, { "x-api-key": key }), 200); // now in B's cache
  const since = Date.now();
  const revoked = await a.request("DELETE", `/api/users/me/api-keys/${id}`, {
    token: rider.accessToken,
  });
  assert.equal(revoked.status, 204);
  const ms = await refusedWithin1s(b, { "x-api-key": key }, since);
  console.log(`  API key revoke on A -> key refused on B after ${ms} ms`);
});

Deno.test("account deleted on instance A: B refuses its tokens and keys within 1 s", async () => {
  const rider = await registerRider(a);
  const { key } = await newKey(a, rider.accessToken);
  const login = await b.request("POST", "/api/auth/login", {
    body: { email: rider.email, password: rider.password },
  });
  const other = (await login.json()).accessToken as string; // a second session, made on B
  assert.equal(await status(b, { "x-api-key": key }), 200);
  assert.equal(await status(b, bearer(other)), 200);
  const since = Date.now();
  const deleted = await a.request("DELETE", "/api/users/me", { token: rider.accessToken });
  assert.equal(deleted.status, 200);
  await deleted.body?.cancel();
  const tokenMs = await refusedWithin1s(b, bearer(other), since);
  const keyMs = await refusedWithin1s(b, { "x-api-key": key }, since);
  console.log(
    `  account deletion on A -> refused on B: token ${tokenMs} ms, key ${keyMs} ms (checked after the token)`,
  );
});

Deno.test("a subscriber on instance B hears of a revocation made on instance A", async () => {
  const rider = await registerRider(a);
  const [{ sessionId }] = await a.sql`
    select session_id from refresh_tokens where user_id = ${rider.user.id}
  `;
  const heard: Revocation[] = [];
  const unsubscribe = b.deps.revocations.subscribe((r) => heard.push(r));
  try {
    const since = Date.now();
    const out = await a.request("POST", "/api/auth/logout", { token: rider.accessToken });
    assert.equal(out.status, 200);
    await out.body?.cancel();
    const mine = () => heard.filter((r) => r.kind === "session" && r.id === sessionId);
    while (mine().length === 0) {
      assert.ok(Date.now() - since < 1000, "B's listener was not called within 1 s");
      await delay(5);
    }
    console.log(`  logout on A -> B's listener called after ${Date.now() - since} ms`);
    await delay(600); // a few more polls: the listener is called once per revocation
    assert.equal(mine().length, 1);
    assert.equal(b.deps.revocations.isRevoked({ kind: "session", id: sessionId }), true);
  } finally {
    unsubscribe();
  }
});

Deno.test("with Postgres cut off, riders with a token or an API key still ingest samples and telemetry", async () => {
  const rider = await registerRider(a);
  const { key } = await newKey(a, rider.accessToken);
  const token = bearer(rider.accessToken);
  const keyed = { "x-api-key": key };
  // A rider's stream starts a workout bound to it.
  const start = async (headers: Record<string, string>, streamName: string) => {
    const res = await a.request("POST", "/api/streams/create", { headers, body: { streamName } });
    assert.equal(res.status, 200);
    const { workoutId } = await res.json();
    assert.ok(workoutId);
    return workoutId as string;
  };
  const tokenStream = `workout-token-${Date.now()}`;
  const keyStream = `workout-key-${Date.now()}`;
  const viaToken = await start(token, tokenStream);
  const viaKey = await start(keyed, keyStream);

  const db = new URL(a.deps.config.databaseUrl);
  const proxy = startTcpProxy({ hostname: db.hostname, port: Number(db.port) });
  const viaProxy = new URL(db.href);
  viaProxy.port = String(proxy.port);
  const sql = createSql(viaProxy.href, { max: 2, connectTimeoutS: 2 });
  const app = createApp({ ...a.deps, sql });
  const send = (path: string, headers: Record<string, string>, body: unknown) =>
    app.request(path, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  try {
    assert.equal((await app.request("/api/users/me", { headers: keyed })).status, 200);
    proxy.down();
    const offline = await app.request(`/api/workouts/${viaToken}`, { headers: token });
    assert.equal(offline.status, 503); // the database really is out of reach
    await offline.body?.cancel();

    const samples = { samples: [{ time: Date.now(), power: 210, cadence: 90 }] };
    for (const [id, headers] of [[viaToken, token], [viaKey, keyed]] as const) {
      const res = await send(`/api/workouts/${id}/samples`, headers, samples);
      assert.equal(res.status, 202, await res.clone().text());
      assert.equal((await res.json()).accepted, 1);
    }
    const telemetry = {
      message: JSON.stringify({ power: 220, cadence: 88, timestamp: Date.now() }),
    };
    for (const [name, headers] of [[tokenStream, token], [keyStream, keyed]] as const) {
      const res = await send(`/api/streams/${name}/messages`, headers, telemetry);
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal((await res.json()).success, true);
    }
    // A revocation still reaches this Postgres-less instance through the feed.
    const out = await a.request("POST", "/api/auth/logout", { token: rider.accessToken });
    assert.equal(out.status, 200);
    await out.body?.cancel();
    await delay(600);
    const refused = await send(`/api/workouts/${viaToken}/samples`, token, samples);
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
  } finally {
    proxy.up();
    await sql.end({ timeout: 1 });
    await proxy.close();
  }
  assert.equal((await a.deps.workoutLive.readAll(viaKey)).samples.length, 1);
});

Deno.test("with the revocation feed stale (Redis unreachable), revoked credentials stay refused via Postgres", async () => {
  // Instance C talks to a Redis of its own, which then goes down: it cannot see revocations.
  const redis = await startRedisServer();
  const bridge = await startBridge({ port: 0, redisUrl: redis.url, token: "stale-token" });
  const config = testConfig({ redisRestUrl: bridge.url, redisRestToken: "stale-token" });
  const db = new URL(config.databaseUrl);
  const proxy = startTcpProxy({ hostname: db.hostname, port: Number(db.port) });
  const viaProxy = new URL(db.href);
  viaProxy.port = String(proxy.port);
  const sql = createSql(viaProxy.href, { max: 2, connectTimeoutS: 2 });
  const deps = await testDeps(config, sql);
  const c = createApp(deps);
  const get = async (headers: Record<string, string>) => {
    const res = await c.request("/api/users/me", { headers });
    await res.body?.cancel();
    return res.status;
  };
  try {
    await untilFresh(deps.revocations);
    const rider = await registerRider(a);
    const { id, key } = await newKey(a, rider.accessToken);
    const login = await a.request("POST", "/api/auth/login", {
      body: { email: rider.email, password: rider.password },
    });
    const kept = (await login.json()).accessToken as string;
    assert.equal(await get(bearer(rider.accessToken)), 200);
    assert.equal(await get({ "x-api-key": key }), 200); // cached on C

    await redis.stop();
    await untilFresh(deps.revocations, false);
    // Revoked on A (whose Redis works); C never sees the feed entries.
    const out = await a.request("POST", "/api/auth/logout", { token: rider.accessToken });
    assert.equal(out.status, 200);
    await out.body?.cancel();
    const gone = await a.request("DELETE", `/api/users/me/api-keys/${id}`, { token: kept });
    assert.equal(gone.status, 204);

    assert.equal(await get(bearer(rider.accessToken)), 401);
    assert.equal(await get({ "x-api-key": key }), 401);
    assert.equal(await get(bearer(kept)), 200); // the other session is still good

    // Redis and Postgres both out of reach: nobody can be checked, so 503, never a guess.
    proxy.down();
    assert.equal(await get(bearer(kept)), 503);
  } finally {
    await deps.revocations.close();
    deps.hub.close();
    deps.live.close();
    await sql.end({ timeout: 1 });
    await proxy.close();
    await bridge.shutdown();
    await redis.stop();
  }
});

Deno.test("a revocation that cannot reach Redis answers 503 and still takes effect on its own instance", async () => {
  const redis = await startRedisServer();
  const bridge = await startBridge({ port: 0, redisUrl: redis.url, token: "pending-token" });
  const config = testConfig({ redisRestUrl: bridge.url, redisRestToken: "pending-token" });
  const sql = createSql(config.databaseUrl, { max: 2 });
  const deps = await testDeps(config, sql);
  const c = createApp(deps);
  try {
    await untilFresh(deps.revocations);
    const rider = await registerRider(a);
    await redis.stop();
    const out = await c.request("/api/auth/logout", {
      method: "POST",
      headers: bearer(rider.accessToken),
    });
    assert.equal(out.status, 503);
    assert.equal((await out.json()).code, "revocation_pending");
    const me = await c.request("/api/users/me", { headers: bearer(rider.accessToken) });
    assert.equal(me.status, 401);
    await me.body?.cancel();
    // Once Redis is back, the instance publishes what it kept, and the feed shows it again.
    await redis.start();
    const deadline = Date.now() + 5000;
    let entries: unknown[] = [];
    while (entries.length === 0 && Date.now() < deadline) {
      await delay(50);
      entries = await deps.live.raw.xrange(deps.live.keys.revocations, "-", "+")
        .then((rows) => Object.keys(rows)).catch(() => []);
    }
    assert.equal(entries.length, 1);
  } finally {
    await deps.revocations.close();
    deps.hub.close();
    deps.live.close();
    await sql.end({ timeout: 1 });
    await bridge.shutdown();
    await redis.stop();
  }
});
