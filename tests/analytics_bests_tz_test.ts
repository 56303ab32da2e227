import assert from "node:assert/strict";
import {
  importRide,
  localDate,
  naivePeriodStart,
  randomRide,
  type Ride,
  riderWith,
} from "./analytics_history_fixture.ts";
import { roundedAnswer } from "./analytics_reference.ts";
import { startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

const settings = { ftpWatts: 250, maxHr: 190 };
const refSettings = { ftp: 250, maxHr: 190 };

/** The instant a local day starts in a zone, found from Intl by walking in 15-minute steps. */
function localMidnight(day: string, timeZone: string): number {
  let ms = Date.parse(`${day}T00:00:00Z`) - 15 * 3600_000;
  while (localDate(ms, timeZone) !== day) ms += 15 * 60_000;
  return ms;
}

/** Naively: the best of each local bucket, from the rides' reference curves. */
function naiveBests(rides: Ride[], duration: number, unit: "day" | "week" | "month", tz: string) {
  const best = new Map<string, number>();
  for (const ride of rides) {
    const watts = ride.ref.powerCurve.find((e) => e.duration === duration)?.watts;
    if (watts === null || watts === undefined) continue;
    const day = localDate(ride.start, tz);
    const first = unit === "day" ? day : naivePeriodStart(day, unit);
    best.set(first, Math.max(best.get(first) ?? -Infinity, watts));
  }
  return [...best].sort(([a], [b]) => a < b ? -1 : 1).map(([day, watts]) => ({
    bucket: new Date(localMidnight(day, tz)).toISOString(),
    watts,
  }));
}

Deno.test("GET /api/analytics/bests buckets rides near midnight UTC by the local day, week and month of tz", async () => {
  const rider = await riderWith(t, settings);
  const other = await riderWith(t, settings);
  // Sunday 23:30 UTC (Monday in Berlin), Tuesday 23:30 UTC, 31 March 23:30 UTC (1 April in
  // Berlin, after the clocks went forward), 1 April 12:00 UTC.
  const starts = [
    Date.parse("2026-03-08T23:30:00Z"),
    Date.parse("2026-03-10T23:30:00Z"),
    Date.parse("2026-03-31T23:30:00Z"),
    Date.parse("2026-04-01T12:00:00Z"),
  ];
  const rides: Ride[] = [];
  for (const [i, start] of starts.entries()) {
    rides.push(await importRide(t, rider.accessToken, randomRide(start, 900, 40 + i), refSettings));
  }
  await importRide(t, other.accessToken, randomRide(starts[0], 900, 99), refSettings);

  for (const tz of ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"]) {
    for (const unit of ["day", "week", "month"] as const) {
      const res = await t.request(
        "GET",
        `/api/analytics/bests?duration=300&bucket=${unit}&tz=${tz}`,
        { token: rider.accessToken },
      );
      assert.equal(res.status, 200, await res.clone().text());
      const body = await res.json();
      assert.equal(body.tz, tz);
      assert.deepEqual(
        body.bests,
        roundedAnswer(naiveBests(rides, 300, unit, tz)),
        `${tz} ${unit}`,
      );
    }
  }

  // The range takes whole local days: from Berlin's 1 April (22:00 UTC on 31 March) on.
  const res = await t.request(
    "GET",
    "/api/analytics/bests?duration=300&bucket=day&tz=Europe/Berlin&from=2026-04-01T00:00:00Z",
    { token: rider.accessToken },
  );
  assert.equal(res.status, 200);
  assert.deepEqual(
    (await res.json()).bests,
    roundedAnswer(naiveBests(rides.slice(2), 300, "day", "Europe/Berlin")),
  );
});

Deno.test("GET /api/analytics/bests refuses a time zone that is not an IANA name", async () => {
  const rider = await riderWith(t, settings);
  for (const tz of ["%2B05:30", "Mars/Olympus"]) {
    const res = await t.request("GET", `/api/analytics/bests?duration=300&tz=${tz}`, {
      token: rider.accessToken,
    });
    assert.equal(res.status, 400, tz);
    assert.match((await res.json()).error, /tz must be an IANA time zone/);
  }
});
