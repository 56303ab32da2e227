import assert from "node:assert/strict";
import { assertRounded } from "./analytics_reference.ts";
import {
  daysFrom,
  importRide,
  localDate,
  randomRide,
  type Ride,
  riderWith,
} from "./analytics_history_fixture.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

const settings = { ftpWatts: 250, maxHr: 190 };
const refSettings = { ftp: 250, maxHr: 190 };

type Point = { duration: number; watts: number; workoutId: string; startTime: string };

async function get(token: string, path: string) {
  const res = await t.request("GET", path, { token });
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json();
}

async function expect400(token: string, path: string, message: RegExp) {
  const res = await t.request("GET", path, { token });
  assert.equal(res.status, 400, path);
  assert.match((await res.json()).error, message, path);
}

/** Naively: per duration, the best effort of the rides (on a tie, the earliest ride). */
function naiveBests(rides: Ride[]): Point[] {
  const best = new Map<number, Point>();
  const ordered = [...rides].sort((a, b) => a.start - b.start);
  for (const ride of ordered) {
    for (const { duration, watts } of ride.ref.powerCurve) {
      if (watts === null) continue;
      const current = best.get(duration);
      if (!current || watts > current.watts) {
        best.set(duration, {
          duration,
          watts,
          workoutId: ride.id,
          startTime: new Date(ride.start).toISOString(),
        });
      }
    }
  }
  return [...best.values()].sort((a, b) => a.duration - b.duration);
}

Deno.test("GET /api/analytics/power-curve compares two ranges", async () => {
  const rider = await riderWith(t, settings);
  const other = await riderWith(t, settings);
  const may = Date.parse("2026-05-03T07:00:00Z");
  const june = Date.parse("2026-06-07T07:00:00Z");
  const rides: Ride[] = [];
  for (let i = 0; i < 3; i++) {
    rides.push(
      await importRide(
        t,
        rider.accessToken,
        randomRide(may + i * 86_400_000, 700 + 300 * i, 60 + i),
        refSettings,
      ),
    );
    rides.push(
      await importRide(
        t,
        rider.accessToken,
        randomRide(june + i * 86_400_000, 900 + 200 * i, 70 + i),
        refSettings,
      ),
    );
  }
  await importRide(t, other.accessToken, randomRide(may, 2000, 80), refSettings);
  const body = await get(
    rider.accessToken,
    "/api/analytics/power-curve?from=2026-06-01T00:00:00Z&to=2026-07-01T00:00:00Z" +
      "&compareFrom=2026-05-01T00:00:00Z&compareTo=2026-06-01T00:00:00Z",
  );
  assertRounded(body.curve, naiveBests(rides.filter((r) => r.start >= june)));
  // The whole curve (`points`) has its own golden test (tests/analytics_curve_test.ts).
  const { points: _points, ...compare } = body.compare;
  assertRounded(compare, {
    from: "2026-05-01T00:00:00.000Z",
    to: "2026-06-01T00:00:00.000Z",
    curve: naiveBests(rides.filter((r) => r.start < june)),
  });
  const plain = await get(rider.accessToken, "/api/analytics/power-curve");
  assert.equal("compare" in plain, false);
  assertRounded(plain.curve, naiveBests(rides));
  await expect400(
    rider.accessToken,
    "/api/analytics/power-curve?compareFrom=2026-05-01T00:00:00Z",
    /compareFrom and compareTo must be given together/,
  );
  await expect400(rider.accessToken, "/api/analytics/power-curve?compareTo=soon", /compareTo/);
});

