import assert from "node:assert/strict";
import { prng } from "./analytics_reference.ts";
import { metricFields } from "../src/core/sample.ts";
import { startBridge } from "../scripts/redis_rest_bridge.ts";
import { createApp } from "../src/app.ts";
import { createSql } from "../src/db/client.ts";
import { createLiveStore } from "../src/live/store.ts";
import { liveServices } from "../src/wiring.ts";
import { delay, startRedisServer, startTcpProxy } from "./local_servers.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

const t0 = Date.UTC(2026, 10, 21, 6, 0, 0);

function ride(n: number, start = t0) {
  return Array.from({ length: n }, (_, i) => ({ time: start + i * 1000, power: 200 + (i % 7) }));
}

async function activeWorkoutWith(token: string, samples: number) {
  const res = await t.request("POST", "/api/workouts", { token, body: {} });
  const { workout } = await res.json();
  for (let i = 0; i < samples; i += 100) {
    const batch = ride(Math.min(100, samples - i), t0 + i * 1000);
    const posted = await t.request("POST", `/api/workouts/${workout.id}/samples`, {
      token,
      body: { samples: batch },
    });
    assert.equal(posted.status, 202);
  }
  return workout.id as string;
}

async function telemetryCount(id: string): Promise<number> {
  const [row] = await t.sql`select count(*)::int as n from telemetry where workout_id = ${id}`;
  return row.n;
}

Deno.test("Postgres down during complete: 503, the live stream intact, a retry archives every sample", async () => {
  const rider = await registerRider(t);
  const id = await activeWorkoutWith(rider.accessToken, 500);

  const db = new URL(t.deps.config.databaseUrl);
  const proxy = startTcpProxy({ hostname: db.hostname, port: Number(db.port) });
  const viaProxy = new URL(db.href);
  viaProxy.port = String(proxy.port);
  const sql = createSql(viaProxy.href, { max: 2, connectTimeoutS: 2 });
  const app = createApp({ ...t.deps, sql });
  try {
    const headers = { authorization: `Bearer ${rider.accessToken}` };
    // Warm the pool (authentication itself reads the database), then cut the database off.
    assert.equal((await app.request(`/api/workouts/${id}`, { headers })).status, 200);
    proxy.down();
    const failed = await app.request(`/api/workouts/${id}/complete`, { method: "POST", headers });
    assert.equal(failed.status, 503);
    const body = await failed.json();
    assert.equal(body.code, "service_unavailable");
    assert.ok(failed.headers.get("retry-after"));

    const live = await t.deps.workoutLive.readAll(id);
    assert.equal(live.samples.length, 500);
    assert.equal(await telemetryCount(id), 0);
    const [row] = await t.sql`select status from workouts where id = ${id}`;
    assert.equal(row.status, "active");
    // Ingest goes on while the database is down (the ride was reopened).
    const more = await t.request("POST", `/api/workouts/${id}/samples`, {
      token: rider.accessToken,
      body: { samples: ride(10, t0 + 500_000) },
    });
    assert.equal(more.status, 202);

    proxy.up();
    const retried = await app.request(`/api/workouts/${id}/complete`, { method: "POST", headers });
    assert.equal(retried.status, 200);
    assert.equal((await retried.json()).archivedMessages, 510);
    assert.equal(await telemetryCount(id), 510);
    assert.equal(await t.deps.workoutLive.exists(id), false);
  } finally {
    await sql.end({ timeout: 1 });
    await proxy.close();
  }
});

Deno.test("two completes at once archive once, with no duplicate rows", async () => {
  const rider = await registerRider(t);
  const id = await activeWorkoutWith(rider.accessToken, 300);
  const [a, b] = await Promise.all([
    t.request("POST", `/api/workouts/${id}/complete`, { token: rider.accessToken }),
    t.request("POST", `/api/workouts/${id}/complete`, { token: rider.accessToken }),
  ]);
  assert.deepEqual([a.status, b.status].sort(), [200, 400]);
  await a.body?.cancel();
  await b.body?.cancel();
  assert.equal(await telemetryCount(id), 300);
  const [efforts] = await t.sql`
    select count(*)::int as n, count(distinct duration_s)::int as d from workout_efforts
    where workout_id = ${id}
  `;
  assert.equal(efforts.n, efforts.d);
});

