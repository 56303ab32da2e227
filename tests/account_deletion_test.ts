import assert from "node:assert/strict";
import { pgliteSql } from "./pglite_sql.ts";
import { PGlite, timescaledb } from "./deps/pglite.ts";
import { hashSecret } from "../src/core/secrets.ts";
import { readMigrations, splitStatements } from "../src/db/migrate.ts";
import { refreshAggregates } from "../src/db/timescale.ts";
import { deleteAccount } from "../src/users/account.ts";
import { seedRiders, starts } from "./schema_fixture.ts";
import { openSse } from "./sse_client.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

const day = Date.UTC(2025, 2, 17, 7);

/** `n` seconds of 1 Hz samples at `watts` from `start`. */
function ride(start: number, n: number, watts: number) {
  return Array.from({ length: n }, (_, i) => ({
    time: start + i * 1000,
    power: watts,
    heartRate: 140,
    distance: i * 8,
  }));
}

async function ok(res: Response, status = 200) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text);
}

async function importRide(token: string, start: number, n: number, watts: number) {
  const body = await ok(
    await t.request("POST", "/api/workouts/import", {
      token,
      body: { samples: ride(start, n, watts) },
    }),
    201,
  );
  return body.workout.id as string;
}

function uniqueName(label: string): string {
  return `${label}-${Date.now()}-${crypto.randomUUID().slice(0, 8)}`;
}

async function addApiKey(userId: string): Promise<string> {
  const secret = `bpt_${crypto.randomUUID().replaceAll("-", "")}`;
  await t.sql`
    insert into api_keys (user_id, name, prefix, key_hash)
    values (${userId}, 'bike computer', ${secret.slice(0, 12)}, ${await hashSecret(secret)})
  `;
  return secret;
}

/** Rows of each table (and rollup) that belong to a rider. */
async function rowsOf(userId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const byUser = [
    "workouts",
    "telemetry",
    "workout_efforts",
    "effort_records",
    "efforts_by_year",
    "workout_curves",
    "curve_months",
    "ftp_history",
    "auth_sessions",
    "refresh_tokens",
    "api_keys",
    "telemetry_10s",
    "telemetry_1m",
    "workout_efforts_daily",
  ];
  for (const table of byUser) {
    const [row] = await t.sql`
      select count(*)::int as n from ${t.sql(table)} where user_id = ${userId}
    `;
    counts[table] = row.n;
  }
  const [user] = await t.sql`select count(*)::int as n from users where id = ${userId}`;
  counts.users = user.n;
  return counts;
}

/** What the remaining rider sees of their own data. */
async function view(token: string): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};
  for (
    const path of [
      "/api/workouts?limit=1000",
      "/api/users/me",
      "/api/users/me/stats",
      "/api/users/me/ftp-history",
      "/api/analytics/power-curve",
      "/api/analytics/bests?duration=1200&bucket=day",
      "/api/analytics/bests?duration=60&bucket=month",
    ]
  ) {
    seen[path] = await ok(await t.request("GET", path, { token }));
  }
  return seen;
}

Deno.test("DELETE /api/users/me needs a Bearer access token: no credentials 401, an API key 403", async () => {
  const rider = await registerRider(t);
  const key = await addApiKey(rider.user.id);
  await importRide(rider.accessToken, day, 60, 100);

  const anonymous = await t.request("DELETE", "/api/users/me");
  assert.equal(anonymous.status, 401);
  const byKey = await t.request("DELETE", "/api/users/me", { headers: { "x-api-key": key } });
  assert.equal(byKey.status, 403);
  assert.equal(
    (await byKey.json()).error,
    "Deleting an account needs a Bearer access token, not an API key",
  );
  const byId = await t.request("DELETE", `/api/users/${rider.user.id}`, {
    token: rider.accessToken,
  });
  assert.equal(byId.status, 405);

  const rows = await rowsOf(rider.user.id);
  assert.equal(rows.users, 1);
  assert.equal(rows.workouts, 1);
  assert.equal(rows.api_keys, 1);
  assert.equal(
    (await t.request("GET", "/api/users/me", { headers: { "x-api-key": key } })).status,
    200,
  );
});

