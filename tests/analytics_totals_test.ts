import assert from "node:assert/strict";
import { dailyTotals } from "../src/analytics/history_queries.ts";
import { assertRounded } from "./analytics_reference.ts";
import {
  importRide,
  localDate,
  naivePeriods,
  naivePeriodStart,
  randomRide,
  type Ride,
  riderWith,
  setSettings,
} from "./analytics_history_fixture.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

const settings = { ftpWatts: 250, maxHr: 190 };
const refSettings = { ftp: 250, maxHr: 190 };

/** Ride starts around local midnights, DST changes and New Year in the zones tested. */
const boundaryStarts = [
  "2025-12-31T10:30:00Z", // Auckland Dec 31 23:30 (+13)
  "2025-12-31T11:30:00Z", // Auckland Jan 1 00:30
  "2026-01-01T07:30:00Z", // Los Angeles Dec 31 23:30 (-8)
  "2026-01-01T08:30:00Z", // Los Angeles Jan 1 00:30
  "2026-01-31T18:10:00Z", // Kathmandu Jan 31 23:55 (+5:45), Kolkata 23:40 (+5:30)
  "2026-01-31T18:20:00Z", // Kathmandu Feb 1 00:05, Kolkata Jan 31 23:50
  "2026-01-31T18:35:00Z", // Kolkata Feb 1 00:05
  "2026-03-29T00:30:00Z", // Berlin 01:30 CET, the day clocks go forward
  "2026-03-29T01:30:00Z", // Berlin 03:30 CEST
  "2026-03-29T21:30:00Z", // Berlin Sunday 23:30 CEST: the week of Mar 23
  "2026-03-29T22:15:00Z", // Berlin Monday 00:15: the week of Mar 30
  "2026-03-31T12:30:00Z", // Sydney Mar 31 23:30 (+11)
  "2026-03-31T13:30:00Z", // Sydney Apr 1 00:30 (still Mar 31 in UTC)
  "2026-04-04T15:30:00Z", // Sydney Apr 5 02:30 AEDT, half an hour before clocks go back
  "2026-04-04T16:30:00Z", // Sydney Apr 5 02:30 AEST, the same wall time again
  "2026-10-25T22:50:00Z", // Berlin Sunday 23:50 CET (clocks went back that night)
  "2026-10-25T23:10:00Z", // Berlin Monday Oct 26 00:10
  "2026-10-31T12:55:00Z", // Sydney Oct 31 23:55 (+11)
  "2026-10-31T13:05:00Z", // Sydney Nov 1 00:05
].map((iso) => Date.parse(iso));

const zones = [
  "UTC",
  "Australia/Sydney",
  "Europe/Berlin",
  "Pacific/Auckland",
  "America/Los_Angeles",
  "Asia/Kathmandu",
  "Asia/Kolkata",
];

let rider: Awaited<ReturnType<typeof riderWith>>;
let rides: Ride[];
let otherRider: Awaited<ReturnType<typeof riderWith>>;
Deno.test.beforeAll(async () => {
  rider = await riderWith(t, settings);
  otherRider = await riderWith(t, settings);
  rides = [];
  for (const [i, start] of boundaryStarts.entries()) {
    const samples = randomRide(start, 300 + 97 * i, i + 1);
    rides.push(await importRide(t, rider.accessToken, samples, refSettings));
    // Another rider rides at the same moments: none of it may show.
    await importRide(t, otherRider.accessToken, randomRide(start, 900, 100 + i), refSettings);
  }
});

type Totals = {
  rides: number;
  durationS: number;
  movingS: number;
  distanceM: number;
  workKj: number;
  tss: number;
  elevationGainM: number;
};