Deno.test("a crash between commit and the Redis delete: a repeat finishes the cleanup", async () => {
  const rider = await registerRider(t);
  const id = await activeWorkoutWith(rider.accessToken, 100);
  const real = t.deps.workoutLive;
  const crashing = {
    ...real,
    remove: () => Promise.reject(new Error("process died before deleting the stream")),
  };
  const app = createApp({ ...t.deps, workoutLive: crashing });
  const headers = { authorization: `Bearer ${rider.accessToken}` };
  const first = await app.request(`/api/workouts/${id}/complete`, { method: "POST", headers });
  assert.equal(first.status, 200);
  await first.body?.cancel();
  assert.equal(await real.exists(id), true);

  const repeat = await t.request("POST", `/api/workouts/${id}/complete`, {
    token: rider.accessToken,
  });
  assert.equal(repeat.status, 400);
  await repeat.body?.cancel();
  assert.equal(await real.exists(id), false);
  assert.equal(await telemetryCount(id), 100);
});

Deno.test("Redis down during ingest: 503 and nothing half-written", async () => {
  const redis = await startRedisServer();
  const bridge = await startBridge({ port: 0, redisUrl: redis.url, token: "fault-token" });
  const live = createLiveStore({
    url: bridge.url,
    token: "fault-token",
    prefix: "bpt:",
    retries: 0,
  });
  const services = liveServices(live, t.deps.config, t.deps.log);
  const app = createApp({ ...t.deps, live, ...services });
  try {
    const rider = await registerRider(t);
    const headers = {
      authorization: `Bearer ${rider.accessToken}`,
      "content-type": "application/json",
    };
    const started = await app.request("/api/workouts", { method: "POST", headers, body: "{}" });
    const { workout } = await started.json();
    const send = (n: number, from: number) =>
      app.request(`/api/workouts/${workout.id}/samples`, {
        method: "POST",
        headers,
        body: JSON.stringify({ samples: ride(n, from) }),
      });
    assert.equal((await send(50, t0)).status, 202);

    await redis.stop();
    const down = await send(50, t0 + 50_000);
    assert.equal(down.status, 503);
    assert.equal((await down.json()).code, "service_unavailable");

    await redis.start();
    for (let i = 0; i < 100 && !(await live.ping(200)); i++) await delay(50);
    // A fresh Redis: the earlier batch was lost with the server (no persistence in this test),
    // but the failed batch must not have been partly written either.
    const page = await services.workoutLive.readAll(workout.id);
    assert.equal(page.samples.length, 0);
    assert.equal((await send(50, t0 + 50_000)).status, 202);
    const after = await services.workoutLive.readAll(workout.id);
    assert.equal(after.samples.length, 50);
  } finally {
    services.hub.close();
    await bridge.shutdown();
    await redis.stop();
  }
});

Deno.test("thousands of random and malformed sample batches: never a 500, nothing stored", async () => {
  const rider = await registerRider(t);
  const res = await t.request("POST", "/api/workouts", { token: rider.accessToken, body: {} });
  const { workout } = await res.json();
  const random = prng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  // Each value is invalid for every field (time included).
  const badValues = [-1000, 1e9, Number.MAX_VALUE, "100", true, [], {}, "NaN"];
  const fields = [...metricFields, "time"];
  let rejected = 0;
  for (let i = 0; i < 2000; i++) {
    const n = 1 + Math.floor(random() * 20);
    const samples: Record<string, unknown>[] = ride(n, t0 + i * 100_000);
    const kind = random();
    let body: string;
    if (kind < 0.7) {
      samples[Math.floor(random() * n)][pick(fields)] = pick(badValues);
      body = JSON.stringify({ samples });
    } else if (kind < 0.8) {
      body = JSON.stringify({
        samples: samples.map((s) => ({ ...s, time: pick(["", "2026-13-01", null, 1e20]) })),
      });
    } else if (kind < 0.9) {
      body = JSON.stringify(
        pick([{ samples: [] }, { samples: "x" }, { sample: samples }, [], null]),
      );
    } else {
      body = JSON.stringify({ samples }).slice(0, Math.floor(random() * 40));
    }
    const answer = await t.app.request(`/api/workouts/${workout.id}/samples`, {
      method: "POST",
      headers: { authorization: `Bearer ${rider.accessToken}`, "content-type": "application/json" },
      body,
    });
    const text = await answer.text();
    assert.ok(
      answer.status >= 400 && answer.status < 500,
      `#${i} ${answer.status} ${text} ${body.slice(0, 200)}`,
    );
    assert.equal(typeof JSON.parse(text).error, "string");
    rejected++;
  }
  assert.equal(rejected, 2000);
  const live = await t.deps.workoutLive.readAll(workout.id);
  assert.equal(live.samples.length, 0);
});
