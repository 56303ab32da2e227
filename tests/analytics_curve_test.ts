import { rounded } from "../src/core/precision.ts";
// The whole power curve, critical power and W′ balance (docs/analytics.md) through the real app,
// against an independent computation written here: the durations re-derived from the documented
// rule, each ride's mean-maximal power by a running window sum (no prefix sums), the period's
// best by a plain scan of the rides, the CP fit by the closed-form normal equations, W′ balance
// second by second over the reference grid.
import assert from "node:assert/strict";
import type { Sample } from "../src/core/sample.ts";
import { assertClose, readRide, refGrid, type RefRow, sample } from "./analytics_reference.ts";
import { randomRide } from "./analytics_history_fixture.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

/** The documented durations up to `elapsed`: 1..1200, then d + ⌊d/100⌋, plus the standard ones. */
function refDurations(elapsed: number): number[] {
  const list: number[] = [];
  for (let d = 1; d <= Math.min(1200, elapsed); d++) list.push(d);
  for (let d = 1200 + 12; d <= elapsed; d += Math.floor(d / 100)) list.push(d);
  for (const d of [1800, 3600, 5400, 7200]) if (d <= elapsed && !list.includes(d)) list.push(d);
  return list.sort((a, b) => a - b);
}

/** Mean-maximal power at each duration by a running window sum over the reference grid. */
function refCurve(rows: readonly RefRow[]): { duration: number; watts: number }[] {
  const watts = rows.map((r) => r.power ?? 0);
  return refDurations(rows.length).map((d) => {
    let sum = 0;
    for (let i = 0; i < d; i++) sum += watts[i];
    let best = sum;
    for (let i = d; i < watts.length; i++) {
      sum += watts[i] - watts[i - d];
      if (sum > best) best = sum;
    }
    return { duration: d, watts: best / d };
  });
}

type Ride = { id: string; start: number; curve: { duration: number; watts: number }[] };
type Point = {
  duration: number;
  watts: number;
  wattsPerKg: number | null;
  weightKg: number | null;
  workoutId: string;
  startTime: string;
};

/** What an import answers, as far as these tests read it. */
type Imported = {
  workout: {
    id: string;
    summary: {
      wPrimeBalance:
        | { source: string; cpWatts: number; wPrimeJ: number; minJ: number; belowZeroS: number }
        | null;
    };
  };
};

async function importSamples(token: string, samples: Sample[]): Promise<Ride & { body: Imported }> {
  const res = await t.request("POST", "/api/workouts/import", { token, body: { samples } });
  assert.equal(res.status, 201, await res.clone().text());
  const body: Imported = await res.json();
  return {
    id: body.workout.id,
    start: Math.min(...samples.map((s) => s.time)),
    curve: refCurve(refGrid(samples)),
    body,
  };
}

async function get(token: string, path: string) {
  const res = await t.request("GET", path, { token });
  return { status: res.status, body: await res.json() };
}

/** Naively: per duration, the best of the rides' curves (on a tie, the earliest ride). */
function naiveBest(rides: Ride[]) {
  const ordered = [...rides].sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : 1));
  const best = new Map<number, { duration: number; watts: number; workoutId: string }>();
  for (const ride of ordered) {
    for (const p of ride.curve) {
      const seen = best.get(p.duration);
      if (!seen || p.watts > seen.watts) best.set(p.duration, { ...p, workoutId: ride.id });
    }
  }
  return [...best.values()].sort((a, b) => a.duration - b.duration);
}

function assertCurve(points: Point[], expected: ReturnType<typeof naiveBest>) {
  assert.deepEqual(points.map((p) => p.duration), expected.map((p) => p.duration));
  for (const [i, p] of expected.entries()) {
    assertClose(points[i].watts, p.watts, `duration ${p.duration}`);
    assert.equal(points[i].workoutId, p.workoutId, `duration ${p.duration}`);
  }
}

const day = 86_400_000;
const jan10 = Date.UTC(2025, 0, 10, 8);

