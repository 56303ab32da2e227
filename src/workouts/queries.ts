import type { Sample } from "../core/sample.ts";
import type { WorkoutSummary } from "../analytics/power.ts";
import type { Sql } from "../db/client.ts";
import {
  type AggregateSource,
  listContinuousAggregates,
  recordPendingRefresh,
} from "../db/timescale.ts";
import { recordWebhookEvent } from "../webhooks/outbox.ts";
import { workoutJson } from "./workout_json.ts";

/** A workout row as the queries return it. */
export type WorkoutRow = {
  id: string;
  userId: string;
  streamName: string | null;
  status: "active" | "completed";
  title: string | null;
  notes: string | null;
  sport: string;
  startTime: Date;
  endTime: Date | null;
  durationS: number | null;
  movingS: number | null;
  sampleCount: number;
  summary: Partial<WorkoutSummary>;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
};

const columns = (sql: Sql) =>
  sql`
  id, user_id, stream_name, status, title, notes, sport, start_time, end_time, duration_s,
  moving_s, sample_count, summary, created_at, updated_at, completed_at
`;

/** Inserts an active workout. A stream name already used by an active workout raises 23505. */
export async function insertWorkout(
  sql: Sql,
  workout: { userId: string; title: string | null; sport: string; streamName: string | null },
): Promise<WorkoutRow> {
  const [row] = await sql<WorkoutRow[]>`
    insert into workouts (user_id, title, sport, stream_name)
    values (${workout.userId}, ${workout.title}, ${workout.sport}, ${workout.streamName})
    returning ${columns(sql)}
  `;
  return row;
}

/** Reads one of the user's workouts. */
export async function getWorkout(
  sql: Sql,
  ids: { workoutId: string; userId: string },
): Promise<WorkoutRow | undefined> {
  const [row] = await sql<WorkoutRow[]>`
    select ${columns(sql)} from workouts
    where id = ${ids.workoutId} and user_id = ${ids.userId}
  `;
  return row;
}

/** Finds the user's active workout bound to a stream name. */
export async function getActiveByStream(
  sql: Sql,
  options: { streamName: string; userId: string },
): Promise<WorkoutRow | undefined> {
  const [row] = await sql<WorkoutRow[]>`
    select ${columns(sql)} from workouts
    where stream_name = ${options.streamName} and user_id = ${options.userId}
      and status = 'active'
  `;
  return row;
}

/** Filters of the workout list. */
export type ListFilter = {
  userId: string;
  status?: "active" | "completed";
  sport?: string;
  /** Words the title must contain (case-insensitive, as a substring). */
  title?: string;
  from?: Date;
  to?: Date;
  limit: number;
  offset: number;
};

/** Lists the user's workouts, newest first, with the total count for pagination. */
export async function listWorkouts(
  sql: Sql,
  filter: ListFilter,
): Promise<{ rows: WorkoutRow[]; total: number }> {
  const where = sql`
    where user_id = ${filter.userId}
    ${filter.status ? sql`and status = ${filter.status}` : sql``}
    ${filter.sport ? sql`and sport = ${filter.sport}` : sql``}
    ${
    filter.title
      ? sql`and title ilike ${"%" + filter.title.replace(/[\\%_]/g, "\\$&") + "%"}`
      : sql``
  }
    ${filter.from ? sql`and start_time >= ${filter.from}` : sql``}
    ${filter.to ? sql`and start_time <= ${filter.to}` : sql``}
  `;
  const [rows, [count]] = await Promise.all([
    sql<WorkoutRow[]>`
      select ${columns(sql)} from workouts ${where}
      order by start_time desc, id
      limit ${filter.limit} offset ${filter.offset}
    `,
    sql<{ total: number }[]>`select count(*)::int as total from workouts ${where}`,
  ]);
  return { rows, total: count.total };
}

/** Changes title, notes or sport. */
export async function updateWorkout(
  sql: Sql,
  ids: { workoutId: string; userId: string },
  patch: { title?: string | null; notes?: string | null; sport?: string },
): Promise<WorkoutRow | undefined> {
  const keys = (["title", "notes", "sport"] as const).filter((k) => patch[k] !== undefined);
  if (keys.length === 0) return getWorkout(sql, ids);
  return await sql.begin(async (tx) => {
    const [row] = await tx<WorkoutRow[]>`
      update workouts set ${tx(patch, ...keys)}, updated_at = now()
      where id = ${ids.workoutId} and user_id = ${ids.userId}
      returning ${columns(tx as unknown as Sql)}
    `;
    if (row) await recordWebhookEvent(tx as unknown as Sql, workoutEvent("workout.updated", row));
    return row;
  });
}

