/** Silent loss is loud (summary.liveDataGap, a warning), and a retried complete can tell it worked. */
import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import { createLogger } from "../src/core/log.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

const t0 = Date.UTC(2026, 8, 14, 7, 0, 0);

function ride(n: number, start: number) {
  return Array.from({ length: n }, (_, i) => ({ time: start + i * 1000, power: 180 + (i % 9) }));
}

/** The app with a logger whose lines the test reads. */
function loggingApp() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("warn", (line) => lines.push(JSON.parse(line)));
  return { app: createApp({ ...t.deps, log }), lines };
}

async function call(
  app: ReturnType<typeof createApp>,
  method: string,
  path: string,
  token: string,
  body?: unknown,
) {
  const res = await app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function startRide(token: string, samples: number) {
  const started = await call(t.app, "POST", "/api/workouts", token, {});
  const id = started.body.workout.id as string;
  const posted = await call(t.app, "POST", `/api/workouts/${id}/samples`, token, {
    samples: ride(samples, t0),
  });
  assert.equal(posted.status, 202);
  return id;
}

Deno.test("live keys vanish mid-ride: ingest goes on, the archive says liveDataGap, a warning is logged", async () => {
  const rider = await registerRider(t);
  const id = await startRide(rider.accessToken, 120);
  // As a Redis restart without persistence leaves it: the live keys are simply gone.
  const { live } = t.deps;
  await live.redis.del(live.keys.workout(id), live.keys.workoutSamples(id));
  const { app, lines } = loggingApp();

  const more = await call(app, "POST", `/api/workouts/${id}/samples`, rider.accessToken, {
    samples: ride(60, t0 + 600_000),
  });
  assert.equal(more.status, 202);
  assert.ok(
    lines.some((l) =>
      l.level === "warn" && String(l.msg).includes("vanished") && l.workoutId === id
    ),
    JSON.stringify(lines),
  );

  const done = await call(app, "POST", `/api/workouts/${id}/complete`, rider.accessToken);
  assert.equal(done.status, 200);
  assert.equal(done.body.archivedMessages, 60);
  assert.equal(done.body.workout.summary.liveDataGap, true);
  const [row] = await t.sql`select summary from workouts where id = ${id}`;
  assert.equal(row.summary.liveDataGap, true);
  const read = await call(app, "GET", `/api/workouts/${id}`, rider.accessToken);
  assert.equal(read.body.summary.liveDataGap, true);
});

Deno.test("live keys vanish and the ride is completed at once: liveDataGap and a warning", async () => {
  const rider = await registerRider(t);
  const id = await startRide(rider.accessToken, 50);
  const { live } = t.deps;
  await live.redis.del(live.keys.workout(id), live.keys.workoutSamples(id));
  const { app, lines } = loggingApp();
  const done = await call(app, "POST", `/api/workouts/${id}/complete`, rider.accessToken);
  assert.equal(done.status, 200);
  assert.equal(done.body.archivedMessages, 0);
  assert.equal(done.body.workout.summary.liveDataGap, true);
  assert.ok(lines.some((l) => l.level === "warn" && l.workoutId === id), JSON.stringify(lines));
});

Deno.test("a ride that lost nothing has no liveDataGap and logs no warning", async () => {
  const rider = await registerRider(t);
  const id = await startRide(rider.accessToken, 80);
  const { app, lines } = loggingApp();
  const done = await call(app, "POST", `/api/workouts/${id}/complete`, rider.accessToken);
  assert.equal(done.status, 200);
  assert.equal(done.body.archivedMessages, 80);
  assert.equal("liveDataGap" in done.body.workout.summary, false);
  assert.deepEqual(lines, []);
});

Deno.test("a retried complete after a crash before clean-up: 400 workout_already_completed with the workout", async () => {
  const rider = await registerRider(t);
  const id = await startRide(rider.accessToken, 100);
  const crashing = {
    ...t.deps.workoutLive,
    remove: () => Promise.reject(new Error("process died before deleting the live keys")),
  };
  const crashingApp = createApp({ ...t.deps, workoutLive: crashing });
  const first = await call(crashingApp, "POST", `/api/workouts/${id}/complete`, rider.accessToken);
  assert.equal(first.status, 200);

  const retry = await call(t.app, "POST", `/api/workouts/${id}/complete`, rider.accessToken);
  assert.equal(retry.status, 400); // old clients keep their 400
  assert.equal(retry.body.code, "workout_already_completed");
  assert.match(retry.body.error, /Workout is not active/);
  assert.deepEqual(retry.body.workout, first.body.workout);
  assert.equal(retry.body.workout.status, "completed");
  assert.equal(await t.deps.workoutLive.exists(id), false); // the retry finished the clean-up

  // Samples for a workout that is no longer active keep their old answer.
  const late = await call(t.app, "POST", `/api/workouts/${id}/samples`, rider.accessToken, {
    samples: ride(5, t0 + 900_000),
  });
  assert.equal(late.status, 400);
  assert.equal(late.body.code, "workout_not_active");
});

Deno.test("two completes at once: the loser answers workout_already_completed with the workout", async () => {
  const rider = await registerRider(t);
  const id = await startRide(rider.accessToken, 200);
  const [a, b] = await Promise.all([
    call(t.app, "POST", `/api/workouts/${id}/complete`, rider.accessToken),
    call(t.app, "POST", `/api/workouts/${id}/complete`, rider.accessToken),
  ]);
  const [won, lost] = a.status === 200 ? [a, b] : [b, a];
  assert.equal(won.status, 200);
  assert.equal(lost.status, 400);
  assert.equal(lost.body.code, "workout_already_completed");
  assert.equal(lost.body.workout.id, id);
  assert.equal(lost.body.workout.status, "completed");
});
