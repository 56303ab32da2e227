import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import { hashSecret } from "../src/core/secrets.ts";
import { openSse } from "./sse_client.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

// A rider streaming through the old /api/streams routes gets a saved workout (COMPAT "Gaps":
// live streaming never produced one); shared-key and anonymous streams stay live-only.

const sharedKey = "shared-key";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ apiKey: sharedKey });
});
Deno.test.afterAll(() => t.close());

/** Keys matching `pattern` that would outlive a minute (a short-lived tombstone is fine). */
async function lastingKeys(pattern: string): Promise<string[]> {
  const redis = t.deps.live.redis;
  const keys = await redis.keys(pattern);
  const ttls = await Promise.all(keys.map((k) => redis.pttl(k)));
  return keys.filter((_, i) => ttls[i] < 0 || ttls[i] > 60_000);
}

function uniqueName(label = "workout"): string {
  return `${label}-${Date.now()}-${crypto.randomUUID().slice(0, 6)}`;
}

type Auth = { token?: string; headers?: Record<string, string> };

async function call(method: string, path: string, auth: Auth, body?: unknown) {
  return await t.request(method, path, { body, ...auth });
}

async function ok(res: Response, status = 200) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text);
}

/** An old client's telemetry message (COMPAT), second `i` of a ride that started at `start`. */
function telemetry(i: number, start: number) {
  const hh = String(Math.floor(i / 3600)).padStart(2, "0");
  const mm = String(Math.floor(i / 60) % 60).padStart(2, "0");
  const ss = String(i % 60).padStart(2, "0");
  return {
    power: 200,
    cadence: 90,
    heartrate: 140,
    speed: 28.8,
    distance: i * 8,
    altitude: 100,
    incline: 0,
    timestamp: start + i * 1000,
    elapsed: i % 2 === 0 ? `${hh}:${mm}:${ss}` : String(i),
    dataType: "workout_metrics",
    sender: "simulator-1",
    sequence: i,
  };
}

async function workoutCount(streamName: string): Promise<number> {
  const [row] = await t.sql`
    select count(*)::int as n from workouts where stream_name = ${streamName}
  `;
  return row.n;
}

Deno.test("a rider's live ride through /api/streams is archived with every sample and an exact summary", async () => {
  const rider = await registerRider(t);
  const auth = { token: rider.accessToken };
  const name = uniqueName();
  // The ride started 10 minutes ago on the client's clock, on a whole second.
  const start = Math.floor((Date.now() - 600_000) / 1000) * 1000;

  const created = await ok(await call("POST", "/api/streams/create", auth, { streamName: name }));
  assert.equal(created.streamName, name);
  assert.equal(created.message, "Stream created successfully");

  const workout = await ok(await call("GET", `/api/workouts/by-stream/${name}`, auth));
  assert.equal(workout.status, "active");
  assert.equal(workout.streamName, name);
  assert.equal(workout.title, name);
  assert.equal(workout.userId, rider.user.id);

  // A viewer of the ride sees the telemetry text exactly as it was sent.
  const viewer = await openSse(
    (req) => t.app.fetch(req),
    `http://localhost/api/streams/${name}/listen`,
    { authorization: `Bearer ${rider.accessToken}` },
  );
  await viewer.waitForCount(1);

  const sentTexts: string[] = [];
  for (let i = 0; i < 120; i++) {
    const m = telemetry(i, start);
    // Newer clients send the JSON text, some send the object itself.
    const message = i % 2 === 0 ? JSON.stringify(m) : m;
    sentTexts.push(JSON.stringify(m));
    await ok(await call("POST", `/api/streams/${name}/messages`, auth, { message }));
    if (i === 30) {
      await ok(
        await call("POST", `/api/streams/${name}/messages`, auth, {
          message: "Halfway there!",
          author: "coach",
        }),
      );
    }
  }
  await ok(
    await call("POST", `/api/streams/${name}/messages`, auth, {
      message: JSON.stringify({ type: "chat", text: "done", dataType: "chat" }),
    }),
  );
  await viewer.waitFor((f) =>
    typeof f.data === "object" && (f.data as { message?: string }).message?.includes("done") ===
      true
  );
  const relayed = viewer.frames
    .filter((f) => f.type === "message")
    .map((f) => (f.data as { message: string }).message)
    .filter((text) => text.includes("workout_metrics"));
  assert.deepEqual(relayed, sentTexts);

  const del = await call("DELETE", `/api/streams/${name}`, auth);
  assert.deepEqual(await ok(del), {
    success: true,
    message: `Stream ${name} deleted successfully`,
  });
  await viewer.ended;
  assert.deepEqual(viewer.frames.at(-1), { type: "stream_deleted", streamName: name });

  const archived = await ok(await call("GET", `/api/workouts/${workout.id}`, auth));
  assert.equal(archived.status, "completed");
  assert.equal(archived.startTime, new Date(start).toISOString());
  assert.equal(archived.endTime, new Date(start + 119_000).toISOString());
  assert.equal(archived.duration, 120);
  const s = archived.summary;
  assert.equal(s.sampleCount, 120);
  assert.equal(s.avgPower, 200);
  assert.equal(s.maxPower, 200);
  assert.equal(s.normalizedPower, 200);
  assert.equal(s.avgCadence, 90);
  assert.equal(s.maxCadence, 90);
  assert.equal(s.avgHeartrate, 140);
  assert.equal(s.maxHeartrate, 140);
  assert.ok(Math.abs(s.avgSpeed - 28.8) < 1e-9, `avgSpeed ${s.avgSpeed}`);
  assert.equal(s.totalDistance, 119 * 8);
  assert.equal(s.totalEnergy, 24); // 200 W × 120 s
  assert.equal(s.movingTime, 120);

  const [rows] = await t.sql`
    select count(*)::int as n, min(power)::int as lo, max(power)::int as hi
    from telemetry where workout_id = ${workout.id}
  `;
  assert.deepEqual({ ...rows }, { n: 120, lo: 200, hi: 200 });

  // Nothing is left live: no active workout for the name, no stream, no live keys.
  const gone = await call("GET", `/api/workouts/by-stream/${name}`, auth);
  assert.equal(gone.status, 404);
  await gone.body?.cancel();
  const messages = await ok(await call("GET", `/api/streams/${name}/messages`, auth));
  assert.deepEqual(messages.messages, []);
  assert.deepEqual(await lastingKeys(`*${workout.id}*`), []);
  assert.deepEqual(await lastingKeys(`*stream*${name}*`), []);
  await viewer.close();
});

