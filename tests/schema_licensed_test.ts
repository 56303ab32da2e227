/**
 * The migrations and aggregate queries on the Timescale License edition: continuous aggregates,
 * refresh policies and compression. No such server can be installed here, so this runs the same
 * files and the same query functions in-process on PGlite with its TimescaleDB build (test only).
 */
import { pgliteSql } from "./pglite_sql.ts";
import assert from "node:assert/strict";
import { PGlite, timescaledb } from "./deps/pglite.ts";
import { bestsByBucket, powerCurve, telemetrySeries } from "../src/analytics/aggregate_queries.ts";
import type { Sql } from "../src/db/client.ts";
import { readMigrations, splitStatements } from "../src/db/migrate.ts";
import { refreshAggregates, timescaleLicense } from "../src/db/timescale.ts";
import {
  columnsOf,
  expected10s,
  expected1m,
  expectedRaw,
  rollupColumns,
  type Seeded,
  seedRiders,
  starts,
} from "./schema_fixture.ts";

/** Applies sql/*.sql as the runner does: in one transaction, or statement by statement. */
async function applyMigrations(db: PGlite): Promise<void> {
  for (const file of await readMigrations(new URL("../sql/", import.meta.url))) {
    try {
      if (file.transactional) await db.transaction((tx) => tx.exec(file.sql));
      else for (const statement of splitStatements(file.sql)) await db.exec(statement);
    } catch (error) {
      throw new Error(`Migration ${file.file} failed on PGlite`, { cause: error });
    }
  }
}

let db: PGlite;
let sql: Sql;
let seeded: Seeded;

Deno.test.beforeAll(async () => {
  db = await PGlite.create({ extensions: { timescaledb } });
  await applyMigrations(db);
  sql = pgliteSql(db);
  seeded = await seedRiders(sql);
  await refreshAggregates(sql, { from: new Date("2026-03-01"), to: new Date("2026-04-02") });
});

Deno.test.afterAll(async () => {
  await db?.close();
});

const all = { from: new Date("2026-01-01T00:00:00Z"), to: new Date("2027-01-01T00:00:00Z") };

Deno.test("the PGlite build runs the Timescale License edition", async () => {
  assert.equal(await timescaleLicense(sql), "timescale");
});

Deno.test("the rollups are real-time continuous aggregates with refresh policies", async () => {
  const aggregates = await sql`
    select view_name, materialized_only
    from timescaledb_information.continuous_aggregates
    order by view_name
  `;
  assert.deepEqual(aggregates.map((a) => [a.viewName, a.materializedOnly]), [
    ["telemetry_10s", false],
    ["telemetry_1m", false],
    ["workout_efforts_daily", false],
    ["workout_totals_15m", false],
  ]);
  for (const [relation, columns] of Object.entries(rollupColumns)) {
    assert.deepEqual(await columnsOf(sql, relation), columns, relation);
  }
  const policies = await sql`
    select hypertable_name, config->>'start_offset' as start_offset,
      config->>'end_offset' as end_offset
    from timescaledb_information.jobs
    where proc_name = 'policy_refresh_continuous_aggregate'
    order by hypertable_name
  `;
  assert.deepEqual(policies.map((p) => [p.hypertableName, p.startOffset, p.endOffset]), [
    ["telemetry_10s", null, "00:00:10"],
    ["telemetry_1m", null, "00:01:00"],
    ["workout_efforts_daily", null, "1 day"],
    ["workout_totals_15m", null, "00:15:00"],
  ]);
});

Deno.test("telemetry is compressed by workout after 7 days", async () => {
  const [hypertable] = await sql`
    select compression_enabled from timescaledb_information.hypertables
    where hypertable_name = 'telemetry'
  `;
  assert.equal(hypertable.compressionEnabled, true);
  const settings = await sql`
    select attname, segmentby_column_index, orderby_column_index
    from timescaledb_information.compression_settings
    where hypertable_name = 'telemetry'
    order by attname
  `;
  assert.deepEqual(settings.map((s) => [s.attname, s.segmentbyColumnIndex, s.orderbyColumnIndex]), [
    ["time", null, 1],
    ["workout_id", 1, null],
  ]);
  const [policy] = await sql`
    select config->>'compress_after' as compress_after
    from timescaledb_information.jobs
    where proc_name = 'policy_compression' and hypertable_name = 'telemetry'
  `;
  assert.equal(policy.compressAfter, "7 days");
});

Deno.test("bestsByBucket and powerCurve answer as on the Apache edition", async () => {
  const query = { userId: seeded.riderA, durationS: 1200, ...all };
  assert.deepEqual(await bestsByBucket(sql, { ...query, bucket: "day" }), [
    { bucket: new Date("2026-03-02T00:00:00Z"), watts: 250 },
    { bucket: new Date("2026-03-04T00:00:00Z"), watts: 270 },
    { bucket: new Date("2026-03-10T00:00:00Z"), watts: 260 },
    { bucket: new Date("2026-04-01T00:00:00Z"), watts: 280 },
  ]);
  assert.deepEqual(await bestsByBucket(sql, { ...query, bucket: "week" }), [
    { bucket: new Date("2026-03-02T00:00:00Z"), watts: 270 },
    { bucket: new Date("2026-03-09T00:00:00Z"), watts: 260 },
    { bucket: new Date("2026-03-30T00:00:00Z"), watts: 280 },
  ]);
  assert.deepEqual(await bestsByBucket(sql, { ...query, bucket: "month" }), [
    { bucket: new Date("2026-03-01T00:00:00Z"), watts: 270 },
    { bucket: new Date("2026-04-01T00:00:00Z"), watts: 280 },
  ]);
  assert.deepEqual(
    await bestsByBucket(sql, { ...query, userId: seeded.riderB, bucket: "month" }),
    [{ bucket: new Date("2026-03-01T00:00:00Z"), watts: 999 }],
  );
  assert.deepEqual(await powerCurve(sql, { userId: seeded.riderA, ...all }), [
    { durationS: 60, watts: 400, workoutId: seeded.workouts.a1, startTime: starts.a1 },
    { durationS: 1200, watts: 280, workoutId: seeded.workouts.a4, startTime: starts.a4 },
  ]);
});