/** The naive answer: every period listed, each ride in the period of its local start date. */
function expectedTotals(
  list: Ride[],
  query: { period: "week" | "month" | "year"; from: string; to: string; tz: string },
) {
  const periods = naivePeriods(query.period, query.from, query.to).map((p) => ({
    ...p,
    rides: 0,
    durationS: 0,
    movingS: 0,
    distanceM: 0,
    workKj: 0,
    tss: 0,
    elevationGainM: 0,
  }));
  for (const ride of list) {
    const start = naivePeriodStart(localDate(ride.start, query.tz), query.period);
    const p = periods.find((x) => x.start === start);
    if (!p) continue;
    p.rides += 1;
    p.durationS += ride.ref.elapsedS;
    p.movingS += ride.ref.movingS;
    p.distanceM += ride.ref.distanceM ?? 0;
    p.workKj += ride.ref.workKj ?? 0;
    p.tss += ride.ref.tss ?? 0;
    p.elevationGainM += ride.ref.elevationGainM ?? 0;
  }
  return periods;
}

async function getTotals(token: string, query: string) {
  const res = await t.request("GET", `/api/analytics/totals?${query}`, { token });
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json() as {
    period: string;
    tz: string;
    totals: (Totals & { start: string; end: string })[];
  };
}

Deno.test("GET /api/analytics/totals counts a ride at 23:30 in Sydney in that day's month", async () => {
  const body = await getTotals(
    rider.accessToken,
    "period=month&from=2026-03-01&to=2026-04-30&tz=Australia/Sydney",
  );
  assert.equal(body.tz, "Australia/Sydney");
  assert.deepEqual(body.totals.map((p) => [p.start, p.rides]), [
    ["2026-03-01", 5], // the last one at Mar 31 23:30
    ["2026-04-01", 3], // the first one at Apr 1 00:30, still Mar 31 in UTC
  ]);
  const utc = await getTotals(rider.accessToken, "period=month&from=2026-03-01&to=2026-04-30");
  assert.deepEqual(utc.totals.map((p) => [p.start, p.rides]), [
    ["2026-03-01", 6],
    ["2026-04-01", 2],
  ]);
});

Deno.test("GET /api/analytics/totals puts New Year rides in the year of their local start", async () => {
  const query = "period=year&from=2025-01-01&to=2026-12-31";
  const auckland = await getTotals(rider.accessToken, `${query}&tz=Pacific/Auckland`);
  const losAngeles = await getTotals(rider.accessToken, `${query}&tz=America/Los_Angeles`);
  assert.deepEqual(auckland.totals.map((p) => [p.start, p.end, p.rides]), [
    ["2025-01-01", "2026-01-01", 1],
    ["2026-01-01", "2027-01-01", 18],
  ]);
  assert.deepEqual(losAngeles.totals.map((p) => [p.start, p.rides]), [
    ["2025-01-01", 3],
    ["2026-01-01", 16],
  ]);
});

Deno.test("GET /api/analytics/totals splits days at local midnight in :45 and :30 zones", async () => {
  const query = "period=month&from=2026-01-01&to=2026-02-28";
  const kathmandu = await getTotals(rider.accessToken, `${query}&tz=Asia/Kathmandu`);
  const kolkata = await getTotals(rider.accessToken, `${query}&tz=Asia/Kolkata`);
  // January also has the two rides of Jan 1 (UTC morning).
  assert.deepEqual(kathmandu.totals.map((p) => p.rides), [3, 2]);
  assert.deepEqual(kolkata.totals.map((p) => p.rides), [4, 1]);
});

Deno.test("GET /api/analytics/totals starts ISO weeks on local Monday across Berlin's DST changes", async () => {
  const body = await getTotals(
    rider.accessToken,
    "period=week&from=2026-03-23&to=2026-04-05&tz=Europe/Berlin",
  );
  assert.deepEqual(body.totals.map((p) => [p.start, p.end, p.rides]), [
    ["2026-03-23", "2026-03-30", 3],
    ["2026-03-30", "2026-04-06", 5],
  ]);
  const autumn = await getTotals(
    rider.accessToken,
    "period=week&from=2026-10-19&to=2026-10-26&tz=Europe/Berlin",
  );
  // The week of Oct 26 also has the two rides of Saturday Oct 31.
  assert.deepEqual(autumn.totals.map((p) => p.rides), [1, 3]);
});