Deno.test("GET /api/analytics/records answers all-time and yearly bests and when each record was set", async () => {
  const rider = await riderWith(t, settings);
  const other = await riderWith(t, settings);
  const starts = [
    "2025-03-02T08:00:00Z",
    "2025-07-14T17:00:00Z",
    "2025-12-31T12:00:00Z", // New Year's Day 01:00 in Auckland
    "2026-02-20T08:00:00Z",
    "2026-06-01T06:00:00Z",
    "2026-09-09T16:00:00Z",
  ].map((iso) => Date.parse(iso));
  const rides: Ride[] = [];
  for (const [i, start] of starts.entries()) {
    rides.push(
      await importRide(t, rider.accessToken, randomRide(start, 500 + 160 * i, 90 + i), refSettings),
    );
  }
  // The same ride again later ties every best: the earlier one keeps the records.
  const again = randomRide(Date.parse("2026-10-01T08:00:00Z"), 500, 90);
  rides.push(await importRide(t, rider.accessToken, again, refSettings));
  await importRide(t, other.accessToken, randomRide(starts[0], 1500, 99), refSettings);

  const expectedHistory: (Point & { previousWatts: number | null })[] = [];
  const best = new Map<number, number>();
  for (const ride of rides) {
    for (const { duration, watts } of ride.ref.powerCurve) {
      if (watts === null) continue;
      const previous = best.get(duration);
      if (previous === undefined || watts > previous) {
        expectedHistory.push({
          duration,
          watts,
          previousWatts: previous ?? null,
          workoutId: ride.id,
          startTime: new Date(ride.start).toISOString(),
        });
        best.set(duration, watts);
      }
    }
  }
  const yearsIn = (tz: string) => {
    const years = [...new Set(rides.map((r) => Number(localDate(r.start, tz).slice(0, 4))))];
    return years.map((year) => ({
      year,
      bests: naiveBests(rides.filter((r) => Number(localDate(r.start, tz).slice(0, 4)) === year)),
    }));
  };

  const utc = await get(rider.accessToken, "/api/analytics/records");
  assert.equal(utc.tz, "UTC");
  assertRounded(utc.allTime, naiveBests(rides));
  assertRounded(utc.history, expectedHistory);
  assert.ok(utc.history.length > 10, "later rides beat some records");
  assertRounded(utc.years, yearsIn("UTC"));
  assert.deepEqual(utc.years.map((y: { year: number }) => y.year), [2025, 2026]);
  const auckland = await get(rider.accessToken, "/api/analytics/records?tz=Pacific/Auckland");
  assertRounded(auckland.years, yearsIn("Pacific/Auckland"));
  assert.equal(auckland.history.some((r: Point) => r.workoutId === rides.at(-1)!.id), false);

  const fresh = await registerRider(t);
  const none = await get(fresh.accessToken, "/api/analytics/records");
  assert.deepEqual([none.allTime, none.years, none.history], [[], [], []]);
  await expect400(fresh.accessToken, "/api/analytics/records?tz=Europe/Atlantis", /tz must be/);
});

Deno.test("GET /api/analytics/ftp estimates 95 % of the best 20 minutes in the window", async () => {
  const rider = await riderWith(t, settings);
  const other = await riderWith(t, settings);
  const now = Math.floor(Date.now() / 1000) * 1000;
  const daysAgo = (d: number) => now - d * 86_400_000;
  const old = await importRide(
    t,
    rider.accessToken,
    randomRide(daysAgo(100), 1500, 11),
    refSettings,
  );
  const recent = [
    await importRide(t, rider.accessToken, randomRide(daysAgo(40), 1300, 12), refSettings),
    await importRide(t, rider.accessToken, randomRide(daysAgo(10), 1400, 13), refSettings),
    await importRide(t, rider.accessToken, randomRide(daysAgo(2), 900, 14), refSettings), // < 20 min
  ];
  await importRide(t, other.accessToken, randomRide(daysAgo(1), 1500, 15), refSettings);
  const history = [
    { ftpWatts: 240, source: "manual", createdAt: "2026-01-10T10:00:00.000Z" },
    { ftpWatts: 255, source: "estimate", createdAt: "2026-06-01T10:00:00.000Z" },
    { ftpWatts: 250, source: "manual", createdAt: "2026-03-15T10:00:00.000Z" },
  ];
  for (const h of history) {
    await t.sql`
      insert into ftp_history (user_id, ftp_watts, source, created_at)
      values (${rider.user.id}, ${h.ftpWatts}, ${h.source}, ${h.createdAt})
    `;
  }
  await t.sql`
    insert into ftp_history (user_id, ftp_watts, source) values (${other.user.id}, 400, 'manual')
  `;

  const best20 = (rides: Ride[]) => {
    const [b] = naiveBests(rides).filter((p) => p.duration === 1200);
    return {
      watts: 0.95 * b.watts,
      effort: { workoutId: b.workoutId, startTime: b.startTime, watts: b.watts },
    };
  };
  const newestFirst = [...history].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const window90 = await get(rider.accessToken, "/api/analytics/ftp");
  assert.equal(window90.windowDays, 90);
  assertRounded(window90.estimate, best20(recent));
  // riderWith set the FTP with PATCH /api/users/me, which records it now: the newest entry.
  const [fromProfile, ...inserted] = window90.history;
  assert.deepEqual([fromProfile.ftpWatts, fromProfile.source], [settings.ftpWatts, "profile"]);
  assert.deepEqual(inserted, newestFirst);
  const window120 = await get(rider.accessToken, "/api/analytics/ftp?window=120");
  assertRounded(window120.estimate, best20([old, ...recent]));
  const window5 = await get(rider.accessToken, "/api/analytics/ftp?window=5");
  assert.equal(window5.estimate, null);

  const fresh = await registerRider(t);
  const none = await get(fresh.accessToken, "/api/analytics/ftp");
  assert.deepEqual([none.estimate, none.history], [null, []]);
  await expect400(
    fresh.accessToken,
    "/api/analytics/ftp?window=0",
    /window must be 1 to 3650 days/,
  );
  await expect400(fresh.accessToken, "/api/analytics/ftp?window=2.5", /window must be whole days/);
});

