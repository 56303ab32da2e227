import { telemetrySeries } from "../analytics/aggregate_queries.ts";
import { wPrimeBalance } from "../analytics/curve.ts";
import { toGrid } from "../analytics/power.ts";
import { ApiError, conflict, notFound } from "../core/errors.ts";
import type { Logger } from "../core/log.ts";
import type { MetricField, Sample } from "../core/sample.ts";
import type { Sql } from "../db/client.ts";
import { refreshAfterCommit } from "../db/timescale.ts";
import { formatContentTypes, type RideFormat, safeFilename } from "../files/ride_file.ts";
import { writeRideFile } from "../files/ride_files.ts";
import type { WorkoutLive } from "../live/workout_live.ts";
import { gridSeries } from "./grid_series.ts";
import { readUploadedFile } from "./file_queries.ts";
import type { BoundStreams } from "./lifecycle.ts";
import {
  deleteWorkout,
  getWorkout,
  hasTelemetry,
  readTelemetry,
  updateWorkout,
  type WorkoutRow,
} from "./queries.ts";

/** Which rider's which workout. */
export type WorkoutIds = { workoutId: string; userId: string };

/** What reading a workout with its live samples uses. */
export type RecordDeps = { sql: Sql; workoutLive: WorkoutLive };

/** What deleting a workout uses. */
export type RemovalDeps = RecordDeps & { log: Logger; streams: BoundStreams };

/** One of the rider's workouts; 404 "Workout not found" when it is not theirs or not there. */
export async function findWorkout(sql: Sql, ids: WorkoutIds): Promise<WorkoutRow> {
  const row = await getWorkout(sql, ids);
  if (!row) throw notFound("Workout");
  return row;
}

/**
 * Refuses with 410 telemetry_expired when a completed ride that had samples has none left: the
 * telemetry retention (src/db/retention.ts) dropped them.
 */
function keptSamples(row: WorkoutRow, count: number): void {
  if (count === 0 && row.status === "completed" && row.sampleCount > 0) {
    throw new ApiError(
      "telemetry_expired",
      `This ride's ${row.sampleCount} samples were dropped by the telemetry retention ` +
        `(TELEMETRY_RETENTION_DAYS); its summary, totals and records remain`,
    );
  }
}

/** A workout and, when asked, its samples (archived, or live while it is active). */
export async function workoutDetail(
  deps: RecordDeps,
  ids: WorkoutIds,
  withTelemetry: boolean,
): Promise<{ workout: WorkoutRow; samples: Sample[] | null }> {
  const workout = await findWorkout(deps.sql, ids);
  const samples = !withTelemetry
    ? null
    : workout.status === "completed"
    ? await readTelemetry(deps.sql, workout)
    : (await deps.workoutLive.readAll(ids.workoutId)).samples;
  return { workout, samples };
}

/** Live samples after a cursor; a completed workout has none left (its cursor stays). */
export async function liveSamples(
  deps: RecordDeps,
  ids: WorkoutIds,
  page: { after: string | null; limit: number },
): Promise<{
  status: "active" | "completed";
  samples: Sample[];
  cursor: string | null;
  more: boolean;
}> {
  const workout = await findWorkout(deps.sql, ids);
  if (workout.status === "completed") {
    return { status: "completed", samples: [], cursor: page.after, more: false };
  }
  const read = await deps.workoutLive.read(ids.workoutId, page.after, page.limit);
  return {
    status: "active",
    samples: read.samples,
    cursor: read.cursor,
    more: read.entries === page.limit,
  };
}

/** Changes a workout's title, notes or sport; 404 when it is not the rider's. */
export async function editWorkout(
  sql: Sql,
  ids: WorkoutIds,
  changes: { title?: string | null; notes?: string | null; sport?: string },
): Promise<WorkoutRow> {
  const row = await updateWorkout(sql, ids, changes);
  if (!row) throw notFound("Workout");
  return row;
}

/** A completed workout's samples as a ride file, with its type and attachment name. */
export async function exportWorkout(
  sql: Sql,
  ids: WorkoutIds,
  format: RideFormat,
): Promise<{ bytes: Uint8Array; contentType: string; filename: string }> {
  const row = await findWorkout(sql, ids);
  if (row.status !== "completed") {
    throw conflict("workout_active", "Workout is still active; complete it before exporting");
  }
  const samples = await readTelemetry(sql, row);
  keptSamples(row, samples.length);
  const bytes = writeRideFile(format, samples, {
    title: row.title,
    sport: row.sport,
    startTime: row.startTime,
  });
  const stem = row.title ?? `workout-${row.startTime.toISOString().slice(0, 10)}`;
  return { bytes, contentType: formatContentTypes[format], filename: safeFilename(stem, format) };
}