Deno.test("DELETE /api/users/me removes the rider's rides, samples, rollups, live state, keys and sessions, and nobody else's", async () => {
  const { live } = t.deps;

  // Rider A, to be deleted: FTP history, two archived rides a month apart, a live workout with
  // samples, a legacy stream that started a workout, a second stream whose first message started
  // one (a rider's message always lands in a workout), an API key.
  const a = await registerRider(t);
  const token = a.accessToken;
  await ok(await t.request("PUT", "/api/users/me/ftp", { token, body: { ftp: 250 } }));
  const aRides = [
    await importRide(token, day, 1200, 300),
    await importRide(token, day - 30 * 86_400_000, 600, 280),
  ];
  const liveWorkout = (await ok(await t.request("POST", "/api/workouts", { token, body: {} }), 201))
    .workout.id as string;
  await ok(
    await t.request("POST", `/api/workouts/${liveWorkout}/samples`, {
      token,
      body: { samples: ride(Date.now() - 60_000, 30, 200) },
    }),
    202,
  );
  const aStream = uniqueName("workout");
  const created = await ok(
    await t.request("POST", "/api/streams/create", { token, body: { streamName: aStream } }),
  );
  const streamWorkout = created.workoutId as string;
  assert.ok(streamWorkout);
  const telemetry = JSON.stringify({
    power: 210,
    timestamp: Date.now(),
    dataType: "workout_metrics",
  });
  await ok(
    await t.request("POST", `/api/streams/${aStream}/messages`, {
      token,
      body: { message: telemetry },
    }),
  );
  const aLooseStream = uniqueName("notes");
  await ok(
    await t.request("POST", `/api/streams/${aLooseStream}/messages`, {
      token,
      body: { message: "a workout starts here" },
    }),
  );
  const looseWorkout = (await ok(
    await t.request("GET", `/api/workouts/by-stream/${aLooseStream}`, { token }),
  )).id as string;
  const key = await addApiKey(a.user.id);

  // Rider B, who stays: a ride on the same day, and a stream.
  const b = await registerRider(t);
  await ok(
    await t.request("PUT", "/api/users/me/ftp", { token: b.accessToken, body: { ftp: 200 } }),
  );
  await importRide(b.accessToken, day + 3600_000, 1200, 200);
  const bStream = uniqueName("workout");
  await ok(
    await t.request("POST", "/api/streams/create", {
      token: b.accessToken,
      body: { streamName: bStream },
    }),
  );

  // Before: A's rows are in every table and rollup.
  const before = await rowsOf(a.user.id);
  for (const [table, n] of Object.entries(before)) assert.ok(n > 0, `${table} has A's rows`);
  const aCurve = await ok(await t.request("GET", "/api/analytics/power-curve", { token }));
  assert.equal(aCurve.curve.find((p: { duration: number }) => p.duration === 1200).watts, 300);
  const bBefore = await view(b.accessToken);
  const bRows = await rowsOf(b.user.id);
  // B may watch A's stream once A makes it public.
  await ok(
    await t.request("PUT", `/api/streams/${aStream}/visibility`, {
      token,
      body: { visibility: "public" },
    }),
  );
  const viewer = await openSse(
    (req) => t.app.fetch(req),
    `http://localhost/api/streams/${aStream}/listen`,
    { authorization: `Bearer ${b.accessToken}` },
  );
  await viewer.waitForCount(1);

  const res = await t.request("DELETE", "/api/users/me", { token });
  assert.deepEqual(await ok(res), { success: true, deletedWorkouts: 5, deletedStreams: 2 });

  // A's credentials are dead: access token, refresh token, API key, password.
  assert.equal((await t.request("GET", "/api/users/me", { token })).status, 401);
  assert.equal((await t.request("GET", "/api/workouts", { token })).status, 401);
  const refreshed = await t.request("POST", "/api/auth/refresh", {
    body: { refreshToken: a.refreshToken },
  });
  assert.equal(refreshed.status, 401);
  const byKey = await t.request("GET", "/api/users/me", { headers: { "x-api-key": key } });
  assert.equal(byKey.status, 401);
  const login = await t.request("POST", "/api/auth/login", {
    body: { email: a.email, password: a.password },
  });
  assert.equal(login.status, 401);
  assert.equal((await t.request("DELETE", "/api/users/me", { token })).status, 401);

  // No row of A is left anywhere, rollups included.
  const after = await rowsOf(a.user.id);
  for (const [table, n] of Object.entries(after)) assert.equal(n, 0, `${table} still has A's rows`);
  const workoutIds = [...aRides, liveWorkout, streamWorkout, looseWorkout];
  const [byWorkout] = await t.sql`
    select count(*)::int as n from telemetry where workout_id = any(${workoutIds}::uuid[])
  `;
  assert.equal(byWorkout.n, 0);
  const daily = await t.sql`
    select distinct user_id from workout_efforts_daily
    where user_id in (${a.user.id}, ${b.user.id}) and bucket = ${new Date(Date.UTC(2025, 2, 17))}
  `;
  assert.deepEqual(daily.map((r) => r.userId), [b.user.id]);

  // A's live state is gone: live samples, the active-workout index, both streams. B's stream stays.
  for (const id of workoutIds) {
    assert.deepEqual(await live.redis.keys(`${live.keys.workout(id)}*`), [], id);
    assert.equal(await live.redis.zscore(live.keys.workoutsActive, id), null, id);
  }
  assert.equal(await t.deps.streams.meta(aStream), null);
  assert.equal(await t.deps.streams.meta(aLooseStream), null);
  const listed = await ok(await t.request("GET", "/api/streams", { token: b.accessToken }));
  const names = listed.streams.map((s: { name: string }) => s.name);
  assert.ok(!names.includes(aStream) && !names.includes(aLooseStream));
  assert.ok(names.includes(bStream));
  const deletedFrame = await viewer.waitFor((f) => f.type === "stream_deleted");
  assert.equal(deletedFrame.streamName, aStream);
  await viewer.ended;

  // B is untouched: same rides, rollups, bests, power curve, FTP history, stream.
  assert.deepEqual(await view(b.accessToken), bBefore);
  assert.deepEqual(await rowsOf(b.user.id), bRows);
  assert.deepEqual(await t.deps.streams.meta(bStream).then((m) => m?.owner), `user:${b.user.id}`);

  // The email address is free again.
  const again = await t.request("POST", "/api/auth/register", {
    body: { email: a.email, password: "another long password" },
  });
  assert.equal(again.status, 201);
  assert.notEqual((await again.json()).user.id, a.user.id);

  await ok(await t.request("DELETE", `/api/streams/${bStream}`, { token: b.accessToken }));
});

