/**
 * The history analytics on the Timescale License edition, where workout_totals_15m is a
 * continuous aggregate: the same migrations and query functions run in-process on PGlite with its
 * TimescaleDB build (as tests/schema_licensed_test.ts does), before and after materialization.
 */
import { pgliteSql } from "./pglite_sql.ts";
import assert from "node:assert/strict";
import { PGlite, timescaledb } from "./deps/pglite.ts";
import { dailyTotals, zoneTotals } from "../src/analytics/history_queries.ts";
import type { Sql } from "../src/db/client.ts";
import { readMigrations, splitStatements } from "../src/db/migrate.ts";
import { refreshAggregates, timescaleLicense } from "../src/db/timescale.ts";

let db: PGlite;
let sql: Sql;
let rider: string;
const ids: string[] = [];

/** Rides as the archive leaves them: [start, duration s, distance m, TSS, zone-1 power seconds]. */
const rides: [string, number, number, number, number | null][] = [
  ["2026-01-31T18:10:00Z", 3600, 30_000, 60, 100], // Kathmandu Jan 31 23:55
  ["2026-01-31T18:20:00Z", 1800, 15_000, 30, 50], // Kathmandu Feb 1 00:05
  ["2026-03-31T12:30:00Z", 5400, 45_000, 90, null], // Sydney Mar 31 23:30, no zone times
  ["2026-03-31T13:30:00Z", 7200, 60_000, 120, 400], // Sydney Apr 1 00:30
];

Deno.test.beforeAll(async () => {
  db = await PGlite.create({ extensions: { timescaledb } });
  for (const file of await readMigrations(new URL("../sql/", import.meta.url))) {
    if (file.transactional) await db.transaction((tx) => tx.exec(file.sql));
    else for (const statement of splitStatements(file.sql)) await db.exec(statement);
  }
  sql = pgliteSql(db);
  const [user] = await sql<{ id: string }[]>`
    insert into users (email) values ('licensed@example.com') returning id
  `;
  rider = user.id;
  const [stranger] = await sql<{ id: string }[]>`
    insert into users (email) values ('stranger@example.com') returning id
  `;
  for (const [userId, list] of [[rider, rides], [stranger.id, rides.slice(0, 1)]] as const) {
    for (const [start, durationS, distanceM, tss, zone1] of list) {
      const summary = zone1 === null ? {} : {
        powerZones: [zone1, 1, 2, 3, 4, 5, 6].map((seconds, i) => ({ zone: i + 1, seconds })),
        heartRateZones: [7, 8, 9, 10, 11].map((seconds, i) => ({ zone: i + 1, seconds })),
      };
      const [row] = await sql<{ id: string }[]>`
        insert into workouts (user_id, status, start_time) values (${userId}, 'active', ${start})
        returning id
      `;
      // The archive's conditional update: the trigger writes workout_totals.
      await sql`
        update workouts set status = 'completed', duration_s = ${durationS},
          moving_s = ${durationS - 60}, distance_m = ${distanceM}, work_kj = ${durationS / 10},
          tss = ${tss}, elevation_gain_m = 100, summary = ${JSON.stringify(summary)}::jsonb
        where id = ${row.id} and status = 'active'
      `;
      if (userId === rider) ids.push(row.id);
    }
  }
});

Deno.test.afterAll(async () => {
  await db?.close();
});

const day = (date: string, n: number, durationS: number, distanceM: number, tss: number) => ({
  date,
  rides: n,
  durationS,
  movingS: durationS - 60 * n,
  distanceM,
  workKj: durationS / 10,
  tss,
  elevationGainM: 100 * n,
});

async function assertAnswers() {
  const kathmandu = await dailyTotals(sql, {
    userId: rider,
    timeZone: "Asia/Kathmandu",
    from: "2026-01-01",
    to: "2026-02-28",
  });
  assert.deepEqual(kathmandu, [
    day("2026-01-31", 1, 3600, 30_000, 60),
    day("2026-02-01", 1, 1800, 15_000, 30),
  ]);
  const sydney = await dailyTotals(sql, {
    userId: rider,
    timeZone: "Australia/Sydney",
    from: "2026-03-01",
    to: "2026-04-30",
  });
  assert.deepEqual(sydney, [
    day("2026-03-31", 1, 5400, 45_000, 90),
    day("2026-04-01", 1, 7200, 60_000, 120),
  ]);
  const utc = await dailyTotals(sql, { userId: rider, timeZone: "UTC", to: "2026-12-31" });
  assert.deepEqual(utc, [
    day("2026-01-31", 2, 5400, 45_000, 90),
    day("2026-03-31", 2, 12_600, 105_000, 210),
  ]);
  const zones = await zoneTotals(sql, {
    userId: rider,
    from: new Date("2026-01-31T18:12:00Z"), // cuts the 18:00 bucket
    to: new Date("2026-12-31T00:00:00Z"),
  });
  assert.deepEqual(zones, {
    rides: 3,
    powerZoneRides: 2,
    powerZoneSeconds: [450, 2, 4, 6, 8, 10, 12],
    heartRateZoneRides: 2,
    heartRateZoneSeconds: [14, 16, 18, 20, 22],
  });
}

Deno.test("workout_totals_15m is a continuous aggregate on the licensed build", async () => {
  assert.equal(await timescaleLicense(sql), "timescale");
  const [aggregate] = await sql<{ materializedOnly: boolean }[]>`
    select materialized_only from timescaledb_information.continuous_aggregates
    where view_name = 'workout_totals_15m'
  `;
  assert.equal(aggregate.materializedOnly, false);
});

Deno.test("dailyTotals and zoneTotals answer the same before and after materialization", async () => {
  await assertAnswers();
  await refreshAggregates(sql, {
    from: new Date("2026-01-01T00:00:00Z"),
    to: new Date("2026-04-30T00:00:00Z"),
  });
  const [table] = await sql<{ schema: string; name: string }[]>`
    select materialization_hypertable_schema as schema, materialization_hypertable_name as name
    from timescaledb_information.continuous_aggregates
    where view_name = 'workout_totals_15m'
  `;
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::integer as n from "${table.schema}"."${table.name}"`,
  );
  // Buckets: rider 18:00, 18:15, 12:30, 13:30; the stranger 18:00.
  assert.equal(rows[0].n, 5);
  await assertAnswers();
});

Deno.test("deleting a completed workout removes its totals once the window is refreshed", async () => {
  const [row] = await sql<{ startTime: Date }[]>`
    delete from workouts where id = ${ids[3]} returning start_time
  `;
  await refreshAggregates(sql, { from: row.startTime, to: row.startTime });
  const sydney = await dailyTotals(sql, {
    userId: rider,
    timeZone: "Australia/Sydney",
    from: "2026-03-01",
    to: "2026-04-30",
  });
  assert.deepEqual(sydney, [day("2026-03-31", 1, 5400, 45_000, 90)]);
});
