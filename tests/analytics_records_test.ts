// The record history that effort_records keeps (sql/0014) against a brute-force pass over the same
// efforts: through inserts in any order, ties, deletions, concurrent archives, the backfill of
// existing efforts, and through the API (imports out of order, a deleted record holder); the
// yearly bests read from efforts_by_year (sql/0015) against a naive pick per local year.

import assert from "node:assert/strict";
import type { Sql } from "../src/db/client.ts";
import { migrate, readMigrations } from "../src/db/migrate.ts";
import { assertRounded, prng } from "./analytics_reference.ts";
import { yearlyBests } from "../src/analytics/history_queries.ts";
import {
  importRide,
  localDate,
  randomRide,
  type Ride,
  riderWith,
} from "./analytics_history_fixture.ts";
import { startTestApp, type TestApp, withScratchDatabase } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

type Effort = { workoutId: string; startTime: number; durationS: number; watts: number };
type Record = Effort & { previousWatts: number | null };

/**
 * Naively: per duration, the efforts in ride order (start time, then workout id), each one a record
 * when it is higher than every one before it.
 */
function naiveRecords(efforts: readonly Effort[]): Record[] {
  const ordered = [...efforts].sort((a, b) =>
    a.durationS - b.durationS || a.startTime - b.startTime ||
    (a.workoutId < b.workoutId ? -1 : a.workoutId > b.workoutId ? 1 : 0)
  );
  const records: Record[] = [];
  let best: Record | undefined;
  for (const effort of ordered) {
    if (best && best.durationS !== effort.durationS) best = undefined;
    if (!best || effort.watts > best.watts) {
      best = { ...effort, previousWatts: best?.watts ?? null };
      records.push(best);
    }
  }
  return records;
}

/** Naively: per local year (from Intl) and duration, the best effort, on a tie the earliest ride. */
function naiveYearlyBests(efforts: readonly Effort[], timeZone: string) {
  const best = new Map<string, Effort & { year: number }>();
  for (const effort of efforts) {
    const year = Number(localDate(effort.startTime, timeZone).slice(0, 4));
    const key = `${year}/${effort.durationS}`;
    const current = best.get(key);
    const earlier = current &&
      (effort.startTime < current.startTime ||
        (effort.startTime === current.startTime && effort.workoutId < current.workoutId));
    if (!current || effort.watts > current.watts || (effort.watts === current.watts && earlier)) {
      best.set(key, { ...effort, year });
    }
  }
  return [...best.values()].sort((a, b) => a.year - b.year || a.durationS - b.durationS);
}

async function storedYearlyBests(sql: Sql, userId: string, timeZone: string) {
  const rows = await yearlyBests(sql, { userId, timeZone });
  return rows.map((r) => ({
    workoutId: r.workoutId,
    startTime: r.startTime.getTime(),
    durationS: r.durationS,
    watts: r.watts,
    year: r.year,
  }));
}

const zones = ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "Europe/Berlin"];

async function storedRecords(sql: Sql, userId: string): Promise<Record[]> {
  const rows = await sql<
    {
      workoutId: string;
      startTime: Date;
      durationS: number;
      watts: number;
      previousWatts: number;
    }[]
  >`
    select workout_id, start_time, duration_s, watts, previous_watts
    from effort_records
    where user_id = ${userId}
    order by duration_s, start_time, workout_id
  `;
  return rows.map((r) => ({
    workoutId: r.workoutId,
    startTime: r.startTime.getTime(),
    durationS: r.durationS,
    watts: r.watts,
    previousWatts: r.previousWatts,
  }));
}

async function insertEfforts(sql: Sql, userId: string, efforts: readonly Effort[]) {
  if (efforts.length === 0) return;
  await sql`
    insert into workout_efforts (user_id, workout_id, start_time, duration_s, watts)
    select ${userId}::uuid, e.workout_id, to_timestamp(e.t / 1000.0), e.duration_s, e.watts
    from unnest(
      ${efforts.map((e) => e.workoutId)}::uuid[],
      ${efforts.map((e) => e.startTime)}::float8[],
      ${efforts.map((e) => e.durationS)}::int[],
      ${efforts.map((e) => e.watts)}::float8[]
    ) as e(workout_id, t, duration_s, watts)
  `;
}

const day = Date.parse("2024-01-01T00:00:00Z");

/**
 * Random rides' efforts: few start times and few watt values, so that rides share start times
 * (the workout id decides) and tie on watts; some rides lack a duration.
 */
