import assert from "node:assert/strict";
import { sweepIdleWorkouts } from "../src/workouts/lifecycle.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

// Every telemetry message a rider's post gets a 2xx for ends in an archived workout (DESIGN §4,
// §5): posts to a stream never created, after a delete, after the idle sweeper, racing a delete,
// and after the live keys were lost. Each case counts accepted against archived.

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

// An hour ago: the service keeps a message's own timestamp only within 48 hours of its server
// time (else it uses the entry's, and posts of one millisecond collapse into one sample). A fixed
// date stopped working 48 hours after it, on 2026-12-02 07:00 UTC, whatever the code.
const t0 = Math.floor(Date.now() / 1000) * 1000 - 3600_000;

function uniqueName(label = "workout"): string {
  return `${label}-${crypto.randomUUID().slice(0, 8)}`;
}

function telemetry(second: number) {
  return JSON.stringify({
    power: 150 + (second % 50),
    cadence: 90,
    heartrate: 140,
    timestamp: t0 + second * 1000,
    dataType: "workout_metrics",
  });
}

/** Posts the messages of seconds [from, to) one by one; answers how many got a 2xx. */
async function post(token: string, name: string, from: number, to: number): Promise<number> {
  let accepted = 0;
  for (let s = from; s < to; s++) {
    const res = await t.request("POST", `/api/streams/${name}/messages`, {
      token,
      body: { message: telemetry(s) },
    });
    await res.body?.cancel();
    if (res.ok) accepted++;
  }
  return accepted;
}

/** Archived telemetry rows of every workout of the rider with this stream name, by status. */
async function archived(userId: string, name: string) {
  const rows = await t.sql<{ status: string; samples: number }[]>`
    select w.status, (select count(*)::int from telemetry s where s.workout_id = w.id) as samples
    from workouts w
    where w.user_id = ${userId} and w.stream_name = ${name}
    order by w.created_at
  `;
  return {
    workouts: rows.length,
    active: rows.filter((r) => r.status === "active").length,
    samples: rows.filter((r) => r.status === "completed").reduce((n, r) => n + r.samples, 0),
  };
}

async function deleteStream(token: string, name: string): Promise<number> {
  const res = await t.request("DELETE", `/api/streams/${name}`, { token });
  await res.body?.cancel();
  return res.status;
}

Deno.test("a rider's posts to a stream never created start a workout that archives all of them", async () => {
  const rider = await registerRider(t);
  const name = uniqueName();
  assert.equal(await post(rider.accessToken, name, 0, 30), 30);
  const found = await t.request("GET", `/api/workouts/by-stream/${name}`, {
    token: rider.accessToken,
  });
  assert.equal(found.status, 200);
  assert.equal((await found.json()).status, "active");
  assert.equal(await deleteStream(rider.accessToken, name), 200);
  assert.deepEqual(await archived(rider.user.id, name), { workouts: 1, active: 0, samples: 30 });
});

Deno.test("a ride resumed after DELETE or after the idle sweeper is a new workout with every message", async () => {
  const rider = await registerRider(t);
  const name = uniqueName();
  assert.equal(await post(rider.accessToken, name, 0, 20), 20);
  assert.equal(await deleteStream(rider.accessToken, name), 200);
  // Resumed after the delete: a second workout.
  assert.equal(await post(rider.accessToken, name, 100, 125), 25);
  assert.deepEqual(await archived(rider.user.id, name), { workouts: 2, active: 1, samples: 20 });
  // The idle sweeper archives it; the rider resumes again: a third.
  const idleMs = t.deps.config.workoutIdleTimeoutS * 1000;
  assert.ok(await sweepIdleWorkouts(t.deps, Date.now() + idleMs + 1000) >= 1);
  assert.deepEqual(await archived(rider.user.id, name), { workouts: 2, active: 0, samples: 45 });
  assert.equal(await post(rider.accessToken, name, 200, 210), 10);
  assert.equal(await deleteStream(rider.accessToken, name), 200);
  assert.deepEqual(await archived(rider.user.id, name), { workouts: 3, active: 0, samples: 55 });
});

Deno.test("posts racing a DELETE either land in an archive or get a non-2xx answer", async () => {
  for (let run = 0; run < 5; run++) {
    const rider = await registerRider(t);
    const name = uniqueName();
    assert.equal(await post(rider.accessToken, name, 0, 5), 5);
    let accepted = 5;
    let next = 5;
    let posting = true;
    const senders = Array.from({ length: 4 }, async () => {
      while (posting) {
        const s = next++;
        const ok = await post(rider.accessToken, name, s, s + 1);
        accepted += ok;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 20 + run * 15));
    assert.equal(await deleteStream(rider.accessToken, name), 200);
    await new Promise((resolve) => setTimeout(resolve, 30));
    posting = false;
    await Promise.all(senders);
    // Whatever came after the delete is a new ride: end it too, then count.
    const last = await t.request("DELETE", `/api/streams/${name}`, { token: rider.accessToken });
    await last.body?.cancel();
    const result = await archived(rider.user.id, name);
    assert.equal(result.active, 0, `run ${run}`);
    assert.equal(result.samples, accepted, `run ${run}: accepted ${accepted}`);
  }
});

Deno.test("a ride whose live workout keys were lost is revived and archives every message", async () => {
  const rider = await registerRider(t);
  const name = uniqueName();
  assert.equal(await post(rider.accessToken, name, 0, 10), 10);
  const workout = await (await t.request("GET", `/api/workouts/by-stream/${name}`, {
    token: rider.accessToken,
  })).json();
  // As after a Redis restart without persistence for that key, or its expiry.
  await t.deps.live.redis.del(t.deps.live.keys.workout(workout.id));
  assert.equal(await post(rider.accessToken, name, 10, 20), 10);
  assert.equal(await deleteStream(rider.accessToken, name), 200);
  assert.deepEqual(await archived(rider.user.id, name), { workouts: 1, active: 0, samples: 20 });
});

Deno.test("a workout deleted while its stream is live: later posts start a new workout", async () => {
  const rider = await registerRider(t);
  const name = uniqueName();
  assert.equal(await post(rider.accessToken, name, 0, 5), 5);
  const workout = await (await t.request("GET", `/api/workouts/by-stream/${name}`, {
    token: rider.accessToken,
  })).json();
  const del = await t.request("DELETE", `/api/workouts/${workout.id}`, {
    token: rider.accessToken,
  });
  assert.equal(del.status, 200);
  assert.equal(await post(rider.accessToken, name, 5, 12), 7);
  assert.equal(await deleteStream(rider.accessToken, name), 200);
  assert.deepEqual(await archived(rider.user.id, name), { workouts: 1, active: 0, samples: 7 });
});
