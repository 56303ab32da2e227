/**
 * Rides, efforts and telemetry for two riders, with the answers worked out by hand, shared by the
 * schema tests on the Apache server and on the licensed (continuous aggregate) build.
 */
import type { Sql } from "../src/db/client.ts";

/** What seedRiders inserted. */
export type Seeded = {
  riderA: string;
  riderB: string;
  /** Rider A's rides by label, and rider B's `b1`. */
  workouts: Record<"a1" | "a2" | "a3" | "a4" | "a5" | "b1", string>;
};

/** Start times of the seeded rides (2026-03-02 is a Monday). */
export const starts = {
  a1: new Date("2026-03-02T07:00:00Z"),
  a2: new Date("2026-03-04T18:00:00Z"),
  a5: new Date("2026-03-04T20:00:00Z"),
  a3: new Date("2026-03-10T07:00:00Z"),
  a4: new Date("2026-04-01T07:00:00Z"),
  b1: new Date("2026-03-04T09:00:00Z"),
};

/** Best efforts per ride: [duration_s, watts]. Rider B is far stronger, so leaks would show. */
const efforts: Record<keyof typeof starts, [number, number][]> = {
  a1: [[60, 400], [1200, 250]],
  a2: [[60, 380], [1200, 270]],
  a5: [[60, 300], [1200, 265]],
  a3: [[60, 400], [1200, 260]],
  a4: [[60, 390], [1200, 280]],
  b1: [[60, 999], [1200, 999]],
};

/** Rider A's samples on ride a1: [seconds after the start, power, cadence, hr, speed, distance, altitude]. */
const samples: (number | null)[][] = [
  [0, 100, 80, 120, 8, 0, 10],
  [1, 200, 90, 121, 9, 9, 11],
  [5, null, 85, 122, 10, 45, null],
  [12, 300, null, 123, 11, 110, 12],
  [15, 50, null, 124, 12, 145, 12],
  [63, 150, 70, 125, 13, 600, 20],
];

/** The seeded samples' times as ISO strings. */
export const sampleTimes = samples.map((s) => new Date(starts.a1.getTime() + s[0]! * 1000))
  .map((d) => d.toISOString());

/** telemetrySeries(a1, raw) for every field. */
export const expectedRaw = {
  time: sampleTimes,
  power: [100, 200, null, 300, 50, 150],
  cadence: [80, 90, 85, null, null, 70],
  heartRate: [120, 121, 122, 123, 124, 125],
  speed: [8, 9, 10, 11, 12, 13],
  distance: [0, 9, 45, 110, 145, 600],
  altitude: [10, 11, null, 12, 12, 20],
  lat: [45.5, 45.5001, null, null, null, null],
  lon: [6.1, 6.1001, null, null, null, null],
};

/** telemetrySeries(a1, 10s): buckets 07:00:00, 07:00:10 and 07:01:00. */
export const expected10s = {
  time: ["2026-03-02T07:00:00.000Z", "2026-03-02T07:00:10.000Z", "2026-03-02T07:01:00.000Z"],
  power: [150, 175, 150],
  cadence: [85, null, 70],
  heartRate: [121, 123.5, 125],
  speed: [9, 11.5, 13],
  distance: [45, 145, 600],
  altitude: [10.5, 12, 20],
  // The last sample with a position in the bucket (07:00:01); the others have none.
  lat: [45.5001, null, null],
};

/** telemetrySeries(a1, 1m): buckets 07:00 and 07:01. */
export const expected1m = {
  time: ["2026-03-02T07:00:00.000Z", "2026-03-02T07:01:00.000Z"],
  power: [162.5, 150],
  cadence: [85, 70],
  heartRate: [122, 125],
  speed: [10, 13],
  distance: [145, 600],
  altitude: [11.25, 20],
};