Deno.test("the whole curve of a period is the element-wise best of its rides' curves", async () => {
  const rider = await registerRider(t);
  const token = rider.accessToken;
  const real = await readRide("indoor_edge800_trainer");
  const shift = jan10 + 20 * day - real[0].time;
  const rides = [
    await importSamples(token, randomRide(jan10, 2600, 1)),
    await importSamples(token, real.map((s) => ({ ...s, time: s.time + shift }))),
    await importSamples(token, randomRide(jan10 + 35 * day, 4000, 2)),
    await importSamples(token, randomRide(jan10 + 70 * day, 1500, 3)),
  ];
  // Another rider's much stronger ride in the same months never counts.
  const other = await registerRider(t);
  const strong = randomRide(jan10 + day, 3000, 4).map((s) => ({
    ...s,
    power: s.power === null ? null : s.power + 500,
  }));
  await importSamples(other.accessToken, strong);

  // Whole months inside (February), and partial months at both ends.
  const windows: [number, number][] = [
    [jan10 - day, jan10 + 80 * day],
    [jan10 + 5 * day, jan10 + 60 * day],
    [Date.UTC(2025, 1, 1), Date.UTC(2025, 2, 1)],
    [jan10 + 19 * day, jan10 + 21 * day],
  ];
  for (const [from, to] of windows) {
    const { status, body } = await get(
      token,
      `/api/analytics/power-curve?from=${new Date(from).toISOString()}&to=${
        new Date(to).toISOString()
      }`,
    );
    assert.equal(status, 200);
    assertCurve(body.points, naiveBest(rides.filter((r) => r.start >= from && r.start < to)));
    // The standard durations agree with the whole curve (`curve` is rounded at the edge).
    for (const p of body.curve) {
      const same = body.points.find((q: Point) => q.duration === p.duration);
      assertClose(rounded(same.watts, "watts"), p.watts, `standard ${p.duration}`);
    }
  }

  // Deleting the ride that holds most points: its month is computed again without it.
  const all = await get(token, "/api/analytics/power-curve");
  const counts = new Map<string, number>();
  for (const p of all.body.points) counts.set(p.workoutId, (counts.get(p.workoutId) ?? 0) + 1);
  const top = [...counts].sort((a, b) => b[1] - a[1])[0][0];
  const res = await t.request("DELETE", `/api/workouts/${top}`, { token });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const after = await get(token, "/api/analytics/power-curve");
  assertCurve(after.body.points, naiveBest(rides.filter((r) => r.id !== top)));
});

Deno.test("ties go to the earlier ride, pauses and nulls count as 0 W", async () => {
  const { accessToken: token } = await registerRider(t);
  // Two identical rides with a pause (10 s) and null seconds: every point ties.
  const ride = (start: number) =>
    Array.from({ length: 400 }, (_, i) => i)
      .filter((i) => i < 100 || i >= 110)
      .map((i) => sample(start + i * 1000, { power: i % 7 === 0 ? null : 200 + (i % 13) }));
  const later = await importSamples(token, ride(jan10 + day));
  const earlier = await importSamples(token, ride(jan10));
  const { body } = await get(token, "/api/analytics/power-curve");
  assert.ok(body.points.every((p: Point) => p.workoutId === earlier.id));
  assertCurve(body.points, naiveBest([later, earlier]));
});

/** Work on time by the closed-form normal equations over the curve's points in [lo, hi]. */
function refFit(points: { duration: number; watts: number }[], lo = 180, hi = 1200) {
  const used = points.filter((p) => p.duration >= lo && p.duration <= hi);
  const n = used.length;
  const st = used.reduce((a, p) => a + p.duration, 0);
  const sw = used.reduce((a, p) => a + p.duration * p.watts, 0);
  const stt = used.reduce((a, p) => a + p.duration ** 2, 0);
  const stw = used.reduce((a, p) => a + p.duration * p.duration * p.watts, 0);
  const cp = (n * stw - st * sw) / (n * stt - st * st);
  const wPrime = (sw - cp * st) / n;
  const mean = sw / n;
  const ssTot = used.reduce((a, p) => a + (p.duration * p.watts - mean) ** 2, 0);
  const ssRes = used.reduce(
    (a, p) => a + (p.duration * p.watts - (cp * p.duration + wPrime)) ** 2,
    0,
  );
  return { cp, wPrime, rSquared: 1 - ssRes / ssTot, points: n };
}

