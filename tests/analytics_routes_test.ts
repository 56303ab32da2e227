import assert from "node:assert/strict";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

/** Imports a ride of `minutes` at constant `watts` starting at `start` (ms); returns its id. */
async function importRide(token: string, start: number, minutes: number, watts: number) {
  const samples = Array.from({ length: minutes * 60 }, (_, i) => ({
    time: start + i * 1000,
    power: watts,
  }));
  const res = await t.request("POST", "/api/workouts/import", { token, body: { samples } });
  assert.equal(res.status, 201);
  return (await res.json()).workout.id as string;
}

Deno.test("GET /api/analytics/bests answers the best 20 minutes per month, per week and per day", async () => {
  const rider = await registerRider(t);
  const other = await registerRider(t);
  const sep = Date.UTC(2026, 8, 10, 8);
  const oct = Date.UTC(2026, 9, 5, 8);
  await importRide(rider.accessToken, sep, 25, 240);
  await importRide(rider.accessToken, sep + 86_400_000, 21, 260);
  await importRide(rider.accessToken, oct, 30, 250);
  await importRide(rider.accessToken, oct + 3 * 86_400_000, 10, 400); // too short for 20 min
  await importRide(other.accessToken, oct, 30, 500);

  const get = async (query: string) => {
    const res = await t.request("GET", `/api/analytics/bests?${query}`, {
      token: rider.accessToken,
    });
    assert.equal(res.status, 200);
    return await res.json();
  };
  const monthly = await get("duration=1200&bucket=month");
  assert.deepEqual(monthly.bests, [
    { bucket: "2026-09-01T00:00:00.000Z", watts: 260 },
    { bucket: "2026-10-01T00:00:00.000Z", watts: 250 },
  ]);
  const daily = await get(
    "duration=1200&bucket=day&from=2026-09-01T00:00:00Z&to=2026-10-01T00:00:00Z",
  );
  assert.deepEqual(daily.bests.map((b: { watts: number }) => b.watts), [240, 260]);
  const weekly = await get("duration=600&bucket=week&from=2026-10-01T00:00:00Z");
  assert.deepEqual(weekly.bests, [{ bucket: "2026-10-05T00:00:00.000Z", watts: 400 }]);

  const bad = await t.request("GET", "/api/analytics/bests?duration=1234", {
    token: rider.accessToken,
  });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /duration must be one of/);
});

Deno.test("GET /api/analytics/power-curve answers the best of each duration with its ride", async () => {
  const rider = await registerRider(t);
  const first = await importRide(rider.accessToken, Date.UTC(2026, 5, 1, 8), 65, 220);
  const second = await importRide(rider.accessToken, Date.UTC(2026, 5, 8, 8), 5, 500);
  const res = await t.request("GET", "/api/analytics/power-curve", { token: rider.accessToken });
  assert.equal(res.status, 200);
  const { curve } = await res.json();
  const byDuration = new Map(curve.map((p: { duration: number }) => [p.duration, p]));
  assert.deepEqual(byDuration.get(60), {
    duration: 60,
    watts: 500,
    workoutId: second,
    startTime: "2026-06-08T08:00:00.000Z",
  });
  assert.equal((byDuration.get(3600) as { workoutId: string }).workoutId, first);
  assert.equal(byDuration.has(5400), false);

  const june1 = await (await t.request(
    "GET",
    "/api/analytics/power-curve?from=2026-06-01T00:00:00Z&to=2026-06-02T00:00:00Z",
    { token: rider.accessToken },
  )).json();
  assert.equal(june1.curve.find((p: { duration: number }) => p.duration === 60).watts, 220);

  const stranger = await registerRider(t);
  const none = await (await t.request("GET", "/api/analytics/power-curve", {
    token: stranger.accessToken,
  })).json();
  assert.deepEqual(none.curve, []);
});