Deno.test("GET /api/analytics/totals matches a naive reference in every zone and period", async () => {
  for (const tz of zones) {
    for (const period of ["week", "month", "year"] as const) {
      const query = { period, from: "2025-12-15", to: "2026-11-20", tz };
      const body = await getTotals(
        rider.accessToken,
        `period=${period}&from=${query.from}&to=${query.to}&tz=${encodeURIComponent(tz)}`,
      );
      assertRounded(body.totals, expectedTotals(rides, query), `${tz} ${period}`);
      const counted = body.totals.reduce((n, p) => n + p.rides, 0);
      assert.equal(counted, rides.length, `${tz} ${period}: every ride counted once`);
    }
  }
});

Deno.test("GET /api/analytics/totals lists the last 12 periods in UTC with zeros for a new rider", async () => {
  const fresh = await registerRider(t);
  const body = await getTotals(fresh.accessToken, "");
  assert.equal(body.period, "month");
  assert.equal(body.tz, "UTC");
  assert.equal(body.totals.length, 12);
  const thisMonth = `${new Date().toISOString().slice(0, 7)}-01`;
  assert.equal(body.totals[11].start, thisMonth);
  for (const p of body.totals) {
    assert.deepEqual(
      [p.rides, p.durationS, p.movingS, p.distanceM, p.workKj, p.tss, p.elevationGainM],
      [0, 0, 0, 0, 0, 0, 0],
    );
  }
  const weeks = await getTotals(fresh.accessToken, "period=week&to=2026-03-04&tz=Asia/Tokyo");
  assert.deepEqual(
    [weeks.totals.length, weeks.totals[0].start, weeks.totals[11].end],
    [12, "2025-12-15", "2026-03-09"],
  );
});

Deno.test("GET /api/analytics/totals answers 400 to bad input", async () => {
  const cases: [string, RegExp][] = [
    ["tz=Mars/Olympus", /tz must be an IANA time zone/],
    ["tz=%2B05:30", /tz must be an IANA time zone/],
    ["period=day", /period/],
    ["from=2026-02-30", /from must be a date as YYYY-MM-DD/],
    ["from=26-01-01", /from must be a date as YYYY-MM-DD/],
    ["from=2026-05-01&to=2026-04-01", /from must not be after to/],
    ["period=week&from=1970-01-01&to=2100-01-01", /more than 1000 periods/],
  ];
  for (const [query, message] of cases) {
    const res = await t.request("GET", `/api/analytics/totals?${query}`, {
      token: rider.accessToken,
    });
    assert.equal(res.status, 400, query);
    const body = await res.json();
    assert.match(body.error, message, query);
    assert.equal(typeof body.requestId, "string");
  }
  const anonymous = await t.request("GET", "/api/analytics/totals");
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
});

Deno.test("a deleted ride leaves the totals", async () => {
  const someone = await riderWith(t, settings);
  const start = Date.parse("2026-06-10T08:00:00Z");
  const kept = await importRide(t, someone.accessToken, randomRide(start, 600, 7), refSettings);
  const gone = await importRide(
    t,
    someone.accessToken,
    randomRide(start + 3_600_000, 600, 8),
    refSettings,
  );
  const query = "period=month&from=2026-06-01&to=2026-06-30";
  assert.equal((await getTotals(someone.accessToken, query)).totals[0].rides, 2);
  const res = await t.request("DELETE", `/api/workouts/${gone.id}`, { token: someone.accessToken });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const [june] = (await getTotals(someone.accessToken, query)).totals;
  const range = { from: "2026-06-01", to: "2026-06-30" };
  assertRounded(june, expectedTotals([kept], { period: "month", ...range, tz: "UTC" })[0]);
});

