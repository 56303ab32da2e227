// Numbers as people read them (docs/analytics.md, "Precision"): answers are rounded at the edge to
// each kind's decimals, and vanishing values (an ATL years after the last ride) answer 0.

import assert from "node:assert/strict";
import { rounded, roundedOrNull } from "../src/core/precision.ts";
import { summaryJson } from "../src/workouts/workout_json.ts";
import { summarize } from "../src/analytics/power.ts";
import { importRide, randomRide, riderWith } from "./analytics_history_fixture.ts";
import { startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

Deno.test("rounded keeps each kind's decimals; float noise, -0 and 5e-169 disappear", () => {
  assert.equal(rounded(57567.229999999996, "metres"), 57567.2);
  assert.equal(rounded(5.46e-169, "load"), 0);
  assert.equal(Object.is(rounded(-1e-9, "load"), 0), true);
  assert.equal(rounded(-2.25, "load"), -2.3);
  assert.equal(rounded(1.23456, "ratio"), 1.235);
  assert.equal(rounded(31.23456, "kmh"), 31.23);
  assert.equal(rounded(4.005, "pct"), 4.01);
  assert.equal(roundedOrNull(null, "watts"), null);
});

Deno.test("a summary answer carries rounded figures, exact integers untouched", () => {
  const samples = randomRide(Date.UTC(2026, 3, 1, 9), 1800, 5);
  const exact = summarize(samples, { ftp: 250, maxHr: 190, restingHr: 50 });
  const json = summaryJson(exact);
  assert.equal(json.avgPower, Math.round(exact.avgPower! * 10) / 10);
  assert.equal(json.intensityFactor, Math.round(exact.intensityFactor! * 1000) / 1000);
  assert.equal(json.trimp, Math.round(exact.trimp! * 10) / 10);
  assert.equal(json.movingTime, exact.movingS);
  for (const [key, value] of Object.entries(json)) {
    if (typeof value === "number") {
      assert.ok(String(value).length < 12, `${key}: ${value} is not rounded`);
    }
  }
});

Deno.test("GET /api/analytics/fitness long after the last ride answers ATL 0, not 5e-169", async () => {
  const rider = await riderWith(t, { ftpWatts: 250, maxHr: 190 });
  await importRide(t, rider.accessToken, randomRide(Date.UTC(2020, 0, 6, 9), 3600, 9), {
    ftp: 250,
    maxHr: 190,
  });
  const res = await t.request("GET", "/api/analytics/fitness?from=2026-01-01&to=2026-01-03", {
    token: rider.accessToken,
  });
  assert.equal(res.status, 200);
  const { days } = await res.json();
  for (const day of days) {
    assert.deepEqual([day.tss, day.ctl, day.atl, day.tsb], [0, 0, 0, 0], day.date);
  }
});
