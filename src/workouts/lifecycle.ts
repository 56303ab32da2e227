import { summarize, toGrid } from "../analytics/power.ts";
import { rideCurve, wPrimeBalance } from "../analytics/curve.ts";
import { cpInForce } from "../analytics/curve_queries.ts";
import type { Sample } from "../core/sample.ts";
import { refreshAfterCommit } from "../db/timescale.ts";
import type { Sql } from "../db/client.ts";
import type { Config } from "../core/config.ts";
import type { Logger } from "../core/log.ts";
import type { WorkoutLive } from "../live/workout_live.ts";
import { ApiError, notFound, toApiError, UnavailableError } from "../core/errors.ts";
import { metrics } from "../core/metrics.ts";
import { traced } from "../core/tracing.ts";
import { normalizeSamples } from "./sample_input.ts";
import {
  archiveWorkout,
  getWorkout,
  insertWorkout,
  riderSettings,
  type WorkoutRow,
} from "./queries.ts";

/**
 * The legacy streams a live ride may be bound to, as the lifecycle sees them (the stream store
 * implements it; wiring passes it in, so workouts/ does not import streams/).
 */
export type BoundStreams = {
  /** The telemetry samples of a stream while it is bound to this workout (none otherwise). */
  boundSamples(name: string, workoutId: string): Promise<Sample[]>;
  /** Deletes a stream if it is still bound to this workout (its viewers get stream_deleted). */
  removeBound(name: string, workoutId: string): Promise<boolean>;
};

/** What the workout lifecycle uses. */
export type WorkoutDeps = {
  config: Config;
  sql: Sql;
  log: Logger;
  workoutLive: WorkoutLive;
  streams: BoundStreams;
};

/** A completed archive: the workout and how much was archived. */
export type ArchiveResult = { workout: WorkoutRow; archivedSamples: number; entries: number };

function notActive(): ApiError {
  return new ApiError("workout_not_active", "Workout is not active");
}

/**
 * Completing a workout that is already completed (a retry after a lost answer, or a crash
 * between commit and clean-up): still a 400 for old clients, with its own code and the workout,
 * so a retry can tell that it succeeded.
 */
export class WorkoutAlreadyCompleted extends ApiError {
  constructor(readonly workout: WorkoutRow) {
    // The text old clients match (COMPAT.md), unchanged.
    super("workout_already_completed", "Workout is not active");
  }
}

function notActiveAnymore(workout: WorkoutRow | undefined): ApiError {
  return workout?.status === "completed" ? new WorkoutAlreadyCompleted(workout) : notActive();
}

/** Starts an active workout and registers it as live. */
export async function startWorkout(
  deps: WorkoutDeps,
  input: { userId: string; title: string | null; sport: string; streamName: string | null },
): Promise<WorkoutRow> {
  const workout = await insertWorkout(deps.sql, input).catch((err) => {
    if (err?.code === "23505") {
      throw new ApiError("stream_in_use", "An active workout already uses this stream name");
    }
    throw err;
  });
  await deps.workoutLive.open(workout.id, input.userId);
  metrics.ridesStarted.inc();
  return workout;
}

/** Appends a batch of samples to an active workout's live stream (one Redis command). */
export async function ingestSamples(
  deps: WorkoutDeps,
  ids: { workoutId: string; userId: string },
  samples: readonly Sample[],
): Promise<{ accepted: number; cursor: string }> {
  let result = await deps.workoutLive.append(ids.workoutId, ids.userId, samples);
  if (!result.ok && result.reason === "not_live") {
    // Unknown here: someone else's, completed, or live keys lost (e.g. Redis was flushed).
    const workout = await getWorkout(deps.sql, ids);
    if (!workout) throw notFound("Workout");
    if (workout.status !== "active") throw notActive();
    // An active workout always has live keys (opened at start), so they vanished: Redis
    // restarted without persistence, was flushed, or they expired. What they held is lost.
    // Not open(): the workout may have been archived since it was read as active.
    const revived = await deps.workoutLive.revive(ids.workoutId, ids.userId);
    if (revived === "ended") throw notActive();
    if (revived === "revived") {
      deps.log.warn("live samples of an active workout vanished; reopened it with a gap", {
        workoutId: ids.workoutId,
      });
    }
    result = await deps.workoutLive.append(ids.workoutId, ids.userId, samples);
  }
  if (!result.ok && result.reason === "span") {
    throw new ApiError("ride_too_long", "Samples of one ride must span at most 48 hours");
  }
  if (!result.ok) {
    throw new ApiError("workout_closing", "Workout is being completed; samples not accepted");
  }
  return { accepted: samples.length, cursor: result.cursor };
}