/** A webhook event carrying the workout as the API answers it. */
function workoutEvent(type: "workout.completed" | "workout.updated", row: WorkoutRow) {
  return { type, userId: row.userId, workoutId: row.id, data: { workout: workoutJson(row) } };
}

/**
 * Deletes a workout with its telemetry and efforts; returns its time range and stream name, if it existed. A
 * completed one's rollup windows are recorded for refresh in the same transaction (refresh them
 * with refreshAfterCommit once it commits).
 */
export async function deleteWorkout(
  sql: Sql,
  ids: { workoutId: string; userId: string },
): Promise<{ startTime: Date; endTime: Date | null; streamName: string | null } | undefined> {
  await listContinuousAggregates(sql); // cached: no look-up inside the transaction
  return await sql.begin(async (tx) => {
    const [row] = await tx<
      { startTime: Date; endTime: Date | null; status: string; streamName: string | null }[]
    >`
      delete from workouts where id = ${ids.workoutId} and user_id = ${ids.userId}
      returning start_time, end_time, status, stream_name
    `;
    if (!row) return undefined;
    await recordWebhookEvent(tx as unknown as Sql, {
      type: "workout.deleted",
      ...ids,
      data: { workout: { id: ids.workoutId } },
    });
    if (row.status === "completed") {
      await recordPendingRefresh(sql, tx as unknown as Sql, {
        workoutId: ids.workoutId,
        from: row.startTime,
        to: row.endTime ?? row.startTime,
      });
    }
    // Time bounds let TimescaleDB skip every chunk outside the ride.
    const from = new Date(row.startTime.getTime() - 86_400_000);
    const to = new Date((row.endTime ?? row.startTime).getTime() + 86_400_000);
    await tx`
      delete from telemetry
      where workout_id = ${ids.workoutId} and time >= ${from} and time <= ${to}
    `;
    await tx`
      delete from workout_efforts
      where workout_id = ${ids.workoutId} and start_time = ${row.startTime}
    `;
    return { startTime: row.startTime, endTime: row.endTime, streamName: row.streamName };
  });
}

/** What a ride's summary is computed with (watts, bpm), each null when unknown. */
export type RiderSettings = {
  ftpWatts: number | null;
  maxHr: number | null;
  restingHr: number | null;
  lthr: number | null;
};

/**
 * The rider's settings that a ride's summary depends on. The FTP is the one in force when the
 * ride started: the newest `ftp_history` row at or before `at`, else the rider's current FTP.
 */
export async function riderSettings(
  sql: Sql,
  options: { userId: string; at: Date },
): Promise<RiderSettings> {
  const [row] = await sql<RiderSettings[]>`
    select
      coalesce(
        (
          select h.ftp_watts from ftp_history h
          where h.user_id = u.id and h.created_at <= ${options.at}
          order by h.created_at desc
          limit 1
        ),
        u.ftp_watts
      ) as ftp_watts,
      u.max_hr, u.resting_hr, u.lthr
    from users u
    where u.id = ${options.userId}
  `;
  return row ?? { ftpWatts: null, maxHr: null, restingHr: null, lthr: null };
}

function column(samples: readonly Sample[], field: keyof Sample): (number | null)[] {
  return samples.map((s) => s[field]);
}

/**
 * Archives a workout in one transaction: telemetry rows, best efforts, the summary, and the
 * rollup windows to refresh once it commits (refreshAfterCommit) — only while the workout is
 * still active. Answers undefined when it was already completed (nothing written).
 */