/** Naively, from the definitions as sums: CTL(d) = Σ TSS(k)·(1/42)·(41/42)^(d−k) over k ≤ d. */
function naiveFitness(tssByDay: Map<string, number>, from: string, to: string) {
  const firstRide = [...tssByDay.keys()].sort()[0];
  const all = daysFrom(firstRide < from ? firstRide : from, to);
  const load = (index: number, days: number) => {
    let sum = 0;
    for (let k = 0; k <= index; k++) {
      sum += (tssByDay.get(all[k]) ?? 0) * (1 / days) * ((days - 1) / days) ** (index - k);
    }
    return sum;
  };
  return all.map((date, i) => ({
    date,
    tss: tssByDay.get(date) ?? 0,
    ctl: load(i, 42),
    atl: load(i, 7),
    tsb: i === 0 ? 0 : load(i - 1, 42) - load(i - 1, 7),
  })).filter((d) => d.date >= from);
}

Deno.test("GET /api/analytics/fitness answers CTL, ATL and TSB per local day, warmed up from the first ride", async () => {
  const rider = await riderWith(t, settings);
  const other = await riderWith(t, settings);
  const starts = [
    "2026-04-02T06:00:00Z",
    "2026-04-02T15:00:00Z", // two rides on one day
    "2026-04-05T21:30:00Z", // Berlin Apr 5 23:30
    "2026-04-05T22:30:00Z", // Berlin Apr 6 00:30 (Apr 5 in UTC)
    "2026-04-20T07:00:00Z",
    "2026-05-11T07:00:00Z",
    "2026-05-12T07:00:00Z",
  ].map((iso) => Date.parse(iso));
  const tz = "Europe/Berlin";
  const tssByDay = new Map<string, number>();
  for (const [i, start] of starts.entries()) {
    const ride = await importRide(
      t,
      rider.accessToken,
      randomRide(start, 1200 + 200 * i, 30 + i),
      refSettings,
    );
    const day = localDate(start, tz);
    tssByDay.set(day, (tssByDay.get(day) ?? 0) + ride.ref.tss!);
    await importRide(t, other.accessToken, randomRide(start + 600_000, 3000, 130 + i), refSettings);
  }
  const body = await get(
    rider.accessToken,
    `/api/analytics/fitness?from=2026-04-15&to=2026-05-20&tz=${tz}`,
  );
  assert.deepEqual([body.tz, body.from, body.to, body.days.length], [
    tz,
    "2026-04-15",
    "2026-05-20",
    36,
  ]);
  assertRounded(body.days, naiveFitness(tssByDay, "2026-04-15", "2026-05-20"));
  assert.ok(body.days[0].ctl > 0, "rides before from warm CTL up");

  const utc = await get(rider.accessToken, "/api/analytics/fitness?from=2026-04-01&to=2026-04-07");
  const utcDays = new Map<string, number>();
  for (const [day, tss] of tssByDay) {
    const moved = day === "2026-04-06" ? "2026-04-05" : day;
    utcDays.set(moved, (utcDays.get(moved) ?? 0) + tss);
  }
  assertRounded(utc.days, naiveFitness(utcDays, "2026-04-01", "2026-04-07"));
  assert.equal(utc.days[0].ctl, 0);

  const fresh = await registerRider(t);
  const none = await get(fresh.accessToken, "/api/analytics/fitness");
  assert.equal(none.days.length, 90);
  assert.equal(none.to, new Date().toISOString().slice(0, 10));
  assert.ok(
    none.days.every((d: { tss: number; ctl: number; atl: number; tsb: number }) =>
      d.tss === 0 && d.ctl === 0 && d.atl === 0 && d.tsb === 0
    ),
  );
  await expect400(
    fresh.accessToken,
    "/api/analytics/fitness?from=2026-05-02&to=2026-05-01",
    /from must not be after to/,
  );
  await expect400(
    fresh.accessToken,
    "/api/analytics/fitness?from=2000-01-01&to=2026-01-01",
    /more than 3660 days/,
  );
  await expect400(fresh.accessToken, "/api/analytics/fitness?tz=Berlin", /tz must be/);
});