/**
 * Completes an active workout (DESIGN §5): stop ingest, read every live sample, compute the
 * summary, write everything in one transaction, then refresh aggregates and drop the live keys.
 *
 * If the database fails, the live stream stays and the workout stays active (503; retry later).
 */
export async function completeWorkout(
  deps: WorkoutDeps,
  ids: { workoutId: string; userId: string },
): Promise<ArchiveResult> {
  const workout = await getWorkout(deps.sql, ids);
  if (!workout) throw notFound("Workout");
  if (workout.status !== "active") {
    // A repeat after a crash between commit and cleanup: finish the cleanup.
    await deps.workoutLive.remove(ids.workoutId).catch(() => {});
    throw notActiveAnymore(workout);
  }
  const live = await deps.workoutLive.liveState(ids.workoutId);
  if (!live.present) {
    deps.log.warn("live samples of an active workout vanished; archiving what is left", {
      workoutId: ids.workoutId,
    });
  }
  const liveDataGap = live.gap || !live.present;
  await deps.workoutLive.markClosing(ids.workoutId);
  try {
    const page = await deps.workoutLive.readAll(ids.workoutId);
    const legacy = workout.streamName
      ? await deps.streams.boundSamples(workout.streamName, workout.id)
      : [];
    const samples = [...page.samples, ...legacy];
    const result = await archive(deps, { ...ids, samples, liveDataGap, source: "live" });
    if (!result) {
      await deps.workoutLive.remove(ids.workoutId).catch(() => {});
      throw notActiveAnymore(await getWorkout(deps.sql, ids));
    }
    await afterCommit(deps, result);
    return { workout: result, archivedSamples: samples.length, entries: page.entries };
  } catch (err) {
    const known = toApiError(err);
    if (!known || known.status >= 500) {
      await deps.workoutLive.reopen(ids.workoutId).catch((reopenErr) =>
        deps.log.warn("could not reopen workout after a failed archive", {
          workoutId: ids.workoutId,
          err: String(reopenErr),
        })
      );
      if (!known) {
        deps.log.error("archive failed", { workoutId: ids.workoutId, err: String(err) });
        throw new UnavailableError("Archiving");
      }
    }
    throw err;
  }
}

/** Archives a finished ride given as samples, without a live phase. */
export async function importWorkout(
  deps: WorkoutDeps,
  input: {
    userId: string;
    title: string | null;
    sport: string;
    samples: readonly Sample[];
    /** More writes that must commit with the archive (the new workout's id, the transaction). */
    alsoInTransaction?: (workoutId: string, tx: Sql) => Promise<void>;
  },
): Promise<ArchiveResult> {
  const { alsoInTransaction, ...row } = input;
  const workout = await insertWorkout(deps.sql, { ...row, streamName: null });
  const result = await archive(deps, {
    workoutId: workout.id,
    userId: input.userId,
    samples: input.samples,
    alsoInTransaction: alsoInTransaction && ((tx) => alsoInTransaction(workout.id, tx)),
    source: "import",
  }).catch(async (err) => {
    await deps.sql`delete from workouts where id = ${workout.id}`.catch(() => {});
    throw err;
  });
  if (!result) throw new Error("A freshly imported workout was not active");
  await afterCommit(deps, result);
  return { workout: result, archivedSamples: input.samples.length, entries: 0 };
}

/**
 * Archives samples into a workout: normalised, summarised and written in one transaction;
 * timed into `bpt_archive_duration_seconds` (outcome ok, not_active or failed) and, when it
 * commits, sized into `bpt_archive_samples`.
 */
