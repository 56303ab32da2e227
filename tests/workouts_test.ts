import assert from "node:assert/strict";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

const t0 = Date.UTC(2026, 10, 20, 7, 0, 0);

/** `n` seconds of 1 Hz samples from `start`, power from `watts(i)`. */
function ride(n: number, watts: (i: number) => number | null, start = t0) {
  return Array.from({ length: n }, (_, i) => ({
    time: start + i * 1000,
    power: watts(i),
    cadence: 90,
    heartRate: 140,
    speed: 30,
    distance: i * 8.33,
    altitude: 100 + (i % 10),
  }));
}

async function riderWithFtp(ftp: number | null = 250) {
  const rider = await registerRider(t);
  if (ftp !== null) {
    await t.request("PATCH", "/api/users/me", {
      token: rider.accessToken,
      body: { ftpWatts: ftp, maxHr: 190 },
    });
  }
  return rider;
}

async function start(token: string, body: Record<string, unknown> = {}) {
  const res = await t.request("POST", "/api/workouts", { token, body });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()).workout as { id: string; status: string };
}

async function post(token: string, id: string, samples: unknown[]) {
  return await t.request("POST", `/api/workouts/${id}/samples`, { token, body: { samples } });
}

async function liveKeys(id: string): Promise<number> {
  const { live } = t.deps;
  return await live.redis.exists(live.keys.workout(id), live.keys.workoutSamples(id));
}