function randomRides(random: () => number, count: number): Effort[][] {
  return Array.from({ length: count }, () => {
    const workoutId = crypto.randomUUID();
    const startTime = day + Math.floor(random() * 12) * 86_400_000;
    return [1, 60, 1200]
      .filter(() => random() < 0.85)
      .map((durationS) => ({
        workoutId,
        startTime,
        durationS,
        watts: 200 + 10 * Math.floor(random() * 6),
      }));
  });
}

Deno.test("effort_records stays the brute-force record history through inserts in any order, ties and deletions", async () => {
  const random = prng(1402);
  const rider = crypto.randomUUID();
  const other = crypto.randomUUID();
  let stored: Effort[][] = [];
  const otherRides = randomRides(random, 5);
  await insertEfforts(t.sql, other, otherRides.flat());
  for (let step = 0; step < 60; step++) {
    const roll = random();
    if (roll < 0.6 || stored.length < 3) {
      // One to four rides in one statement: rows of one duration from several rides together.
      const rides = randomRides(random, 1 + Math.floor(random() * 4));
      await insertEfforts(t.sql, rider, rides.flat());
      stored.push(...rides);
    } else {
      // Deleting one or two rides in one statement, record holders or not.
      const gone = stored.filter(() => random() < 0.2).slice(0, 2);
      if (gone.length === 0) gone.push(stored[Math.floor(random() * stored.length)]);
      const ids = gone.map((ride) => ride[0]?.workoutId).filter((id) => id !== undefined);
      await t.sql`delete from workout_efforts where workout_id = any(${ids}::uuid[])`;
      stored = stored.filter((ride) => !gone.includes(ride));
    }
    assert.deepEqual(
      await storedRecords(t.sql, rider),
      naiveRecords(stored.flat()),
      `step ${step}`,
    );
  }
  assert.deepEqual(await storedRecords(t.sql, other), naiveRecords(otherRides.flat()));
  // Every effort of the rider at once (as an account deletion does): no record left.
  await t.sql`delete from workout_efforts where user_id = ${rider}`;
  assert.deepEqual(await storedRecords(t.sql, rider), []);
  assert.deepEqual(await storedRecords(t.sql, other), naiveRecords(otherRides.flat()));
});

Deno.test("effort_records is right after archives of one rider that overlap in time", async () => {
  const random = prng(17);
  const rider = crypto.randomUUID();
  const rides = randomRides(random, 12);
  await insertEfforts(t.sql, rider, rides.slice(0, 4).flat());
  // Each transaction writes its ride, then waits before committing, while the others write
  // theirs; one of them deletes a ride that holds records.
  const holder = (await storedRecords(t.sql, rider))[0].workoutId;
  await Promise.all([
    ...rides.slice(4).map((ride) =>
      t.sql.begin(async (tx) => {
        await insertEfforts(tx as unknown as Sql, rider, ride);
        await tx`select pg_sleep(0.02)`;
      })
    ),
    t.sql.begin(async (tx) => {
      await tx`delete from workout_efforts where workout_id = ${holder}`;
      await tx`select pg_sleep(0.02)`;
    }),
  ]);
  const left = rides.flat().filter((e) => e.workoutId !== holder);
  assert.deepEqual(await storedRecords(t.sql, rider), naiveRecords(left));
});