async function archive(
  deps: WorkoutDeps,
  input: {
    workoutId: string;
    userId: string;
    samples: readonly Sample[];
    alsoInTransaction?: (tx: Sql) => Promise<void>;
    /** Live samples were lost before this archive (marked in the summary). */
    liveDataGap?: boolean;
    /** A live ride completed, or a file imported (the metrics' label). */
    source: "live" | "import";
  },
): Promise<WorkoutRow | undefined> {
  const started = performance.now();
  let outcome = "failed";
  try {
    const row = await traced("archive", {
      "workout.id": input.workoutId,
      "archive.source": input.source,
      "archive.samples": input.samples.length,
    }, () => archiveOnce(deps, input));
    outcome = row ? "ok" : "not_active";
    if (row) metrics.archiveSamples.observe({ source: input.source }, input.samples.length);
    return row;
  } finally {
    metrics.archiveDuration.observe(
      { source: input.source, outcome },
      (performance.now() - started) / 1000,
    );
  }
}

async function archiveOnce(
  deps: WorkoutDeps,
  input: Parameters<typeof archive>[1],
): Promise<WorkoutRow | undefined> {
  const samples = normalizeSamples(input.samples);
  // The FTP in force when the ride started (its first sample); a ride without samples has no
  // power, so any FTP gives the same summary.
  const at = samples.length > 0 ? new Date(samples[0].time) : new Date();
  const rider = await riderSettings(deps.sql, { userId: input.userId, at });
  const summary = summarize(samples, {
    ftp: rider.ftpWatts,
    maxHr: rider.maxHr,
    restingHr: rider.restingHr,
    lthr: rider.lthr,
  });
  if (input.liveDataGap) summary.liveDataGap = true;
  // The whole curve and the W′ balance, from the same 1-s grid (measured: ~40 ms for a 4 h ride).
  const grid = toGrid(samples);
  const curve = rideCurve(grid);
  const cp = curve ? await cpInForce(deps.sql, { userId: input.userId, at }) : undefined;
  if (curve) {
    summary.wPrimeBalance = null;
    if (cp) {
      const { minJ, belowZeroS } = wPrimeBalance(grid, cp.cpWatts, cp.wPrimeJ);
      summary.wPrimeBalance = { ...cp, minJ, belowZeroS };
    }
  }
  return await archiveWorkout(deps.sql, {
    workoutId: input.workoutId,
    userId: input.userId,
    samples,
    summary,
    ftpWatts: rider.ftpWatts,
    curve,
    alsoInTransaction: input.alsoInTransaction,
  });
}

async function afterCommit(deps: WorkoutDeps, workout: WorkoutRow): Promise<void> {
  // Never throws: what cannot be refreshed now stays recorded for the drain loop.
  await refreshAfterCommit(deps.sql, workout.id, { log: deps.log });
  if (workout.streamName) {
    // A live ride's legacy stream ends with its workout (viewers get stream_deleted).
    await deps.streams.removeBound(workout.streamName, workout.id).catch((err) =>
      deps.log.warn("could not delete the stream of an archived workout", { err: String(err) })
    );
  }
  await deps.workoutLive.remove(workout.id).catch((err) =>
    deps.log.warn("could not delete live keys after archiving", {
      workoutId: workout.id,
      err: String(err),
    })
  );
}

/**
 * Completes rides idle longer than the configured timeout. Safe with several instances: a ride
 * being closed elsewhere is skipped, and the archive transaction only completes an active ride.
 */
export async function sweepIdleWorkouts(deps: WorkoutDeps, now = Date.now()): Promise<number> {
  const idleMs = deps.config.workoutIdleTimeoutS * 1000;
  const ids = await deps.workoutLive.idleSince(now - idleMs);
  let completed = 0;
  for (const workoutId of ids) {
    const [row] = await deps.sql<{ userId: string; status: string }[]>`
      select user_id, status from workouts where id = ${workoutId}
    `;
    if (!row || row.status !== "active") {
      await deps.workoutLive.remove(workoutId);
      continue;
    }
    if (!(await deps.workoutLive.markClosing(workoutId, { now }))) continue;
    try {
      await completeWorkout(deps, { workoutId, userId: row.userId });
      completed++;
      metrics.sweptRides.inc();
      deps.log.info("idle workout archived", { workoutId });
    } catch (err) {
      deps.log.warn("idle workout not archived; will retry", { workoutId, err: String(err) });
    }
  }
  return completed;
}
