/**
 * SQL for the history analytics: totals per local day, week, month or year in the rider's time
 * zone and zone times from the `workout_totals_15m` rollup (the workout totals migration),
 * records from `effort_records`, yearly bests from `efforts_by_year`, the FTP estimate from
 * `workout_efforts`, the FTP history from `ftp_history`.
 *
 * Every query is scoped to one rider (`user_id`).
 */
import type { Sql } from "../db/client.ts";
import { ApiError } from "../core/errors.ts";
import type { Period } from "./calendar.ts";
import { effortDurations } from "./durations.ts";

/** The totals of the rides that started on one local day. */
export type DayTotals = {
  /** Local date, "YYYY-MM-DD". */
  date: string;
  rides: number;
  durationS: number;
  movingS: number;
  distanceM: number;
  workKj: number;
  tss: number;
  elevationGainM: number;
};

/** Time-zone offsets are at most 14 hours: a day this wide of margin covers any zone. */
const dayMs = 86_400_000;

/** A time zone PostgreSQL does not know (SQLSTATE 22023) becomes a 400. */
/** A day's totals from a query row (without the row's helper columns). */
function dayTotals(r: DayTotals): DayTotals {
  return {
    date: r.date,
    rides: r.rides,
    durationS: r.durationS,
    movingS: r.movingS,
    distanceM: r.distanceM,
    workKj: r.workKj,
    tss: r.tss,
    elevationGainM: r.elevationGainM,
  };
}

function badTimeZone(err: unknown, timeZone: string): never {
  if ((err as { code?: string })?.code === "22023") {
    throw new ApiError("invalid_time_zone", `Time zone ${timeZone} is not known`);
  }
  throw err;
}

/**
 * Per local day in `timeZone`, the totals of the rider's rides that started that day, for the
 * days in [from, to] (from omitted: all history); only days with rides, oldest first. Sums leave
 * nulls out (a ride without TSS adds 0 TSS) and are 0 when no ride has the value. With `period`,
 * the days are summed per ISO week, month or year instead, `date` being its first day.
 *
 * The rollup's 15-minute UTC buckets are re-bucketed into local days: a bucket whose first and
 * last ride start on the same local day belongs to it whole. Should any bucket of the range start
 * rides on two local days (impossible with real zones, whose offsets are multiples of 15
 * minutes), the range is read again with such buckets taken ride by ride, so the answer is exact
 * in every zone.
 *
 * `offset 0` keeps the buckets' subquery whole, so that each bucket's local days are computed
 * once and not again in each filter on them: weekly totals over five years measured 4.0 against
 * 5.0 ms of Postgres CPU per call.
 */
export async function dailyTotals(
  sql: Sql,
  options: { userId: string; timeZone: string; from?: string; to: string; period?: Period },
): Promise<DayTotals[]> {
  const { userId, timeZone, to } = options;
  const unit = options.period ?? "day";
  const from = options.from ?? "1970-01-01";
  // UTC bounds with a day of margin each side; the local-day filter is the exact one.
  const lower = new Date(Date.parse(`${from}T00:00:00Z`) - dayMs);
  const upper = new Date(Date.parse(`${to}T00:00:00Z`) + 2 * dayMs);
  // Sums as float8 (exact for the integer columns), not numeric: cheaper per row.
  const rows = await sql<(DayTotals & { straddles: boolean })[]>`
    select
      to_char(period, 'YYYY-MM-DD') as date,
      sum(rides::float8) as rides,
      coalesce(sum(duration_s::float8), 0) as duration_s,
      coalesce(sum(moving_s::float8), 0) as moving_s,
      coalesce(sum(distance_m), 0) as distance_m,
      coalesce(sum(work_kj), 0) as work_kj,
      coalesce(sum(tss), 0) as tss,
      coalesce(sum(elevation_gain_m), 0) as elevation_gain_m,
      bool_or(straddles) as straddles
    from (
      select
        date_trunc(${unit}, first_day::timestamp) as period,
        first_day <> last_day as straddles,
        rides, duration_s, moving_s, distance_m, work_kj, tss, elevation_gain_m
      from (
        select
          rides, duration_s, moving_s, distance_m, work_kj, tss, elevation_gain_m,
          (first_start at time zone ${timeZone})::date as first_day,
          (last_start at time zone ${timeZone})::date as last_day
        from workout_totals_15m
        where
          user_id = ${userId}::uuid
          and bucket >= ${lower}::timestamptz
          and bucket < ${upper}::timestamptz
        offset 0
      ) as buckets
      where last_day >= ${from}::date and first_day <= ${to}::date
    ) as periods
    group by period
    order by period
  `.catch((err) => badTimeZone(err, timeZone));
  if (rows.some((row) => row.straddles)) {
    return await exactDailyTotals(sql, { userId, timeZone, from, to, unit, lower, upper });
  }
  return rows.map(dayTotals);
}

