/**
 * SQL over the rollups of sql/0007_aggregates.sql and the effort and telemetry hypertables.
 *
 * Every query is scoped to one rider (`user_id`). The rollups have the same names and columns
 * whether they are continuous aggregates (Timescale License) or plain views (Apache), so nothing
 * here depends on the edition.
 */
import type { Sql } from "../db/client.ts";
import { effortDurations } from "./durations.ts";

/** A bucket width for best-effort history. */
export type BestsBucket = "day" | "week" | "month";

/** The best average power of one duration within one bucket. */
export type BucketBest = { bucket: Date; watts: number };

const bucketWidths: Record<BestsBucket, string> = {
  day: "1 day",
  week: "1 week",
  month: "1 month",
};

/**
 * Best average power of `durationS` seconds per day, week (starting Monday, UTC) or calendar month
 * (UTC), for the days that overlap [from, to); only buckets with data, oldest first.
 */
export async function bestsByBucket(
  sql: Sql,
  options: { userId: string; durationS: number; from: Date; to: Date; bucket: BestsBucket },
): Promise<BucketBest[]> {
  const { userId, durationS, to, bucket } = options;
  // The first day that overlaps the range starts less than a day before `from`. Computed here:
  // TimescaleDB excludes chunks at plan time only for constants.
  const after = new Date(options.from.getTime() - 86_400_000);
  const rows = await sql<{ bucket: Date; watts: number }[]>`
    select
      time_bucket(${bucketWidths[bucket]}::interval, bucket) as bucket,
      max(watts) as watts
    from workout_efforts_daily
    where
      user_id = ${userId}::uuid
      and duration_s = ${durationS}::integer
      and bucket > ${after}::timestamptz
      and bucket < ${to}::timestamptz
    group by 1
    order by 1
  `;
  return rows.map((row) => ({ bucket: row.bucket, watts: row.watts }));
}

/** One point of a power curve: the best watts for a duration and the workout that rode it. */
export type PowerCurvePoint = {
  durationS: number;
  watts: number;
  workoutId: string;
  startTime: Date;
};

/**
 * A query fragment: per standard duration, the rider's best effort (duration_s, watts,
 * workout_id, start_time) in the rides that started in [from, to), on a tie the earliest ride.
 * One top-1 probe of the (user, duration, watts desc, ...) index per duration, instead of
 * reading every effort in the range: ~14 index descents per chunk instead of ~14 rows per ride.
 */
export function bestEffortsIn(sql: Sql, range: { userId: string; from: Date; to: Date }) {
  const { userId, from, to } = range;
  return sql`
    select d.duration_s, e.watts, e.workout_id, e.start_time
    from unnest(${effortDurations as unknown as number[]}::integer[]) as d(duration_s)
    cross join lateral (
      select watts, workout_id, start_time
      from workout_efforts
      where
        user_id = ${userId}::uuid
        and duration_s = d.duration_s
        and start_time >= ${from}::timestamptz
        and start_time < ${to}::timestamptz
      order by watts desc, start_time, workout_id
      limit 1
    ) as e
  `;
}

/**
 * The rider's power curve over the workouts that started in [from, to): per duration the best
 * watts and its workout (on a tie, the earliest workout), shortest duration first.
 */
export async function powerCurve(
  sql: Sql,
  options: { userId: string; from: Date; to: Date },
): Promise<PowerCurvePoint[]> {
  const rows = await sql<PowerCurvePoint[]>`
    select duration_s, watts, workout_id, start_time
    from (${bestEffortsIn(sql, options)}) as bests
    order by duration_s
  `;
  return rows.map((row) => ({
    durationS: row.durationS,
    watts: row.watts,
    workoutId: row.workoutId,
    startTime: row.startTime,
  }));
}

/** A metric that telemetrySeries can return. */
export type TelemetryField =
  | "power"
  | "cadence"
  | "heartRate"
  | "speed"
  | "distance"
  | "altitude"
  | "lat"
  | "lon";

/** The resolution of a telemetry series: every sample, or 10-second or 1-minute buckets. */
export type TelemetryResolution = "raw" | "10s" | "1m";

/** A column-oriented series: ISO times and, per requested field, one value (or null) per time. */
export type TelemetrySeries =
  & { time: string[] }
  & Partial<Record<TelemetryField, (number | null)[]>>;

type SeriesRow = { time: Date } & Record<TelemetryField, number | null>;

/** Samples this far outside a workout's [start_time, end_time] are not looked for. */
const seriesMarginMs = 86_400_000;