Deno.test("a live ride streamed in batches is archived with every sample and an exact summary", async () => {
  const rider = await riderWithFtp(250);
  const workout = await start(rider.accessToken, { title: "Morning ride" });
  assert.equal(workout.status, "active");
  assert.equal(await liveKeys(workout.id), 1);

  // 3,600 s at 250 W, sent as 60 batches of 60 samples.
  const samples = ride(3600, () => 250);
  for (let i = 0; i < samples.length; i += 60) {
    const res = await post(rider.accessToken, workout.id, samples.slice(i, i + 60));
    assert.equal(res.status, 202);
    assert.equal((await res.json()).accepted, 60);
  }

  const res = await t.request("POST", `/api/workouts/${workout.id}/complete`, {
    token: rider.accessToken,
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.success, true);
  assert.equal(body.archivedMessages, 3600);
  const w = body.workout;
  assert.equal(w.status, "completed");
  assert.equal(w.startTime, new Date(t0).toISOString());
  assert.equal(w.endTime, new Date(t0 + 3599_000).toISOString());
  assert.equal(w.duration, 3600);
  const s = w.summary;
  assert.equal(s.avgPower, 250);
  assert.equal(s.maxPower, 250);
  assert.equal(s.normalizedPower, 250);
  assert.equal(s.intensityFactor, 1);
  assert.equal(s.trainingLoad, 100);
  assert.equal(s.totalEnergy, 900);
  assert.equal(s.movingTime, 3600);
  assert.equal(s.sampleCount, 3600);
  assert.equal(s.avgHeartrate, 140);
  // Metres to 1 decimal at the edge (docs/analytics.md, "Precision"): 29,979.67 m answers 29,979.7.
  assert.equal(s.totalDistance, 29979.7);
  const curve = Object.fromEntries(
    s.powerCurve.map((p: { duration: number; watts: number }) => [p.duration, p.watts]),
  );
  assert.equal(curve[1200], 250);
  assert.equal(curve[3600], 250);
  assert.equal(curve[5400], null);

  const [rows] = await t.sql`select count(*)::int as n from telemetry where workout_id = ${w.id}`;
  assert.equal(rows.n, 3600);
  const efforts = await t.sql`
    select duration_s, watts from workout_efforts where workout_id = ${w.id} order by duration_s
  `;
  assert.deepEqual(efforts.map((e) => e.durationS), [
    1,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    1200,
    1800,
    3600,
  ]);
  assert.equal(await liveKeys(w.id), 0);
  const [active] = await t.deps.live.redis.zscore(t.deps.live.keys.workoutsActive, w.id)
    .then((score) => [score]);
  assert.equal(active, null);

  const again = await t.request("POST", `/api/workouts/${w.id}/complete`, {
    token: rider.accessToken,
  });
  assert.equal(again.status, 400);
  assert.equal((await again.json()).error, "Workout is not active");
});

Deno.test("GET /api/workouts/:id/live pages through samples received so far", async () => {
  const rider = await riderWithFtp();
  const workout = await start(rider.accessToken);
  for (let i = 0; i < 3; i++) {
    await post(rider.accessToken, workout.id, ride(10, () => 100 + i, t0 + i * 10_000));
  }
  const first = await t.request("GET", `/api/workouts/${workout.id}/live?limit=2`, {
    token: rider.accessToken,
  });
  assert.equal(first.status, 200);
  const page1 = await first.json();
  assert.equal(page1.status, "active");
  assert.equal(page1.samples.length, 20);
  assert.equal(page1.more, true);
  const second = await t.request("GET", `/api/workouts/${workout.id}/live?after=${page1.cursor}`, {
    token: rider.accessToken,
  });
  const page2 = await second.json();
  assert.equal(page2.samples.length, 10);
  assert.equal(page2.samples[0].power, 102);
  assert.equal(page2.samples[0].time, new Date(t0 + 20_000).toISOString());
  assert.equal(page2.more, false);
});

Deno.test("a bad sample rejects the whole batch with 422 naming its index and field", async () => {
  const rider = await riderWithFtp();
  const workout = await start(rider.accessToken);
  const samples = ride(5, () => 200);
  const cases: [Record<string, unknown>, string][] = [
    [{ power: 3001 }, "power"],
    [{ cadence: -1 }, "cadence"],
    [{ heartRate: 0 }, "heartRate"],
    [{ speed: 151 }, "speed"],
    [{ distance: 1_000_001 }, "distance"],
    [{ altitude: 9001 }, "altitude"],
    [{ power: "250" }, "power"],
    [{ time: "yesterday" }, "time"],
    [{ time: Date.now() + 3 * 86_400_000 }, "time"],
  ];
  for (const [bad, field] of cases) {
    const batch = samples.map((s, i) => (i === 3 ? { ...s, ...bad } : s));
    const res = await post(rider.accessToken, workout.id, batch);
    assert.equal(res.status, 422, JSON.stringify(bad));
    const body = await res.json();
    assert.equal(body.index, 3);
    assert.equal(body.field, field);
    assert.match(body.error, new RegExp(`^Sample 3: ${field}`));
  }
  const tooMany = await post(rider.accessToken, workout.id, ride(3601, () => 1));
  assert.equal(tooMany.status, 400);
  const live = await (await t.request("GET", `/api/workouts/${workout.id}/live`, {
    token: rider.accessToken,
  })).json();
  assert.equal(live.samples.length, 0);
});

Deno.test("nulls, 4 Hz input and duplicate timestamps follow the analytics rules", async () => {
  const rider = await riderWithFtp(null);
  const samples = [
    { time: t0, power: 100 },
    { time: t0 + 250, power: 110 },
    { time: t0 + 750, power: 120 }, // last in second 0 wins
    { time: t0 + 1000, power: null },
    { time: t0 + 2000, power: 0 },
    { time: t0 + 2000, power: 300 }, // exact duplicate: the later one wins
  ];
  const res = await t.request("POST", "/api/workouts/import", {
    token: rider.accessToken,
    body: { title: "Imported", samples },
  });
  assert.equal(res.status, 201);
  const { workout, archivedMessages } = await res.json();
  assert.equal(archivedMessages, 6);
  assert.equal(workout.duration, 3);
  assert.equal(workout.summary.avgPower, (120 + 300) / 2);
  assert.equal(workout.summary.maxPower, 300);
  assert.equal(workout.summary.trainingLoad, null);
  assert.equal(workout.summary.intensityFactor, null);
  const [row] = await t
    .sql`select count(*)::int as n from telemetry where workout_id = ${workout.id}`;
  assert.equal(row.n, 5);
});

Deno.test("GET /api/workouts lists newest first with filters and pagination", async () => {
  const rider = await riderWithFtp();
  for (let day = 0; day < 5; day++) {
    await t.request("POST", "/api/workouts/import", {
      token: rider.accessToken,
      body: {
        title: `Ride ${day}`,
        sport: day === 4 ? "running" : "cycling",
        samples: ride(60, () => 200, t0 + day * 86_400_000),
      },
    });
  }
  await start(rider.accessToken, { streamName: `workout-${crypto.randomUUID().slice(0, 8)}` });
  const all =
    await (await t.request("GET", "/api/workouts?limit=1000", { token: rider.accessToken })).json();
  assert.equal(all.pagination.total, 6);
  const completed = await (await t.request("GET", "/api/workouts?status=COMPLETED&limit=2&page=2", {
    token: rider.accessToken,
  })).json();
  assert.deepEqual(completed.pagination, { page: 2, limit: 2, total: 5, totalPages: 3 });
  assert.deepEqual(completed.workouts.map((w: { title: string }) => w.title), ["Ride 2", "Ride 1"]);
  const running =
    await (await t.request("GET", "/api/workouts?sport=running", { token: rider.accessToken }))
      .json();
  assert.deepEqual(running.workouts.map((w: { title: string }) => w.title), ["Ride 4"]);
  const ranged = await (await t.request(
    "GET",
    `/api/workouts?startDate=${new Date(t0 + 86_400_000).toISOString()}&endDate=${
      new Date(t0 + 2 * 86_400_000).toISOString()
    }`,
    { token: rider.accessToken },
  )).json();
  assert.deepEqual(ranged.workouts.map((w: { title: string }) => w.title), ["Ride 2", "Ride 1"]);
  const bad = await t.request("GET", "/api/workouts?limit=1001", { token: rider.accessToken });
  assert.equal(bad.status, 400);
});

Deno.test("by-stream, PATCH and DELETE work on the rider's own workout", async () => {
  const rider = await riderWithFtp();
  const name = `workout-${Date.now()}`;
  const workout = await start(rider.accessToken, { streamName: name });
  const found = await t.request("GET", `/api/workouts/by-stream/${name}`, {
    token: rider.accessToken,
  });
  assert.equal(found.status, 200);
  // The bare workout object, as the old service and the PWA have it (COMPAT).
  assert.equal((await found.json()).id, workout.id);
  const taken = await t.request("POST", "/api/workouts", {
    token: rider.accessToken,
    body: { streamName: name },
  });
  assert.equal(taken.status, 409);

  const patched = await t.request("PATCH", `/api/workouts/${workout.id}`, {
    token: rider.accessToken,
    body: { title: "Renamed", description: "Legs felt good", sport: "gravel" },
  });
  assert.equal(patched.status, 200);
  const p = (await patched.json()).workout;
  assert.deepEqual([p.title, p.description, p.sport], ["Renamed", "Legs felt good", "gravel"]);

  await post(rider.accessToken, workout.id, ride(30, () => 200));
  await t.request("POST", `/api/workouts/${workout.id}/complete`, { token: rider.accessToken });
  const del = await t.request("DELETE", `/api/workouts/${workout.id}`, {
    token: rider.accessToken,
  });
  assert.equal(del.status, 200);
  const [left] = await t.sql`
    select (select count(*)::int from telemetry where workout_id = ${workout.id}) as telemetry,
      (select count(*)::int from workout_efforts where workout_id = ${workout.id}) as efforts,
      (select count(*)::int from workouts where id = ${workout.id}) as workouts
  `;
  assert.deepEqual(left, { telemetry: 0, efforts: 0, workouts: 0 });
  const gone = await t.request("GET", `/api/workouts/${workout.id}`, { token: rider.accessToken });
  assert.equal(gone.status, 404);
});

Deno.test("another rider's workout answers 404 on every route", async () => {
  const owner = await riderWithFtp();
  const other = await riderWithFtp();
  const streamName = `own-${Date.now()}`;
  const workout = await start(owner.accessToken, { streamName });
  await post(owner.accessToken, workout.id, ride(10, () => 150));
  const id = workout.id;
  const attempts: [string, string, unknown?][] = [
    ["GET", `/api/workouts/${id}`],
    ["GET", `/api/workouts/${id}?includeTelemetry=true`],
    ["PATCH", `/api/workouts/${id}`, { title: "mine now" }],
    ["POST", `/api/workouts/${id}/samples`, { samples: ride(1, () => 1) }],
    ["GET", `/api/workouts/${id}/live`],
    ["GET", `/api/workouts/${id}/telemetry`],
    ["POST", `/api/workouts/${id}/complete`],
    ["DELETE", `/api/workouts/${id}`],
  ];
  for (const [method, path, body] of attempts) {
    const res = await t.request(method, path, { token: other.accessToken, body });
    assert.equal(res.status, 404, `${method} ${path}`);
    await res.body?.cancel();
  }
  const list = await (await t.request("GET", "/api/workouts", { token: other.accessToken })).json();
  assert.equal(list.workouts.length, 0);
  const byStream = await t.request("GET", `/api/workouts/by-stream/own-x`, {
    token: other.accessToken,
  });
  assert.equal(byStream.status, 404);

  const mine = await (await t.request("GET", `/api/workouts/${id}?includeTelemetry=true`, {
    token: owner.accessToken,
  })).json();
  assert.equal(mine.title, streamName);
  assert.equal(mine.status, "active");
  assert.equal(mine.telemetry.length, 10);
});

Deno.test("GET /api/workouts/:id/telemetry answers columns at raw, 1s, 10s and 1m", async () => {
  const rider = await riderWithFtp();
  const res = await t.request("POST", "/api/workouts/import", {
    token: rider.accessToken,
    body: { samples: ride(120, (i) => (i < 60 ? 100 : 200)) },
  });
  const { workout } = await res.json();
  const get = async (query: string) =>
    await (await t.request("GET", `/api/workouts/${workout.id}/telemetry?${query}`, {
      token: rider.accessToken,
    })).json();
  const raw = await get("resolution=raw&fields=power,heartRate");
  assert.deepEqual(Object.keys(raw).sort(), ["heartRate", "power", "time"]);
  assert.equal(raw.time.length, 120);
  assert.equal(raw.time[0], new Date(t0).toISOString());
  assert.equal(raw.power[59], 100);
  const minute = await get("resolution=1m&fields=power");
  assert.deepEqual(minute.power, [100, 200]);
  const tens = await get("resolution=10s&fields=power");
  assert.equal(tens.power.length, 12);
  const perSecond = await get("resolution=1s&fields=power");
  assert.equal(perSecond.power.length, 120);
  const bad = await t.request("GET", `/api/workouts/${workout.id}/telemetry?fields=watts`, {
    token: rider.accessToken,
  });
  assert.equal(bad.status, 400);
});

Deno.test("the idle sweeper archives an abandoned ride and leaves no live keys", async () => {
  const rider = await riderWithFtp();
  const workout = await start(rider.accessToken);
  await post(rider.accessToken, workout.id, ride(120, () => 180));
  const { sweepIdleWorkouts } = await import("../src/workouts/lifecycle.ts");
  const idleMs = t.deps.config.workoutIdleTimeoutS * 1000;
  assert.equal(await sweepIdleWorkouts(t.deps, Date.now() + idleMs / 2), 0);
  const swept = await sweepIdleWorkouts(t.deps, Date.now() + idleMs + 1000);
  assert.ok(swept >= 1);
  const after = await (await t.request("GET", `/api/workouts/${workout.id}`, {
    token: rider.accessToken,
  })).json();
  assert.equal(after.status, "completed");
  assert.equal(after.summary.sampleCount, 120);
  assert.equal(await liveKeys(workout.id), 0);
});

Deno.test("a ride may span at most 48 hours, in one batch or across batches", async () => {
  const rider = await riderWithFtp();
  const workout = await start(rider.accessToken);
  const wide = [{ time: t0 }, { time: t0 + 49 * 3600_000 }];
  const inOne = await post(rider.accessToken, workout.id, wide);
  assert.equal(inOne.status, 400);
  assert.match((await inOne.json()).error, /span at most 48 hours/);
  assert.equal((await post(rider.accessToken, workout.id, [{ time: t0 }])).status, 202);
  const later = await post(rider.accessToken, workout.id, [{ time: t0 + 49 * 3600_000 }]);
  assert.equal(later.status, 422);
  assert.equal((await later.json()).code, "ride_too_long");
  const earlier = await post(rider.accessToken, workout.id, [{ time: t0 - 49 * 3600_000 }]);
  assert.equal(earlier.status, 422);
  await earlier.body?.cancel();
  const imported = await t.request("POST", "/api/workouts/import", {
    token: rider.accessToken,
    body: { samples: [{ time: Date.UTC(1995, 0, 1) }, { time: t0 }] },
  });
  assert.equal(imported.status, 400);
  await imported.body?.cancel();
});

Deno.test("one-sample POSTs of many riders at once share REST requests, and every sample is archived", async () => {
  const riders = await Promise.all(Array.from({ length: 5 }, () => riderWithFtp(250)));
  const workouts = await Promise.all(riders.map((r) => start(r.accessToken)));
  const before = t.deps.live.transport.stats().requests;
  // 20 seconds of 1 Hz samples from each rider, every rider's request of a second at once.
  for (let i = 0; i < 20; i++) {
    const answers = await Promise.all(
      riders.map((r, k) =>
        post(r.accessToken, workouts[k].id, [{ time: t0 + i * 1000, power: 200 + k, cadence: 90 }])
      ),
    );
    for (const res of answers) {
      assert.equal(res.status, 202);
      assert.equal((await res.json()).accepted, 1);
    }
  }
  const sent = t.deps.live.transport.stats().requests - before;
  // Through the kept-alive transport (no @upstash/redis fetch each), several to one request.
  assert.ok(sent > 0 && sent < 100, `100 sample POSTs took ${sent} REST requests`);
  for (const [k, rider] of riders.entries()) {
    const res = await t.request("POST", `/api/workouts/${workouts[k].id}/complete`, {
      token: rider.accessToken,
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.archivedMessages, 20);
    assert.equal(body.workout.summary.avgPower, 200 + k);
  }
});