/**
 * The file a workout was imported from, byte for byte, with the Content-Type it was uploaded
 * with (else its format's; `application/gzip` for a kept `.gz`) and its file name (else one
 * made from the title). 404 for another rider's workout and for one with no file (a live ride,
 * a JSON import).
 */
export async function originalFile(
  sql: Sql,
  ids: WorkoutIds,
): Promise<{ bytes: Uint8Array; contentType: string; filename: string }> {
  const file = await readUploadedFile(sql, ids);
  if (!file) throw notFound("Uploaded file");
  const contentType = file.gzip
    ? "application/gzip"
    : file.contentType ?? formatContentTypes[file.format];
  const fallback = `${safeFilename(`workout-${ids.workoutId.slice(0, 8)}`, file.format)}`;
  return {
    bytes: file.bytes,
    contentType,
    filename: file.filename ?? (file.gzip ? `${fallback}.gz` : fallback),
  };
}

/** A workout's archived samples as columns: 1s on the grid, raw, 10s and 1m from SQL. */
export async function workoutTelemetry(
  sql: Sql,
  ids: WorkoutIds,
  options: {
    resolution: "raw" | "1s" | "10s" | "1m";
    fields: readonly MetricField[];
    /** Also the W′ balance series (`wPrimeBalance`, J). */
    wPrimeBalance?: boolean;
  },
): Promise<Record<string, (string | number | null)[]>> {
  const row = await findWorkout(sql, ids);
  if (options.resolution === "1s") {
    const samples = await readTelemetry(sql, row);
    keptSamples(row, samples.length);
    const series = gridSeries(samples, options.fields);
    if (options.wPrimeBalance) {
      series.wPrimeBalance = balanceAt(row, samples, series.time as string[], 1000);
    }
    return series;
  }
  const series: Record<string, (string | number | null)[]> = await telemetrySeries(sql, {
    ...ids,
    ...options,
    resolution: options.resolution,
  });
  // An empty rollup is not proof: a continuous aggregate may not be refreshed yet (licensed
  // edition); only samples that are gone mean the retention dropped them.
  if (series.time.length === 0 && row.sampleCount > 0 && !(await hasTelemetry(sql, row))) {
    keptSamples(row, 0);
  }
  if (options.wPrimeBalance) {
    const width = { raw: 1000, "10s": 10_000, "1m": 60_000 }[options.resolution];
    const samples = await readTelemetry(sql, row);
    series.wPrimeBalance = balanceAt(row, samples, series.time as string[], width);
  }
  return series;
}

/**
 * The ride's W′ balance (with the CP and W′ of its summary) per time: the minimum over the grid
 * seconds in [time, time + widthMs); null where there are none, or everywhere without CP and W′.
 */
function balanceAt(
  row: WorkoutRow,
  samples: readonly Sample[],
  times: readonly string[],
  widthMs: number,
): (number | null)[] {
  const used = row.summary.wPrimeBalance;
  if (!used) return times.map(() => null);
  const grid = toGrid(samples);
  const { series } = wPrimeBalance(grid, used.cpWatts, used.wPrimeJ);
  return times.map((time) => {
    const t = Date.parse(time);
    // A raw sample's time falls inside its second, a bucket starts on its width: both from the
    // floored second on, widthMs / 1000 grid seconds.
    const second = (Math.floor(t / 1000) * 1000 - grid.start) / 1000;
    const first = Math.max(0, second);
    const last = Math.min(grid.elapsedS, second + widthMs / 1000);
    let min: number | null = null;
    for (let i = first; i < last; i++) if (min === null || series[i] < min) min = series[i];
    return min;
  });
}

/** Deletes a workout with its telemetry, efforts, live keys and the live stream bound to it. */
export async function removeWorkout(deps: RemovalDeps, ids: WorkoutIds): Promise<void> {
  const deleted = await deleteWorkout(deps.sql, ids);
  if (!deleted) throw notFound("Workout");
  // Committed: nothing below may fail the request. Live keys left behind are dropped by the
  // idle sweeper (their workout is gone); unrefreshed rollups stay recorded for the drain.
  await deps.workoutLive.remove(ids.workoutId).catch((err) =>
    deps.log.warn("could not delete live keys of a deleted workout", {
      workoutId: ids.workoutId,
      err: String(err),
    })
  );
  // The live stream bound to it goes too: its messages were that workout's.
  if (deleted.streamName) {
    await deps.streams.removeBound(deleted.streamName, ids.workoutId).catch((err) =>
      deps.log.warn("could not delete the stream of a deleted workout", { err: String(err) })
    );
  }
  await refreshAfterCommit(deps.sql, ids.workoutId, { log: deps.log });
}