/** W′ balance second by second over the reference grid (pauses and nulls as 0 W). */
function refWbal(rows: readonly RefRow[], cp: number, wPrime: number) {
  let bal = wPrime;
  const series: number[] = [];
  for (const r of rows) {
    const p = r.power ?? 0;
    bal = p > cp ? bal - (p - cp) : bal + (cp - p) * (wPrime - bal) / wPrime;
    series.push(bal);
  }
  return { series, min: Math.min(wPrime, ...series), below: series.filter((b) => b < 0).length };
}

function close(a: number, b: number, what: string) {
  assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what}: ${a} is not ${b}`);
}

Deno.test("critical power: OLS of work on time over 180-1200 s, 422 below 3 points", async () => {
  const { accessToken: token } = await registerRider(t);
  const now = Date.now();
  const rides = [
    await importSamples(token, randomRide(now - 20 * day, 3000, 7)),
    await importSamples(token, randomRide(now - 10 * day, 2000, 8)),
  ];
  const best = naiveBest(rides);
  const expected = refFit(best);
  const { status, body } = await get(token, "/api/analytics/critical-power");
  assert.equal(status, 200, JSON.stringify(body));
  close(body.cp, expected.cp, "cp");
  close(body.wPrime, expected.wPrime, "wPrime");
  close(body.rSquared, expected.rSquared, "rSquared");
  assert.equal(body.points, 1021);
  close(body.pmax, best[0].watts, "pmax");

  // Another range by query.
  const narrow = await get(token, "/api/analytics/critical-power?minDuration=300&maxDuration=600");
  close(narrow.body.cp, refFit(best, 300, 600).cp, "cp 300-600");
  assert.equal(narrow.body.points, 301);

  // The CP estimate beside 0.95 × best 20 min.
  const ftp = await get(token, "/api/analytics/ftp");
  const cpEstimate = ftp.body.estimates.find((e: { method: string }) =>
    e.method === "criticalPower"
  );
  close(cpEstimate.watts, expected.cp, "ftp estimates");

  // Fewer than 3 points: 422 with its code. A range with 2 points, a rider with no rides.
  const two = await get(token, "/api/analytics/critical-power?minDuration=200&maxDuration=201");
  assert.equal(two.status, 422);
  assert.equal(two.body.code, "not_enough_curve_points");
  const stranger = await registerRider(t);
  const none = await get(stranger.accessToken, "/api/analytics/critical-power");
  assert.equal(none.status, 422);
  assert.match(none.body.error, /at least 3/);
  const bad = await get(token, "/api/analytics/critical-power?minDuration=600&maxDuration=300");
  assert.equal(bad.status, 400);
});

Deno.test("W′ balance per ride: the model over the 90 days before, or the rider's CP", async () => {
  const { accessToken: token } = await registerRider(t);
  const now = Date.now();
  const first = await importSamples(token, randomRide(now - 30 * day, 3000, 11));
  // The first ride had nothing before it: no CP, no W′ balance.
  assert.equal(first.body.workout.summary.wPrimeBalance, null);
  const samples = randomRide(now - 5 * day, 2400, 12);
  const second = await importSamples(token, samples);
  const fit = refFit(first.curve);
  const expected = refWbal(refGrid(samples), fit.cp, fit.wPrime);
  const got = second.body.workout.summary.wPrimeBalance!;
  assert.equal(got.source, "model");
  close(got.cpWatts, fit.cp, "cp");
  close(got.wPrimeJ, fit.wPrime, "wPrime");
  close(got.minJ, expected.min, "minJ");
  assert.equal(got.belowZeroS, expected.below);

  // The series at 1 s, and per 1-minute bucket the minimum of its seconds.
  const tel = await get(
    token,
    `/api/workouts/${second.id}/telemetry?resolution=1s&fields=power,wPrimeBalance`,
  );
  assert.equal(tel.status, 200, JSON.stringify(tel.body));
  assert.equal(tel.body.wPrimeBalance.length, expected.series.length);
  for (const [i, v] of expected.series.entries()) close(tel.body.wPrimeBalance[i], v, `s ${i}`);
  const gridStart = Math.floor(Math.min(...samples.map((s) => s.time)) / 1000) * 1000;
  const minute = await get(
    token,
    `/api/workouts/${second.id}/telemetry?resolution=1m&fields=wPrimeBalance`,
  );
  assert.equal(minute.status, 200, JSON.stringify(minute.body));
  assert.ok(minute.body.time.length >= 40);
  for (const [k, time] of (minute.body.time as string[]).entries()) {
    const b = Date.parse(time);
    const inBucket = expected.series.filter((_, i) =>
      gridStart + i * 1000 >= b && gridStart + i * 1000 < b + 60_000
    );
    close(minute.body.wPrimeBalance[k], Math.min(...inBucket), `bucket ${time}`);
  }
  // Another rider sees neither the series nor the ride.
  const stranger = await registerRider(t);
  const theirs = await get(
    stranger.accessToken,
    `/api/workouts/${second.id}/telemetry?resolution=1s&fields=wPrimeBalance`,
  );
  assert.equal(theirs.status, 404);

  // The rider's own CP and W′, set before the ride, win over the model.
  const set = await t.request("PUT", "/api/users/me/critical-power", {
    token,
    body: { cp: 240, wPrime: 18000, validFrom: new Date(now - 40 * day).toISOString() },
  });
  assert.equal(set.status, 200, await set.clone().text());
  await set.body?.cancel();
  const third = await importSamples(token, randomRide(now - 2 * day, 1800, 13));
  const own = third.body.workout.summary.wPrimeBalance!;
  assert.equal(own.source, "profile");
  assert.equal(own.cpWatts, 240);
  const ref = refWbal(refGrid(randomRide(now - 2 * day, 1800, 13)), 240, 18000);
  close(own.minJ, ref.min, "own minJ");
  assert.equal(own.belowZeroS, ref.below);
});

Deno.test("W/kg with the weight at the ride's date", async () => {
  const { accessToken: token } = await registerRider(t);
  for (const [kg, at] of [[80, jan10 - 10 * day], [75, jan10 + 15 * day]] as const) {
    const res = await t.request("PUT", "/api/users/me/weight", {
      token,
      body: { weightKg: kg, validFrom: new Date(at).toISOString() },
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.body?.cancel();
  }
  const a = await importSamples(token, randomRide(jan10, 1300, 21));
  const b = await importSamples(token, randomRide(jan10 + 20 * day, 1300, 22));
  const { body } = await get(token, "/api/analytics/power-curve");
  for (const p of body.points as Point[]) {
    const kg = p.workoutId === a.id ? 80 : p.workoutId === b.id ? 75 : NaN;
    assert.equal(p.weightKg, kg);
    close(p.wattsPerKg!, p.watts / kg, `W/kg at ${p.duration}`);
  }
  const history = await get(token, "/api/users/me/weight-history");
  assert.deepEqual(history.body.map((h: { weightKg: number }) => h.weightKg), [75, 80]);
  const profile = await get(token, "/api/users/me");
  assert.equal(profile.body.weightKg, 75);

  // Another rider's id: 404, nothing recorded for them.
  const other = await registerRider(t);
  const me = await get(token, "/api/users/me");
  const put = await t.request("PUT", `/api/users/${me.body.id}/weight`, {
    token: other.accessToken,
    body: { weightKg: 50 },
  });
  assert.equal(put.status, 404);
  await put.body?.cancel();
  const cp = await t.request("PUT", `/api/users/${me.body.id}/critical-power`, {
    token: other.accessToken,
    body: { cp: 300, wPrime: 20000 },
  });
  assert.equal(cp.status, 404);
  await cp.body?.cancel();
  const bad = await t.request("PUT", "/api/users/me/weight", { token, body: { weightKg: -1 } });
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
  assert.equal((await get(token, "/api/users/me/weight-history")).body.length, 2);
});