Deno.test("a live ride's workout completed through /api/workouts/:id/complete keeps the stream's samples", async () => {
  const rider = await registerRider(t);
  const auth = { token: rider.accessToken };
  const name = uniqueName();
  const start = Math.floor((Date.now() - 120_000) / 1000) * 1000;
  await ok(await call("POST", "/api/streams/create", auth, { streamName: name }));
  const workout = await ok(await call("GET", `/api/workouts/by-stream/${name}`, auth));
  for (let i = 0; i < 40; i++) {
    await ok(
      await call("POST", `/api/streams/${name}/messages`, auth, {
        message: JSON.stringify(telemetry(i, start)),
      }),
    );
  }
  const done = await ok(await call("POST", `/api/workouts/${workout.id}/complete`, auth, {}));
  assert.equal(done.success, true);
  assert.equal(done.archivedMessages, 40);
  assert.equal(done.workout.status, "completed");
  assert.equal(done.workout.summary.sampleCount, 40);
  assert.equal(done.workout.summary.avgPower, 200);

  // The stream went with its workout; deleting it now is a 404, not a second archive.
  const del = await call("DELETE", `/api/streams/${name}`, auth);
  assert.equal(del.status, 404);
  assert.equal((await del.json()).error, "Stream not found");
  const [rows] = await t.sql`
    select count(*)::int as n from telemetry where workout_id = ${workout.id}
  `;
  assert.equal(rows.n, 40);
});

Deno.test("a rider streaming with a personal API key gets a workout too", async () => {
  const rider = await registerRider(t);
  const secret = `bpt_${crypto.randomUUID().replaceAll("-", "")}`;
  await t.sql`
    insert into api_keys (user_id, name, prefix, key_hash)
    values (${rider.user.id}, 'bike computer', ${secret.slice(0, 12)}, ${await hashSecret(secret)})
  `;
  const auth = { headers: { "x-api-key": secret } };
  const name = uniqueName();
  const start = Math.floor((Date.now() - 60_000) / 1000) * 1000;
  await ok(await call("POST", "/api/streams/create", auth, { streamName: name }));
  for (let i = 0; i < 5; i++) {
    await ok(
      await call("POST", `/api/streams/${name}/messages`, auth, {
        message: JSON.stringify(telemetry(i, start)),
      }),
    );
  }
  const workout = await ok(
    await call("GET", `/api/workouts/by-stream/${name}`, { token: rider.accessToken }),
  );
  assert.equal(workout.userId, rider.user.id);
  await ok(await call("DELETE", `/api/streams/${name}`, auth));
  const archived = await ok(
    await call("GET", `/api/workouts/${workout.id}`, { token: rider.accessToken }),
  );
  assert.equal(archived.status, "completed");
  assert.equal(archived.summary.sampleCount, 5);
});

Deno.test("a shared-key or anonymous stream creates no workout and stays live-only", async () => {
  const start = Math.floor((Date.now() - 60_000) / 1000) * 1000;
  const shared = uniqueName("workout-sim");
  const auth = { headers: { "x-api-key": sharedKey } };
  const created = await ok(await call("POST", "/api/streams/create", auth, { streamName: shared }));
  assert.equal(created.workoutId, undefined);
  for (let i = 0; i < 10; i++) {
    await ok(
      await call("POST", `/api/streams/${shared}/messages`, auth, {
        message: JSON.stringify(telemetry(i, start)),
      }),
    );
  }
  assert.equal(await workoutCount(shared), 0);
  await ok(await call("DELETE", `/api/streams/${shared}`, auth));
  assert.equal(await workoutCount(shared), 0);

  const anonymous = createApp({
    ...t.deps,
    config: { ...t.deps.config, apiKey: undefined, allowAnonymousStreams: true },
  });
  const anon = uniqueName("workout-sim");
  const send = (method: string, path: string, body?: unknown) =>
    anonymous.request(path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  await ok(await send("POST", "/api/streams/create", { streamName: anon }));
  await ok(
    await send("POST", `/api/streams/${anon}/messages`, {
      message: JSON.stringify(telemetry(0, start)),
    }),
  );
  assert.equal(await workoutCount(anon), 0);
  await ok(await send("DELETE", `/api/streams/${anon}`));
  assert.equal(await workoutCount(anon), 0);
});