Deno.test("telemetrySeries answers as on the Apache edition", async () => {
  const fields = ["power", "cadence", "heartRate", "speed", "distance", "altitude"] as const;
  const base = { workoutId: seeded.workouts.a1, userId: seeded.riderA };
  const raw = await telemetrySeries(sql, {
    ...base,
    resolution: "raw",
    fields: [...fields, "lat", "lon"],
  });
  assert.deepEqual(raw, expectedRaw);
  assert.deepEqual(
    await telemetrySeries(sql, { ...base, resolution: "10s", fields: [...fields, "lat"] }),
    expected10s,
  );
  assert.deepEqual(await telemetrySeries(sql, { ...base, resolution: "1m", fields }), expected1m);
  const other = await telemetrySeries(sql, {
    ...base,
    userId: seeded.riderB,
    resolution: "1m",
    fields: ["power"],
  });
  assert.deepEqual(other, { time: [], power: [] });
});

Deno.test("refreshAggregates materializes the rollups", async () => {
  const count = async (view: string) => {
    const { rows } = await db.query<{ n: number }>(
      `select count(*)::integer as n from ${await materializationOf(view)}`,
    );
    return rows[0].n;
  };
  // Minutes: rider A two, rider B one; 10-second buckets: 3 + 1; (rider, day) pairs: 4 + 1.
  assert.equal(await count("telemetry_1m"), 3);
  assert.equal(await count("telemetry_10s"), 4);
  assert.equal(await count("workout_efforts_daily"), 2 * 5);
});

Deno.test("a sample archived late shows in the rollups once its window is refreshed", async () => {
  const late = new Date(starts.a1.getTime() + 2_000);
  await sql`
    insert into telemetry (workout_id, user_id, time, power)
    values (${seeded.workouts.a1}, ${seeded.riderA}, ${late}, 450)
  `;
  const power = async () =>
    (await telemetrySeries(sql, {
      workoutId: seeded.workouts.a1,
      userId: seeded.riderA,
      resolution: "10s",
      fields: ["power"],
    })).power;
  // Below the materialization watermark, the rollup serves what was materialized.
  assert.deepEqual(await power(), [150, 175, 150]);
  await refreshAggregates(sql, { from: late, to: late });
  assert.deepEqual(await power(), [250, 175, 150]);
  await sql`delete from telemetry where workout_id = ${seeded.workouts.a1} and time = ${late}`;
  await refreshAggregates(sql, { from: late, to: late });
  assert.deepEqual(await power(), [150, 175, 150]);
});

Deno.test("refreshAggregates looks the continuous aggregates up once per pool", async () => {
  const log: string[] = [];
  const logged = pgliteSql(db, { log });
  const window = { from: starts.a1, to: starts.a1 };
  await refreshAggregates(logged, window);
  await refreshAggregates(logged, window);
  const lookups = log.filter((text) => text.includes("timescaledb_information"));
  const refreshes = log.filter((text) => text.includes("refresh_continuous_aggregate"));
  assert.equal(lookups.length, 1);
  assert.equal(refreshes.length, 2 * 4);
});

Deno.test("compressed telemetry reads back the same and a repeated archive stays a no-op", async () => {
  const { rows } = await db.query<{ chunk: string }>(
    "select compress_chunk(c)::text as chunk from show_chunks('telemetry') c",
  );
  assert.ok(rows.length > 0);
  const [stats] = await sql`
    select count(*)::integer as compressed
    from timescaledb_information.chunks
    where hypertable_name = 'telemetry' and is_compressed
  `;
  assert.equal(stats.compressed, rows.length);
  const fields = ["power", "cadence", "heartRate", "speed", "distance", "altitude"] as const;
  const base = { workoutId: seeded.workouts.a1, userId: seeded.riderA };
  assert.deepEqual(
    await telemetrySeries(sql, { ...base, resolution: "raw", fields: [...fields, "lat", "lon"] }),
    expectedRaw,
  );
  const { affectedRows } = await db.query(
    `insert into telemetry (workout_id, user_id, time, power)
     values ($1, $2, $3, 12345)
     on conflict do nothing`,
    [seeded.workouts.a1, seeded.riderA, starts.a1],
  );
  assert.equal(affectedRows, 0);
  await refreshAggregates(sql, { from: starts.a1, to: starts.a1 });
  assert.deepEqual(await telemetrySeries(sql, { ...base, resolution: "1m", fields }), expected1m);
});

async function materializationOf(view: string): Promise<string> {
  const [row] = await sql<{ schema: string; table: string }[]>`
    select materialization_hypertable_schema as schema, materialization_hypertable_name as table
    from timescaledb_information.continuous_aggregates
    where view_name = ${view}
  `;
  return `${row.schema}.${row.table}`;
}