Deno.test("dailyTotals reads a bucket ride by ride when it straddles a local midnight", async () => {
  // Amsterdam in 1936 was UTC+1:19:32 in summer: local midnight fell at 22:40:28 UTC, inside the
  // 22:30-22:45 bucket. No zone does that since 1990, but the answer must stay exact.
  const userId = crypto.randomUUID();
  const insert = (iso: string, distance: number) =>
    t.sql`
      insert into workout_totals (user_id, workout_id, start_time, duration_s, moving_s, distance_m)
      values (${userId}, ${crypto.randomUUID()}, ${new Date(iso)}, 60, 60, ${distance})
    `;
  await insert("1936-06-01T22:35:00Z", 1000); // 23:54:32 on June 1
  await insert("1936-06-01T22:42:00Z", 2000); // 00:01:32 on June 2
  const days = await dailyTotals(t.sql, {
    userId,
    timeZone: "Europe/Amsterdam",
    from: "1936-05-01",
    to: "1936-06-30",
  });
  assert.deepEqual(days.map((d) => [d.date, d.rides, d.distanceM]), [
    ["1936-06-01", 1, 1000],
    ["1936-06-02", 1, 2000],
  ]);
  await t.sql`delete from workout_totals where user_id = ${userId}`;
});

Deno.test("GET /api/analytics/zones sums archived zone times over the rides started in [from, to)", async () => {
  // A new account has no FTP or max HR: its first ride is archived without them, so it counts as
  // a ride but adds no zone time. (An FTP, once set, cannot be cleared: PATCH answers 400.)
  const cyclist = await registerRider(t);
  const base = Date.parse("2026-05-04T10:05:00Z");
  await importRide(t, cyclist.accessToken, randomRide(base + 3_600_000, 300, 50), {
    ftp: null,
    maxHr: null,
  });
  await setSettings(t, cyclist.accessToken, settings);
  const zoned: Ride[] = [];
  for (let i = 0; i < 3; i++) {
    const samples = randomRide(base + i * 300_000, 400 + 50 * i, 40 + i);
    zoned.push(await importRide(t, cyclist.accessToken, samples, refSettings));
  }
  await importRide(t, otherRider.accessToken, randomRide(base, 600, 51), refSettings);

  const get = async (query: string) => {
    const res = await t.request("GET", `/api/analytics/zones?${query}`, {
      token: cyclist.accessToken,
    });
    assert.equal(res.status, 200);
    return await res.json();
  };
  const sum = (list: Ride[], key: "powerZones" | "heartRateZones", zone: number) =>
    list.reduce((s, r) => s + r.ref[key]![zone].seconds, 0);
  type ZoneSeconds = { zone: number; name?: string; seconds: number }[];
  type ZonesBody = {
    rides: number;
    power: { rides: number; zones: ZoneSeconds };
    heartRate: { rides: number; zones: ZoneSeconds };
  };
  const expectZones = (body: ZonesBody, list: Ride[], rides: number) => {
    assert.equal(body.rides, rides);
    assert.equal(body.power.rides, list.length);
    assert.equal(body.heartRate.rides, list.length);
    assert.deepEqual(
      body.power.zones.map((z) => [z.zone, z.name, z.seconds]),
      zoned[0].ref.powerZones!.map((z, i) => [z.zone, z.name, sum(list, "powerZones", i)]),
    );
    assert.deepEqual(
      body.heartRate.zones.map((z) => z.seconds),
      [0, 1, 2, 3, 4].map((i) => sum(list, "heartRateZones", i)),
    );
  };
  expectZones(await get(""), zoned, 4);
  // 10:05, 10:10 and 10:15 are in two 15-minute buckets; from 10:07 cuts the first one.
  expectZones(
    await get("from=2026-05-04T10:07:00Z&to=2026-05-04T10:15:00Z"),
    zoned.slice(1, 2),
    1,
  );
  expectZones(await get("from=2026-05-04T10:10:00Z"), zoned.slice(1), 3);
  const fresh = await registerRider(t);
  const none = await (await t.request("GET", "/api/analytics/zones", {
    token: fresh.accessToken,
  })).json();
  assert.equal(none.rides, 0);
  assert.deepEqual(none.power.zones.map((z: { seconds: number }) => z.seconds), [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
  assert.deepEqual(none.heartRate.zones.map((z: { seconds: number }) => z.seconds), [
    0,
    0,
    0,
    0,
    0,
  ]);
  const bad = await t.request("GET", "/api/analytics/zones?from=yesterday", {
    token: fresh.accessToken,
  });
  assert.equal(bad.status, 400);
  await bad.body?.cancel();
});