/** Inserts two riders, their rides, efforts and rider A's samples on a1 (plus one of B's). */
export async function seedRiders(sql: Sql): Promise<Seeded> {
  const rider = async (label: string) => {
    const [row] = await sql<{ id: string }[]>`
      insert into users (email) values (${`${label}-${crypto.randomUUID()}@example.com`})
      returning id
    `;
    return row.id;
  };
  const riderA = await rider("a");
  const riderB = await rider("b");
  const workouts = {} as Seeded["workouts"];
  for (const [label, start] of Object.entries(starts) as [keyof typeof starts, Date][]) {
    const userId = label === "b1" ? riderB : riderA;
    const [row] = await sql<{ id: string }[]>`
      insert into workouts (user_id, status, start_time, end_time, completed_at)
      values (${userId}, 'completed', ${start}, ${new Date(start.getTime() + 3_600_000)}, now())
      returning id
    `;
    workouts[label] = row.id;
    for (const [durationS, watts] of efforts[label]) {
      await sql`
        insert into workout_efforts (user_id, workout_id, start_time, duration_s, watts)
        values (${userId}, ${row.id}, ${start}, ${durationS}, ${watts})
      `;
    }
  }
  for (const [i, s] of samples.entries()) {
    const [offset, power, cadence, heartRate, speed, distance, altitude] = s;
    await sql`
      insert into telemetry (
        workout_id, user_id, time, power, cadence, heart_rate, speed, distance, altitude, lat, lon
      ) values (
        ${workouts.a1}, ${riderA}, ${new Date(starts.a1.getTime() + offset! * 1000)},
        ${power}, ${cadence}, ${heartRate}, ${speed}, ${distance}, ${altitude},
        ${expectedRaw.lat[i]}, ${expectedRaw.lon[i]}
      )
    `;
  }
  // Rider B rode in the same minute: the rollups must keep the rides apart.
  await sql`
    insert into telemetry (workout_id, user_id, time, power, cadence, heart_rate, speed, distance)
    values (${workouts.b1}, ${riderB}, ${starts.a1}, 999, 99, 199, 19, 9999)
  `;
  return { riderA, riderB, workouts };
}

/** Columns (name and type) of each rollup, as both editions must have them. */
export const rollupColumns: Record<string, [string, string][]> = {
  telemetry_10s: telemetryRollupColumns(),
  telemetry_1m: telemetryRollupColumns(),
  workout_efforts_daily: [
    ["bucket", "timestamp with time zone"],
    ["user_id", "uuid"],
    ["duration_s", "integer"],
    ["watts", "double precision"],
  ],
  workout_totals_15m: [
    ["bucket", "timestamp with time zone"],
    ["user_id", "uuid"],
    ["rides", "bigint"],
    ["first_start", "timestamp with time zone"],
    ["last_start", "timestamp with time zone"],
    ["duration_s", "bigint"],
    ["moving_s", "bigint"],
    ...["distance_m", "work_kj", "tss", "elevation_gain_m"].map((n): [string, string] => [
      n,
      "double precision",
    ]),
    ...["power_zone_rides", 1, 2, 3, 4, 5, 6, 7, "hr_zone_rides", 1, 2, 3, 4, 5].map((n, i) => {
      const name = typeof n === "string" ? n : `${i < 8 ? "power" : "hr"}_zone_${n}_s`;
      return [name, "bigint"] as [string, string];
    }),
  ],
};

function telemetryRollupColumns(): [string, string][] {
  const columns: [string, string][] = [
    ["bucket", "timestamp with time zone"],
    ["workout_id", "uuid"],
    ["user_id", "uuid"],
    ["samples", "bigint"],
  ];
  for (const metric of ["power", "cadence", "heart_rate", "speed"]) {
    columns.push(
      [`${metric}_sum`, "double precision"],
      [`${metric}_count`, "bigint"],
      [`${metric}_max`, "double precision"],
    );
  }
  columns.push(
    ["distance_max", "double precision"],
    ["altitude_sum", "double precision"],
    ["altitude_count", "bigint"],
  );
  return columns;
}

/** Reads a relation's columns from information_schema, in order. */
export async function columnsOf(sql: Sql, relation: string): Promise<[string, string][]> {
  const rows = await sql<{ columnName: string; dataType: string }[]>`
    select column_name, data_type
    from information_schema.columns
    where table_schema = current_schema() and table_name = ${relation}
    order by ordinal_position
  `;
  return rows.map((row) => [row.columnName, row.dataType]);
}