/** dailyTotals reading the buckets that straddle local days ride by ride. */
async function exactDailyTotals(
  sql: Sql,
  options: {
    userId: string;
    timeZone: string;
    from: string;
    to: string;
    unit: string;
    lower: Date;
    upper: Date;
  },
): Promise<DayTotals[]> {
  const { userId, timeZone, from, to, unit, lower, upper } = options;
  const rows = await sql<DayTotals[]>`
    with buckets as materialized (
      select
        first_start, last_start, rides, duration_s, moving_s, distance_m, work_kj, tss,
        elevation_gain_m,
        (first_start at time zone ${timeZone})::date as first_day,
        (last_start at time zone ${timeZone})::date as last_day
      from workout_totals_15m
      where
        user_id = ${userId}::uuid
        and bucket >= ${lower}::timestamptz
        and bucket < ${upper}::timestamptz
    ),
    days as (
      select
        first_day as day, rides, duration_s, moving_s, distance_m, work_kj, tss, elevation_gain_m
      from buckets
      where first_day = last_day
      union all
      select
        (t.start_time at time zone ${timeZone})::date, 1, t.duration_s, t.moving_s, t.distance_m,
        t.work_kj, t.tss, t.elevation_gain_m
      from buckets b
      join workout_totals t on
        t.user_id = ${userId}::uuid
        and t.start_time >= b.first_start
        and t.start_time <= b.last_start
        and t.start_time >= ${lower}::timestamptz
        and t.start_time < ${upper}::timestamptz
      where b.first_day <> b.last_day
    )
    select
      to_char(date_trunc(${unit}, day::timestamp), 'YYYY-MM-DD') as date,
      sum(rides)::float8 as rides,
      coalesce(sum(duration_s), 0)::float8 as duration_s,
      coalesce(sum(moving_s), 0)::float8 as moving_s,
      coalesce(sum(distance_m), 0)::float8 as distance_m,
      coalesce(sum(work_kj), 0)::float8 as work_kj,
      coalesce(sum(tss), 0)::float8 as tss,
      coalesce(sum(elevation_gain_m), 0)::float8 as elevation_gain_m
    from days
    where day >= ${from}::date and day <= ${to}::date
    group by 1
    order by 1
  `.catch((err) => badTimeZone(err, timeZone));
  return rows.map(dayTotals);
}

/**
 * Per local day in `timeZone` up to `to`, the sum of the TSS of the rider's rides that started
 * that day (0 when none has TSS); only days with rides, oldest first, from the first ride on
 * (since 1970): the days and sums of {@linkcode dailyTotals} without `from`, reading and answering only the
 * TSS (2 columns a day to parse instead of 9, each bucket's local days computed once): 4.0 against
 * 6.7 ms of Postgres CPU for five years of rides. Should a bucket start rides on two local days,
 * the days come from dailyTotals, which then reads such buckets ride by ride.
 */
export async function dailyTss(
  sql: Sql,
  options: { userId: string; timeZone: string; to: string },
): Promise<{ date: string; tss: number }[]> {
  const { userId, timeZone, to } = options;
  // The buckets and local days dailyTotals reads without `from` (the days since 1970).
  const from = "1970-01-01";
  const lower = new Date(Date.parse(`${from}T00:00:00Z`) - dayMs);
  const upper = new Date(Date.parse(`${to}T00:00:00Z`) + 2 * dayMs);
  const rows = await sql<{ date: string; tss: number; straddles: boolean }[]>`
    select
      to_char(first_day, 'YYYY-MM-DD') as date,
      coalesce(sum(tss), 0) as tss,
      bool_or(first_day <> last_day) as straddles
    from (
      select
        tss,
        (first_start at time zone ${timeZone})::date as first_day,
        (last_start at time zone ${timeZone})::date as last_day
      from workout_totals_15m
      where
        user_id = ${userId}::uuid
        and bucket >= ${lower}::timestamptz
        and bucket < ${upper}::timestamptz
      offset 0
    ) as buckets
    where last_day >= ${from}::date and first_day <= ${to}::date
    group by first_day
    order by first_day
  `.catch((err) => badTimeZone(err, timeZone));
  if (rows.some((row) => row.straddles)) {
    const days = await dailyTotals(sql, { userId, timeZone, to });
    return days.map((d) => ({ date: d.date, tss: d.tss }));
  }
  return rows.map((r) => ({ date: r.date, tss: r.tss }));
}