/**
 * A workout's telemetry as columns, oldest first; empty when the workout is not the rider's.
 *
 * `raw` is every stored sample. `10s` and `1m` are one row per bucket with samples: the average
 * of each metric over the bucket's samples that have it (null when none has), the largest
 * distance, and the position (`lat`, `lon`) of the bucket's last sample that has both (null when
 * none has). The rollups do not keep positions: they come from the telemetry hypertable in the
 * same read, so both editions answer alike.
 *
 * The workout's own time range (give or take a day) bounds the read, so that TimescaleDB plans
 * only the chunks that can hold it instead of every chunk of the hypertable.
 */
export async function telemetrySeries(
  sql: Sql,
  options: {
    workoutId: string;
    userId: string;
    resolution: TelemetryResolution;
    fields: readonly TelemetryField[];
  },
): Promise<TelemetrySeries> {
  const { workoutId, userId, resolution, fields } = options;
  const [workout] = await sql<{ startTime: Date; endTime: Date | null }[]>`
    select start_time, end_time
    from workouts
    where id = ${workoutId}::uuid and user_id = ${userId}::uuid
  `;
  let rows: SeriesRow[] = [];
  if (workout) {
    // Plain timestamps rather than SQL arithmetic: chunks are excluded at plan time only for
    // constants, and `timestamptz - interval` is not one.
    const from = new Date(workout.startTime.getTime() - seriesMarginMs);
    const to = new Date((workout.endTime ?? new Date()).getTime() + seriesMarginMs);
    rows = await seriesRows(sql, { workoutId, userId, resolution, from, to });
  }
  const series: TelemetrySeries = { time: rows.map((row) => row.time.toISOString()) };
  const wanted = new Set(fields);
  if (workout && resolution !== "raw" && (wanted.has("lat") || wanted.has("lon"))) {
    const from = new Date(workout.startTime.getTime() - seriesMarginMs);
    const to = new Date((workout.endTime ?? new Date()).getTime() + seriesMarginMs);
    const positions = new Map(
      (await bucketPositions(sql, { workoutId, userId, resolution, from, to }))
        .map((p) => [p.bucket.getTime(), p]),
    );
    for (const row of rows) {
      const p = positions.get(row.time.getTime());
      row.lat = p?.lat ?? null;
      row.lon = p?.lon ?? null;
    }
  }
  for (const field of wanted) series[field] = rows.map((row) => row[field]);
  return series;
}

/**
 * Per 10-s or 1-min bucket (the rollups' `time_bucket`), the position of its last sample that
 * has both lat and lon: one `distinct on` over the workout's rows of the hypertable, which both
 * editions have (a continuous aggregate cannot keep a last value on the Apache edition).
 */
function bucketPositions(
  sql: Sql,
  options: {
    workoutId: string;
    userId: string;
    resolution: "10s" | "1m";
    from: Date;
    to: Date;
  },
): Promise<{ bucket: Date; lat: number; lon: number }[]> {
  const { workoutId, userId, from, to } = options;
  const width = options.resolution === "10s" ? "10 seconds" : "1 minute";
  return sql<{ bucket: Date; lat: number; lon: number }[]>`
    select distinct on (bucket) time_bucket(${width}::interval, time) as bucket, lat, lon
    from telemetry
    where
      workout_id = ${workoutId}::uuid
      and user_id = ${userId}::uuid
      and time >= ${from}::timestamptz
      and time <= ${to}::timestamptz
      and lat is not null
      and lon is not null
    order by bucket, time desc
  `;
}

function seriesRows(
  sql: Sql,
  options: {
    workoutId: string;
    userId: string;
    resolution: TelemetryResolution;
    from: Date;
    to: Date;
  },
): Promise<SeriesRow[]> {
  const { workoutId, userId, from, to } = options;
  switch (options.resolution) {
    case "raw":
      return sql<SeriesRow[]>`
        select time, power, cadence, heart_rate, speed, distance, altitude, lat, lon
        from telemetry
        where
          workout_id = ${workoutId}::uuid
          and user_id = ${userId}::uuid
          and time >= ${from}::timestamptz
          and time <= ${to}::timestamptz
        order by time
      `;
    case "10s":
    case "1m":
      return sql<SeriesRow[]>`
        select
          bucket as time,
          power_sum / nullif(power_count, 0) as power,
          cadence_sum / nullif(cadence_count, 0) as cadence,
          heart_rate_sum / nullif(heart_rate_count, 0) as heart_rate,
          speed_sum / nullif(speed_count, 0) as speed,
          distance_max as distance,
          altitude_sum / nullif(altitude_count, 0) as altitude,
          null::double precision as lat,
          null::double precision as lon
        from ${sql(options.resolution === "10s" ? "telemetry_10s" : "telemetry_1m")}
        where
          workout_id = ${workoutId}::uuid
          and user_id = ${userId}::uuid
          and bucket >= ${from}::timestamptz
          and bucket <= ${to}::timestamptz
        order by bucket
      `;
  }
}