export async function archiveWorkout(
  sql: Sql,
  archive: {
    workoutId: string;
    userId: string;
    samples: readonly Sample[];
    summary: WorkoutSummary;
    ftpWatts: number | null;
    /** The whole curve (rideCurve): watts per curveDurations index; null without power. */
    curve?: readonly number[] | null;
    /** More writes that must commit or roll back with the archive (given the transaction). */
    alsoInTransaction?: (tx: Sql) => Promise<void>;
  },
): Promise<WorkoutRow | undefined> {
  const { workoutId, userId, samples, summary: s } = archive;
  await listContinuousAggregates(sql); // cached: no look-up inside the transaction
  return await sql.begin(async (tx) => {
    const [current] = await tx<{ status: string; startTime: Date }[]>`
      select status, start_time from workouts
      where id = ${workoutId} and user_id = ${userId}
      for update
    `;
    if (!current || current.status !== "active") return undefined;
    const startTime = s.startTime ? new Date(s.startTime) : current.startTime;

    if (samples.length > 0) {
      await tx`
        insert into telemetry (
          workout_id, user_id, time, power, cadence, heart_rate, speed, distance, altitude, lat, lon
        )
        select ${workoutId}::uuid, ${userId}::uuid, to_timestamp(u.t / 1000.0),
          u.power, u.cadence, u.heart_rate, u.speed, u.distance, u.altitude, u.lat, u.lon
        from unnest(
          ${column(samples, "time") as number[]}::float8[],
          ${column(samples, "power")}::float8[],
          ${column(samples, "cadence")}::float8[],
          ${column(samples, "heartRate")}::float8[],
          ${column(samples, "speed")}::float8[],
          ${column(samples, "distance")}::float8[],
          ${column(samples, "altitude")}::float8[],
          ${column(samples, "lat")}::float8[],
          ${column(samples, "lon")}::float8[]
        ) as u(t, power, cadence, heart_rate, speed, distance, altitude, lat, lon)
        on conflict (workout_id, time) do nothing
      `;
    }

    const efforts = s.powerCurve.filter((p) => p.watts !== null);
    if (efforts.length > 0) {
      await tx`
        insert into workout_efforts (user_id, workout_id, start_time, duration_s, watts)
        select ${userId}::uuid, ${workoutId}::uuid, ${startTime}::timestamptz, e.duration_s, e.watts
        from unnest(
          ${efforts.map((e) => e.duration)}::int[],
          ${efforts.map((e) => e.watts as number)}::float8[]
        ) as e(duration_s, watts)
        on conflict do nothing
      `;
    }

    if (archive.curve) {
      // The trigger of sql/0016 merges it into the rider's month in this transaction.
      await tx`
        insert into workout_curves (workout_id, user_id, start_time, watts)
        values (${workoutId}, ${userId}, ${startTime}, ${archive.curve as number[]}::float8[])
        on conflict do nothing
      `;
    }

    const [row] = await tx<WorkoutRow[]>`
      update workouts set
        status = 'completed',
        start_time = ${startTime},
        end_time = ${s.endTime ? new Date(s.endTime) : startTime},
        duration_s = ${s.elapsedS},
        moving_s = ${s.movingS},
        avg_power = ${s.avgPower},
        max_power = ${s.maxPower},
        normalized_power = ${s.normalizedPower},
        avg_cadence = ${s.avgCadence},
        max_cadence = ${s.maxCadence},
        avg_heart_rate = ${s.avgHeartRate},
        max_heart_rate = ${s.maxHeartRate},
        avg_speed = ${s.avgSpeed},
        max_speed = ${s.maxSpeed},
        distance_m = ${s.distanceM},
        elevation_gain_m = ${s.elevationGainM},
        work_kj = ${s.workKj},
        intensity_factor = ${s.intensityFactor},
        tss = ${s.tss},
        ftp_watts = ${archive.ftpWatts},
        sample_count = ${s.sampleCount},
        summary = ${tx.json(s as never)},
        completed_at = now(),
        updated_at = now()
      where id = ${workoutId}
      returning ${columns(tx as unknown as Sql)}
    `;
    // The completion trigger writes workout_totals (sql/0011).
    const sources: AggregateSource[] = ["workout_totals"];
    if (samples.length > 0) sources.push("telemetry");
    if (efforts.length > 0) sources.push("workout_efforts");
    await recordPendingRefresh(sql, tx as unknown as Sql, {
      workoutId,
      from: row.startTime,
      to: row.endTime ?? row.startTime,
      sources,
    });
    await recordWebhookEvent(tx as unknown as Sql, workoutEvent("workout.completed", row));
    await archive.alsoInTransaction?.(tx as unknown as Sql);
    return row;
  });
}

/** Whether any archived sample of the workout is left (the telemetry retention drops them). */
export async function hasTelemetry(sql: Sql, workout: WorkoutRow): Promise<boolean> {
  const from = new Date(workout.startTime.getTime() - 86_400_000);
  const to = new Date((workout.endTime ?? workout.startTime).getTime() + 86_400_000);
  const [row] = await sql<{ found: boolean }[]>`
    select exists (
      select 1 from telemetry
      where workout_id = ${workout.id} and time >= ${from} and time <= ${to}
    ) as found
  `;
  return row.found;
}

/** Reads a completed workout's archived samples in time order. */
export async function readTelemetry(sql: Sql, workout: WorkoutRow): Promise<Sample[]> {
  // Time bounds let TimescaleDB skip every chunk outside the ride.
  const from = new Date(workout.startTime.getTime() - 86_400_000);
  const to = new Date((workout.endTime ?? workout.startTime).getTime() + 86_400_000);
  const rows = await sql<(Omit<Sample, "time"> & { t: number })[]>`
    select (extract(epoch from time) * 1000)::float8 as t, power, cadence, heart_rate, speed,
      distance, altitude, lat, lon
    from telemetry
    where workout_id = ${workout.id} and user_id = ${workout.userId}
      and time >= ${from} and time <= ${to}
    order by time
  `;
  return rows.map(({ t, ...metrics }) => ({ time: Math.round(t), ...metrics }));
}
