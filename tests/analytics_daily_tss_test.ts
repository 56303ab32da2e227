// dailyTss (what the fitness chart reads) against dailyTotals and a naive per-ride sum by local day
// from Intl, in zones with :45 offsets, DST changes and a day line, with rides lacking TSS.

import assert from "node:assert/strict";
import { dailyTotals, dailyTss } from "../src/analytics/history_queries.ts";
import { prng } from "./analytics_reference.ts";
import { localDate } from "./analytics_history_fixture.ts";
import { startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

Deno.test("dailyTss answers the days with rides and their TSS sums, as dailyTotals does", async () => {
  const random = prng(42);
  const userId = crypto.randomUUID();
  const other = crypto.randomUUID();
  const rides: { start: number; tss: number | null }[] = [];
  // A ride without TSS first (its day still starts the chart), then ~80 rides over 100 days,
  // often two a day and many around midnight UTC (the local day differs by zone).
  const first = Date.parse("2026-02-20T23:50:00Z");
  rides.push({ start: first, tss: null });
  for (let i = 0; i < 80; i++) {
    const start = first + Math.floor(random() * 100 * 96) * 900_000 + Math.floor(random() * 900) *
        1000;
    rides.push({ start, tss: random() < 0.1 ? null : Math.round(random() * 20000) / 100 });
  }
  for (const [i, ride] of rides.entries()) {
    await t.sql`
      insert into workout_totals (user_id, workout_id, start_time, duration_s, tss)
      values (${userId}, ${crypto.randomUUID()}, ${new Date(ride.start)}, 3600, ${ride.tss})
    `;
    if (i % 10 === 0) {
      await t.sql`
        insert into workout_totals (user_id, workout_id, start_time, duration_s, tss)
        values (${other}, ${crypto.randomUUID()}, ${new Date(ride.start)}, 60, 999)
      `;
    }
  }
  const to = "2026-05-15"; // rides after it do not count
  for (const timeZone of ["UTC", "Asia/Kathmandu", "America/Los_Angeles", "Pacific/Kiritimati"]) {
    const naive = new Map<string, number>();
    for (const ride of [...rides].sort((a, b) => a.start - b.start)) {
      const day = localDate(ride.start, timeZone);
      if (day <= to) naive.set(day, (naive.get(day) ?? 0) + (ride.tss ?? 0));
    }
    const expected = [...naive].sort(([a], [b]) => a < b ? -1 : 1).map(([date, tss]) => ({
      date,
      tss,
    }));
    const tss = await dailyTss(t.sql, { userId, timeZone, to });
    assert.deepEqual(tss.map((d) => d.date), expected.map((d) => d.date), timeZone);
    for (const [i, day] of tss.entries()) {
      assert.ok(Math.abs(day.tss - expected[i].tss) < 1e-9, `${timeZone} ${day.date}`);
    }
    const totals = await dailyTotals(t.sql, { userId, timeZone, to });
    assert.deepEqual(tss, totals.map((d) => ({ date: d.date, tss: d.tss })), timeZone);
  }
  await t.sql`delete from workout_totals where user_id = any(${[userId, other]}::uuid[])`;
});

Deno.test("dailyTss reads a bucket ride by ride when it straddles a local midnight", async () => {
  // Monrovia was UTC-0:44:30 until 1972: local midnight fell at 00:44:30 UTC, inside the
  // 00:30-00:45 bucket. A ride before 1970 is left out, as dailyTotals leaves it out.
  const userId = crypto.randomUUID();
  const rides = [
    ["1969-06-01T12:00:00Z", 5],
    ["1971-06-01T00:40:00Z", 10], // 23:55:30 on May 31
    ["1971-06-01T00:44:50Z", 20], // 00:00:20 on June 1
  ] as const;
  for (const [iso, tss] of rides) {
    await t.sql`
      insert into workout_totals (user_id, workout_id, start_time, duration_s, tss)
      values (${userId}, ${crypto.randomUUID()}, ${new Date(iso)}, 60, ${tss})
    `;
  }
  const options = { userId, timeZone: "Africa/Monrovia", to: "1971-06-30" };
  const expected = [{ date: "1971-05-31", tss: 10 }, { date: "1971-06-01", tss: 20 }];
  assert.deepEqual(await dailyTss(t.sql, options), expected);
  const totals = await dailyTotals(t.sql, options);
  assert.deepEqual(totals.map((d) => ({ date: d.date, tss: d.tss })), expected);
  await t.sql`delete from workout_totals where user_id = ${userId}`;
});
