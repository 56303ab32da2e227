import assert from "node:assert/strict";
import { bestsByBucket, powerCurve, telemetrySeries } from "../src/analytics/aggregate_queries.ts";
import { createSql, type Sql } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
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

const adminUrl = Deno.env.get("TEST_DATABASE_ADMIN_URL") ??
  "postgres://postgres@127.0.0.1:55433/postgres";
const database = `bpt_scratch_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;

let admin: Sql;
let sql: Sql;
let seeded: Seeded;

Deno.test.beforeAll(async () => {
  admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`create database ${database}`);
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  sql = createSql(url.href, { max: 4 });
  await migrate(sql);
  seeded = await seedRiders(sql);
});

Deno.test.afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await admin?.unsafe(`drop database if exists ${database} with (force)`);
  await admin?.end({ timeout: 5 });
});

const all = { from: new Date("2026-01-01T00:00:00Z"), to: new Date("2027-01-01T00:00:00Z") };

Deno.test("the local server is the Apache edition", async () => {
  assert.equal(await timescaleLicense(sql), "apache");
  // The admin database has no timescaledb extension.
  assert.equal(await timescaleLicense(admin), "unknown");
});

Deno.test("workouts, telemetry and workout_efforts have the documented columns", async () => {
  const doubles = (names: string[]) => names.map((n): [string, string] => [n, "double precision"]);
  assert.deepEqual(await columnsOf(sql, "workouts"), [
    ["id", "uuid"],
    ["user_id", "uuid"],
    ["stream_name", "text"],
    ["status", "text"],
    ["title", "text"],
    ["notes", "text"],
    ["sport", "text"],
    ["start_time", "timestamp with time zone"],
    ["end_time", "timestamp with time zone"],
    ["duration_s", "integer"],
    ["moving_s", "integer"],
    ...doubles([
      "avg_power",
      "max_power",
      "normalized_power",
      "avg_cadence",
      "max_cadence",
      "avg_heart_rate",
      "max_heart_rate",
      "avg_speed",
      "max_speed",
      "distance_m",
      "elevation_gain_m",
      "work_kj",
      "intensity_factor",
      "tss",
    ]),
    ["ftp_watts", "integer"],
    ["sample_count", "integer"],
    ["summary", "jsonb"],
    ["created_at", "timestamp with time zone"],
    ["updated_at", "timestamp with time zone"],
    ["completed_at", "timestamp with time zone"],
  ]);
  assert.deepEqual(await columnsOf(sql, "telemetry"), [
    ["workout_id", "uuid"],
    ["user_id", "uuid"],
    ["time", "timestamp with time zone"],
    ...doubles(["power", "cadence", "heart_rate", "speed", "distance", "altitude", "lat", "lon"]),
  ]);
  assert.deepEqual(await columnsOf(sql, "workout_efforts"), [
    ["user_id", "uuid"],
    ["workout_id", "uuid"],
    ["start_time", "timestamp with time zone"],
    ["duration_s", "integer"],
    ["watts", "double precision"],
  ]);
});

Deno.test("the rollups are views with the same columns as the continuous aggregates", async () => {
  for (const [relation, columns] of Object.entries(rollupColumns)) {
    assert.deepEqual(await columnsOf(sql, relation), columns, relation);
  }
  const views = await sql`
    select table_name from information_schema.views
    where table_schema = current_schema()
    order by table_name
  `;
  assert.deepEqual(views.map((v) => v.tableName), Object.keys(rollupColumns).sort());
});

Deno.test("telemetry and workout_efforts are hypertables with 7-day and 90-day chunks", async () => {
  const rows = await sql`
    select hypertable_name, column_name, time_interval
    from timescaledb_information.dimensions
    order by hypertable_name
  `;
  assert.deepEqual(
    rows.map((r) => [r.hypertableName, r.columnName, r.timeInterval]),
    [
      ["telemetry", "time", "7 days"],
      ["workout_efforts", "start_time", "90 days"],
      ["workout_totals", "start_time", "365 days"],
    ],
  );
});

Deno.test("a stream name belongs to one active workout at a time", async () => {
  const userId = seeded.riderA;
  const start = (status: string) =>
    sql`insert into workouts (user_id, stream_name, status) values (${userId}, 'shared', ${status})`;
  await start("active");
  await assert.rejects(() => start("active"), /workouts_active_stream_name_key/);
  await start("completed");
  await sql`update workouts set status = 'completed' where stream_name = 'shared'`;
  await start("active");
  await assert.rejects(() => start("paused"), /workouts_status_check/);
  await sql`delete from workouts where stream_name = 'shared'`;
});

Deno.test("bestsByBucket answers one rider's best per day, Monday week and month", async () => {
  const query = { userId: seeded.riderA, durationS: 1200, ...all };
  const day = await bestsByBucket(sql, { ...query, bucket: "day" });
  assert.deepEqual(day, [
    { bucket: new Date("2026-03-02T00:00:00Z"), watts: 250 },
    { bucket: new Date("2026-03-04T00:00:00Z"), watts: 270 },
    { bucket: new Date("2026-03-10T00:00:00Z"), watts: 260 },
    { bucket: new Date("2026-04-01T00:00:00Z"), watts: 280 },
  ]);
  const week = await bestsByBucket(sql, { ...query, bucket: "week" });
  assert.deepEqual(week, [
    { bucket: new Date("2026-03-02T00:00:00Z"), watts: 270 },
    { bucket: new Date("2026-03-09T00:00:00Z"), watts: 260 },
    { bucket: new Date("2026-03-30T00:00:00Z"), watts: 280 },
  ]);
  const month = await bestsByBucket(sql, { ...query, bucket: "month" });
  assert.deepEqual(month, [
    { bucket: new Date("2026-03-01T00:00:00Z"), watts: 270 },
    { bucket: new Date("2026-04-01T00:00:00Z"), watts: 280 },
  ]);
  const oneMinute = await bestsByBucket(sql, { ...query, durationS: 60, bucket: "month" });
  assert.deepEqual(oneMinute.map((b) => b.watts), [400, 390]);
});

Deno.test("bestsByBucket keeps the days that overlap [from, to) and nothing else", async () => {
  const bests = await bestsByBucket(sql, {
    userId: seeded.riderA,
    durationS: 1200,
    from: new Date("2026-03-03T12:00:00Z"),
    to: new Date("2026-03-10T00:00:00Z"),
    bucket: "day",
  });
  assert.deepEqual(bests, [{ bucket: new Date("2026-03-04T00:00:00Z"), watts: 270 }]);
  const none = await bestsByBucket(sql, {
    userId: seeded.riderA,
    durationS: 300,
    ...all,
    bucket: "week",
  });
  assert.deepEqual(none, []);
});

Deno.test("bestsByBucket and powerCurve never show another rider's efforts", async () => {
  const b = await bestsByBucket(sql, {
    userId: seeded.riderB,
    durationS: 1200,
    ...all,
    bucket: "month",
  });
  assert.deepEqual(b, [{ bucket: new Date("2026-03-01T00:00:00Z"), watts: 999 }]);
  const stranger = crypto.randomUUID();
  assert.deepEqual(await powerCurve(sql, { userId: stranger, ...all }), []);
  const curve = await powerCurve(sql, { userId: seeded.riderB, ...all });
  assert.deepEqual(curve.map((p) => p.workoutId), [seeded.workouts.b1, seeded.workouts.b1]);
});

Deno.test("powerCurve names the workout of each best, the earliest on a tie", async () => {
  assert.deepEqual(await powerCurve(sql, { userId: seeded.riderA, ...all }), [
    { durationS: 60, watts: 400, workoutId: seeded.workouts.a1, startTime: starts.a1 },
    { durationS: 1200, watts: 280, workoutId: seeded.workouts.a4, startTime: starts.a4 },
  ]);
  const march = await powerCurve(sql, {
    userId: seeded.riderA,
    from: new Date("2026-03-03T00:00:00Z"),
    to: new Date("2026-04-01T07:00:00Z"),
  });
  assert.deepEqual(march, [
    { durationS: 60, watts: 400, workoutId: seeded.workouts.a3, startTime: starts.a3 },
    { durationS: 1200, watts: 270, workoutId: seeded.workouts.a2, startTime: starts.a2 },
  ]);
});

Deno.test("telemetrySeries returns raw samples and 10 s / 1 min averages as columns", async () => {
  const fields = ["power", "cadence", "heartRate", "speed", "distance", "altitude"] as const;
  const base = { workoutId: seeded.workouts.a1, userId: seeded.riderA };
  const raw = await telemetrySeries(sql, {
    ...base,
    resolution: "raw",
    fields: [...fields, "lat", "lon"],
  });
  assert.deepEqual(raw, expectedRaw);
  const tenS = await telemetrySeries(sql, {
    ...base,
    resolution: "10s",
    fields: [...fields, "lat"],
  });
  assert.deepEqual(tenS, expected10s);
  assert.deepEqual(await telemetrySeries(sql, { ...base, resolution: "1m", fields }), expected1m);
  const powerOnly = await telemetrySeries(sql, { ...base, resolution: "1m", fields: ["power"] });
  assert.deepEqual(powerOnly, { time: expected1m.time, power: expected1m.power });
});

Deno.test("telemetrySeries shows nothing of a workout to another rider", async () => {
  for (const resolution of ["raw", "10s", "1m"] as const) {
    const series = await telemetrySeries(sql, {
      workoutId: seeded.workouts.a1,
      userId: seeded.riderB,
      resolution,
      fields: ["power"],
    });
    assert.deepEqual(series, { time: [], power: [] }, resolution);
  }
});

Deno.test("archiving a sample twice with on conflict do nothing changes nothing", async () => {
  const inserted = await sql`
    insert into telemetry (workout_id, user_id, time, power)
    values (${seeded.workouts.a1}, ${seeded.riderA}, ${starts.a1}, 12345)
    on conflict do nothing
  `;
  assert.equal(inserted.count, 0);
  await assert.rejects(
    () =>
      sql`
        insert into telemetry (workout_id, user_id, time, power)
        values (${seeded.workouts.a1}, ${seeded.riderA}, ${starts.a1}, 12345)
      `,
    /telemetry_workout_id_time_key|duplicate key/,
  );
  const raw = await telemetrySeries(sql, {
    workoutId: seeded.workouts.a1,
    userId: seeded.riderA,
    resolution: "raw",
    fields: ["power"],
  });
  assert.deepEqual(raw.power, expectedRaw.power);
});

Deno.test("refreshAggregates is a harmless no-op on the Apache edition", async () => {
  await refreshAggregates(sql, { from: starts.a1, to: new Date(starts.a1.getTime() + 90_000) });
  await refreshAggregates(sql, all);
  assert.deepEqual(
    await telemetrySeries(sql, {
      workoutId: seeded.workouts.a1,
      userId: seeded.riderA,
      resolution: "1m",
      fields: ["power"],
    }),
    { time: expected1m.time, power: expected1m.power },
  );
  await assert.rejects(
    () => refreshAggregates(sql, { from: all.to, to: all.from }),
    /from <= to/,
  );
});