Deno.test("the effort_records and efforts_by_year migrations fill in the efforts already archived", async () => {
  const files = await readMigrations(new URL("../sql/", import.meta.url));
  const recordsMigration = files.findIndex((f) => f.file === "0014_effort_records.sql");
  assert.ok(recordsMigration > 0);
  const dir = await Deno.makeTempDir({ prefix: "bpt-migrations-" });
  try {
    for (const file of files.slice(0, recordsMigration)) {
      await Deno.writeTextFile(`${dir}/${file.file}`, file.sql);
    }
    await withScratchDatabase(async (sql) => {
      await migrate(sql, { dir });
      const random = prng(99);
      const riders = [crypto.randomUUID(), crypto.randomUUID()];
      const efforts = riders.map(() => randomRides(random, 20).flat());
      for (const [i, rider] of riders.entries()) await insertEfforts(sql, rider, efforts[i]);
      await migrate(sql);
      for (const [i, rider] of riders.entries()) {
        assert.deepEqual(await storedRecords(sql, rider), naiveRecords(efforts[i]));
        assert.deepEqual(
          await storedYearlyBests(sql, rider, "Asia/Kathmandu"),
          naiveYearlyBests(efforts[i], "Asia/Kathmandu"),
        );
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("yearly bests are the best effort of each local year, New Year slivers included", async () => {
  const random = prng(2026);
  const rider = crypto.randomUUID();
  const other = crypto.randomUUID();
  // Rides within 16 hours of UTC New Year (in the local year before or after it depending on the
  // zone, up to UTC+14 and UTC-11) and others spread over the years; few watt values, so ties.
  const newYears = [2023, 2024, 2025, 2026].map((y) => Date.UTC(y, 0, 1));
  const rides: Effort[][] = Array.from({ length: 60 }, (_, i) => {
    const near = newYears[i % 4] + Math.round((random() - 0.5) * 32 * 3_600_000);
    const anywhere = Date.UTC(2022, 6, 1) + Math.round(random() * 4 * 365 * 86_400_000);
    const startTime = Math.floor((i % 3 === 0 ? anywhere : near) / 1000) * 1000;
    const workoutId = crypto.randomUUID();
    return [1, 60, 1200].filter((d) => d === 1 || random() < 0.8).map((durationS) => ({
      workoutId,
      startTime,
      durationS,
      watts: 200 + 10 * Math.floor(random() * 5),
    }));
  });
  await insertEfforts(t.sql, rider, rides.flat());
  await insertEfforts(
    t.sql,
    other,
    randomRides(random, 5).flat().map((e) => ({ ...e, watts: 999 })),
  );
  for (const timeZone of zones) {
    assert.deepEqual(
      await storedYearlyBests(t.sql, rider, timeZone),
      naiveYearlyBests(rides.flat(), timeZone),
      timeZone,
    );
  }
  // Deleted rides leave the copy too.
  const gone = rides.filter((_, i) => i % 4 === 1);
  await t.sql`
    delete from workout_efforts where workout_id = any(${gone.map((r) => r[0].workoutId)}::uuid[])
  `;
  const left = rides.filter((ride) => !gone.includes(ride)).flat();
  for (const timeZone of zones) {
    assert.deepEqual(
      await storedYearlyBests(t.sql, rider, timeZone),
      naiveYearlyBests(left, timeZone),
      timeZone,
    );
  }
  assert.deepEqual(await storedYearlyBests(t.sql, crypto.randomUUID(), "UTC"), []);
});

type HistoryEntry = {
  duration: number;
  watts: number;
  previousWatts: number | null;
  workoutId: string;
  startTime: string;
};

/** The record history the API answers, naively from the rides' reference power curves. */
function expectedHistory(rides: readonly Ride[]): HistoryEntry[] {
  const efforts = rides.flatMap((ride) =>
    ride.ref.powerCurve
      .filter((p) => p.watts !== null)
      .map((p) => ({
        workoutId: ride.id,
        startTime: ride.start,
        durationS: p.duration,
        watts: p.watts as number,
      }))
  );
  return naiveRecords(efforts)
    .sort((a, b) => a.startTime - b.startTime || a.durationS - b.durationS)
    .map((r) => ({
      duration: r.durationS,
      watts: r.watts,
      previousWatts: r.previousWatts,
      workoutId: r.workoutId,
      startTime: new Date(r.startTime).toISOString(),
    }));
}

Deno.test("GET /api/analytics/records after rides imported newest first and a record holder deleted", async () => {
  const settings = { ftp: 250, maxHr: 190 };
  const rider = await riderWith(t, { ftpWatts: 250, maxHr: 190 });
  const get = async () => {
    const res = await t.request("GET", "/api/analytics/records", { token: rider.accessToken });
    assert.equal(res.status, 200);
    return (await res.json()).history;
  };
  let rides: Ride[] = [];
  // Newest first: every import is older than the records already there.
  for (let i = 5; i >= 0; i--) {
    const start = Date.parse("2026-01-05T07:00:00Z") + i * 7 * 86_400_000;
    rides.push(
      await importRide(t, rider.accessToken, randomRide(start, 400 + 150 * i, 300 + i), settings),
    );
  }
  assertRounded(await get(), expectedHistory(rides));

  const counts = new Map<string, number>();
  for (const r of expectedHistory(rides)) {
    counts.set(r.workoutId, (counts.get(r.workoutId) ?? 0) + 1);
  }
  const holder = [...counts].sort((a, b) => b[1] - a[1])[0][0];
  const res = await t.request("DELETE", `/api/workouts/${holder}`, { token: rider.accessToken });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  rides = rides.filter((ride) => ride.id !== holder);
  assertRounded(await get(), expectedHistory(rides));
});