/** Zone times summed over rides: how many rides had zone times, and the seconds per zone. */
export type ZoneTotals = {
  rides: number;
  powerZoneRides: number;
  powerZoneSeconds: number[];
  heartRateZoneRides: number;
  heartRateZoneSeconds: number[];
};

type ZoneRow = {
  rides: number;
  powerZoneRides: number;
  hrZoneRides: number;
  p1: number;
  p2: number;
  p3: number;
  p4: number;
  p5: number;
  p6: number;
  p7: number;
  h1: number;
  h2: number;
  h3: number;
  h4: number;
  h5: number;
};

/**
 * The power and heart-rate zone seconds of the rider's rides that started in [from, to), summed.
 * Each ride's zone times are those archived with it (computed with the FTP and max heart rate the
 * rider had when it was archived); rides archived without them add nothing and are not counted
 * in `powerZoneRides` / `heartRateZoneRides`.
 *
 * Buckets whose rides all lie inside the range are taken whole from the rollup; the buckets at
 * the ends are read ride by ride.
 */
export async function zoneTotals(
  sql: Sql,
  options: { userId: string; from: Date; to: Date },
): Promise<ZoneTotals> {
  const { userId, from, to } = options;
  const lower = new Date(Math.floor(from.getTime() / 900_000) * 900_000);
  const [row] = await sql<ZoneRow[]>`
    with buckets as materialized (
      select
        first_start, last_start, rides, power_zone_rides, hr_zone_rides,
        power_zone_1_s, power_zone_2_s, power_zone_3_s, power_zone_4_s, power_zone_5_s,
        power_zone_6_s, power_zone_7_s,
        hr_zone_1_s, hr_zone_2_s, hr_zone_3_s, hr_zone_4_s, hr_zone_5_s
      from workout_totals_15m
      where
        user_id = ${userId}::uuid
        and bucket >= ${lower}::timestamptz
        and bucket < ${to}::timestamptz
    ),
    parts as (
      select
        rides, power_zone_rides, hr_zone_rides,
        power_zone_1_s, power_zone_2_s, power_zone_3_s, power_zone_4_s, power_zone_5_s,
        power_zone_6_s, power_zone_7_s,
        hr_zone_1_s, hr_zone_2_s, hr_zone_3_s, hr_zone_4_s, hr_zone_5_s
      from buckets
      where first_start >= ${from}::timestamptz and last_start < ${to}::timestamptz
      union all
      select
        1, (t.power_zone_1_s is not null)::integer, (t.hr_zone_1_s is not null)::integer,
        t.power_zone_1_s, t.power_zone_2_s, t.power_zone_3_s, t.power_zone_4_s,
        t.power_zone_5_s, t.power_zone_6_s, t.power_zone_7_s,
        t.hr_zone_1_s, t.hr_zone_2_s, t.hr_zone_3_s, t.hr_zone_4_s, t.hr_zone_5_s
      from buckets b
      join workout_totals t on
        t.user_id = ${userId}::uuid
        and t.start_time >= b.first_start
        and t.start_time <= b.last_start
        and t.start_time >= ${from}::timestamptz
        and t.start_time < ${to}::timestamptz
      where not (b.first_start >= ${from}::timestamptz and b.last_start < ${to}::timestamptz)
    )
    select
      coalesce(sum(rides), 0)::float8 as rides,
      coalesce(sum(power_zone_rides), 0)::float8 as power_zone_rides,
      coalesce(sum(hr_zone_rides), 0)::float8 as hr_zone_rides,
      coalesce(sum(power_zone_1_s), 0)::float8 as p1,
      coalesce(sum(power_zone_2_s), 0)::float8 as p2,
      coalesce(sum(power_zone_3_s), 0)::float8 as p3,
      coalesce(sum(power_zone_4_s), 0)::float8 as p4,
      coalesce(sum(power_zone_5_s), 0)::float8 as p5,
      coalesce(sum(power_zone_6_s), 0)::float8 as p6,
      coalesce(sum(power_zone_7_s), 0)::float8 as p7,
      coalesce(sum(hr_zone_1_s), 0)::float8 as h1,
      coalesce(sum(hr_zone_2_s), 0)::float8 as h2,
      coalesce(sum(hr_zone_3_s), 0)::float8 as h3,
      coalesce(sum(hr_zone_4_s), 0)::float8 as h4,
      coalesce(sum(hr_zone_5_s), 0)::float8 as h5
    from parts
  `;
  return {
    rides: row.rides,
    powerZoneRides: row.powerZoneRides,
    powerZoneSeconds: [row.p1, row.p2, row.p3, row.p4, row.p5, row.p6, row.p7],
    heartRateZoneRides: row.hrZoneRides,
    heartRateZoneSeconds: [row.h1, row.h2, row.h3, row.h4, row.h5],
  };
}