Deno.test("on the licensed edition, deleting an account refreshes the continuous aggregates without its rows", async () => {
  const db = await PGlite.create({ extensions: { timescaledb } });
  try {
    for (const file of await readMigrations(new URL("../sql/", import.meta.url))) {
      if (file.transactional) await db.transaction((tx) => tx.exec(file.sql));
      else for (const statement of splitStatements(file.sql)) await db.exec(statement);
    }
    const sql = pgliteSql(db);
    const seeded = await seedRiders(sql);
    const all = { from: new Date("2026-01-01T00:00:00Z"), to: new Date("2027-01-01T00:00:00Z") };
    await refreshAggregates(sql, all);
    const rollups = ["telemetry_10s", "telemetry_1m", "workout_efforts_daily"];
    const counts = async (userId: string) => {
      const found: Record<string, number> = {};
      for (const rollup of rollups) {
        const [row] = await sql`
          select count(*)::int as n from ${sql(rollup)} where user_id = ${userId}
        `;
        found[rollup] = row.n;
      }
      return found;
    };
    const riderB = await counts(seeded.riderB);
    for (const [rollup, n] of Object.entries(await counts(seeded.riderA))) {
      assert.ok(n > 0, `${rollup} holds rider A's rows before`);
    }

    // Materialized rows outlive the raw rows until their window is refreshed: deleting alone
    // would leave rider A in the rollups.
    await sql`delete from workout_efforts where user_id = ${seeded.riderA} and start_time = ${starts.a4}`;
    const [stale] = await sql`
      select count(*)::int as n from workout_efforts_daily
      where user_id = ${seeded.riderA} and bucket = ${new Date("2026-04-01T00:00:00Z")}
    `;
    assert.ok(stale.n > 0, "a deletion without a refresh leaves materialized rows");

    const deleted = await deleteAccount({ ...t.deps, sql }, seeded.riderA);
    assert.deepEqual(deleted, { workouts: 5, streams: 0 });
    assert.deepEqual(await counts(seeded.riderA), {
      telemetry_10s: 0,
      telemetry_1m: 0,
      workout_efforts_daily: 0,
    });
    assert.deepEqual(await counts(seeded.riderB), riderB);
    const [left] = await sql`
      select
        (select count(*)::int from telemetry where user_id = ${seeded.riderA}) as telemetry,
        (select count(*)::int from workout_efforts where user_id = ${seeded.riderA}) as efforts,
        (select count(*)::int from users where id = ${seeded.riderA}) as users
    `;
    assert.deepEqual(left, { telemetry: 0, efforts: 0, users: 0 });
  } finally {
    await db.close();
  }
});