/** One best effort: a duration's watts and the ride it came from. */
export type EffortRecord = {
  durationS: number;
  watts: number;
  workoutId: string;
  startTime: Date;
};

/** A record: an effort that beat every earlier effort of its duration. */
export type RecordSet = EffortRecord & { previousWatts: number | null };

/**
 * Every time the rider's all-time best of a duration was beaten, by duration then oldest first:
 * an effort is a record when its watts are higher than every effort of the same duration in the
 * rides that started before it (on equal start times, the lower workout id counts as earlier).
 * The last record of each duration is the all-time best.
 *
 * Read from `effort_records`, which triggers on workout_efforts keep (sql/0014): one index range
 * of ~50 rows for five years of rides, instead of an ordered pass over all ~21,000 efforts.
 */
export async function recordHistory(sql: Sql, userId: string): Promise<RecordSet[]> {
  const rows = await sql<RecordSet[]>`
    select duration_s, watts, workout_id, start_time, previous_watts
    from effort_records
    where user_id = ${userId}::uuid
    order by duration_s, start_time, workout_id
  `;
  return rows.map((r) => ({
    durationS: r.durationS,
    watts: r.watts,
    workoutId: r.workoutId,
    startTime: r.startTime,
    previousWatts: r.previousWatts,
  }));
}

/**
 * Per calendar year in `timeZone` (by ride start) and duration, the rider's best effort (on a
 * tie, the earliest ride); years oldest first, then durations shortest first.
 *
 * Read from `efforts_by_year` (sql/0015), a plain copy of the efforts that knows each one's UTC
 * year, in one statement: a local year is the part of UTC year Y inside it, whose best is the
 * first row of Y in watts order that lies in the local year, and at most one sliver of the UTC
 * year before or after it (less than a day of start times); the best of the three is the year's.
 * Measured for five years of rides: ~0.4 ms of planning and ~1 ms of execution, against 3-10 ms
 * and 2-4 ms for one block of top-1 probes per year on the workout_efforts hypertable.
 */
export async function yearlyBests(
  sql: Sql,
  options: { userId: string; timeZone: string },
): Promise<(EffortRecord & { year: number })[]> {
  const { userId, timeZone } = options;
  const probe = (range: ReturnType<Sql>) =>
    sql`
      select watts, workout_id, start_time
      from efforts_by_year
      where user_id = ${userId}::uuid and duration_s = d.duration_s and ${range}
      order by watts desc, start_time, workout_id
      limit 1
    `;
  // The local year's part of UTC year Y, and the slivers of Y-1 (east of UTC) and Y+1 (west).
  const inUtcYear = probe(
    sql`utc_year = y.year and start_time >= y.local_start and start_time < y.local_end`,
  );
  const yearBefore = probe(sql`start_time >= y.local_start and start_time < y.utc_start`);
  const yearAfter = probe(sql`start_time >= y.utc_end and start_time < y.local_end`);
  // Every ride with power has a 1-second effort: its first and last give the span of years.
  const [span] = await sql<{ firstYear: number | null; lastYear: number | null }[]>`
    select
      extract(year from min(start_time) at time zone ${timeZone})::integer as first_year,
      extract(year from max(start_time) at time zone ${timeZone})::integer as last_year
    from efforts_by_year
    where user_id = ${userId}::uuid and duration_s = 1
  `.catch((err) => badTimeZone(err, timeZone));
  const { firstYear, lastYear } = span;
  if (firstYear === null || lastYear === null) return [];
  // The years as an array, not a generate_series over the span: the planner then knows how many
  // there are. With generate_series's default guess of 1,000 rows the estimate passed the JIT
  // thresholds, and compiling took ~450 ms of a ~3 ms query.
  const years = Array.from({ length: lastYear - firstYear + 1 }, (_, i) => firstYear + i);
  const rows = await sql<(EffortRecord & { year: number })[]>`
    with years as (
      select
        y as year,
        make_timestamptz(y, 1, 1, 0, 0, 0, ${timeZone}) as local_start,
        make_timestamptz(y + 1, 1, 1, 0, 0, 0, ${timeZone}) as local_end,
        make_timestamptz(y, 1, 1, 0, 0, 0, 'UTC') as utc_start,
        make_timestamptz(y + 1, 1, 1, 0, 0, 0, 'UTC') as utc_end
      from unnest(${years}::integer[]) as y
    )
    select y.year, d.duration_s, b.watts, b.workout_id, b.start_time
    from years as y
    cross join unnest(${effortDurations as unknown as number[]}::integer[]) as d(duration_s)
    cross join lateral (
      select watts, workout_id, start_time
      from (
        (${inUtcYear})
        union all
        (${yearBefore})
        union all
        (${yearAfter})
      ) as parts
      order by watts desc, start_time, workout_id
      limit 1
    ) as b
    order by y.year, d.duration_s
  `.catch((err) => badTimeZone(err, timeZone));
  return rows.map((r) => ({
    year: r.year,
    durationS: r.durationS,
    watts: r.watts,
    workoutId: r.workoutId,
    startTime: r.startTime,
  }));
}

/**
 * The rider's best effort of `durationS` in rides that started at or after `since` (on a tie,
 * the earliest ride), or undefined.
 */
export async function bestEffortSince(
  sql: Sql,
  options: { userId: string; durationS: number; since: Date },
): Promise<EffortRecord | undefined> {
  const { userId, durationS, since } = options;
  const [row] = await sql<EffortRecord[]>`
    select duration_s, watts, workout_id, start_time
    from workout_efforts
    where
      user_id = ${userId}::uuid
      and duration_s = ${durationS}::integer
      and start_time >= ${since}::timestamptz
    order by watts desc, start_time, workout_id
    limit 1
  `;
  return row
    ? {
      durationS: row.durationS,
      watts: row.watts,
      workoutId: row.workoutId,
      startTime: row.startTime,
    }
    : undefined;
}

/** The best average power of one duration within one local bucket. */
export type LocalBucketBest = { bucket: Date; watts: number };

/**
 * Best average power of `durationS` seconds per local day, ISO week (Monday) or calendar month in
 * `timeZone`, over the rides whose local start day overlaps [from, to); only buckets with rides,
 * oldest first. Read ride by ride from `workout_efforts` (the daily rollup's buckets are UTC days,
 * which do not add up to local ones); `bucket` is the instant the local bucket starts.
 */
export async function localBests(
  sql: Sql,
  options: {
    userId: string;
    durationS: number;
    from: Date;
    to: Date;
    unit: "day" | "week" | "month";
    timeZone: string;
  },
): Promise<LocalBucketBest[]> {
  const { userId, durationS, unit, timeZone } = options;
  // Index bounds a day wider than any offset; the exact local-day test is below.
  const lower = new Date(options.from.getTime() - dayMs);
  const upper = new Date(options.to.getTime() + dayMs);
  const rows = await sql<{ bucket: Date; watts: number }[]>`
    select date_trunc(${unit}, start_time, ${timeZone}) as bucket, max(watts) as watts
    from workout_efforts
    where
      user_id = ${userId}::uuid
      and duration_s = ${durationS}::integer
      and start_time >= ${lower}::timestamptz
      and start_time < ${upper}::timestamptz
      and (start_time at time zone ${timeZone})::date
        >= (${options.from}::timestamptz at time zone ${timeZone})::date
      and (start_time at time zone ${timeZone})::date
        <= ((${options.to}::timestamptz - interval '1 microsecond') at time zone ${timeZone})::date
    group by 1
    order by 1
  `.catch((err) => badTimeZone(err, timeZone));
  return rows.map((row) => ({ bucket: row.bucket, watts: row.watts }));
}

/** One recorded FTP. */
export type FtpChange = { ftpWatts: number; source: string; createdAt: Date };

/** Every FTP recorded for the rider, newest first. */
export async function ftpHistory(sql: Sql, userId: string): Promise<FtpChange[]> {
  const rows = await sql<FtpChange[]>`
    select ftp_watts, source, created_at
    from ftp_history
    where user_id = ${userId}::uuid
    order by created_at desc, id
  `;
  return rows.map((r) => ({ ftpWatts: r.ftpWatts, source: r.source, createdAt: r.createdAt }));
}
