import { ApiError } from "../core/errors.ts";
import { startWorkout, type WorkoutDeps } from "../workouts/lifecycle.ts";
import type { StreamStore } from "./store.ts";
import { getActiveByStream, getWorkout } from "../workouts/queries.ts";

/** What binding a stream to a live workout uses. */
export type LiveRideDeps = WorkoutDeps & { streams: StreamStore };

/** Tries before giving up on binding a stream (each waits a little longer). */
const bindAttempts = 8;

function forbidden(): ApiError {
  return new ApiError("forbidden", "Only the stream's owner may do that");
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Makes sure a rider's stream exists and is bound to a live workout of that rider, which will
 * archive every message posted to it (DESIGN §4: a rider's post to a stream with no live workout
 * starts one). A stream whose workout was archived or deleted gets a new workout: a ride resumed
 * after a delete or an idle sweep is a new workout. A workout whose live keys were lost is opened
 * again. Safe under concurrency: the database allows one active workout per stream name, and the
 * binding only replaces a workout known to have ended.
 */
export async function ensureLiveWorkout(
  deps: LiveRideDeps,
  name: string,
  userId: string,
): Promise<{ workoutId: string; messageId: string | null }> {
  const owner = `user:${userId}` as const;
  for (let attempt = 0; attempt < bindAttempts; attempt++) {
    if (attempt > 0) await delay(10 * 2 ** attempt);
    const created = await deps.streams.create(name, owner);
    if (!created.ok) throw forbidden();
    const meta = await deps.streams.meta(name);
    if (!meta) continue; // deleted in between
    if (meta.owner !== owner) throw forbidden();
    if (meta.workout) {
      const row = await getWorkout(deps.sql, { workoutId: meta.workout, userId });
      if (row?.status === "active") {
        const revived = await deps.workoutLive.revive(row.id, userId);
        if (revived === "revived") {
          deps.log.warn("live keys of a stream's workout vanished; reopened it with a gap", {
            workoutId: row.id,
            stream: name,
          });
        }
        if (revived !== "ended") return { workoutId: row.id, messageId: created.messageId };
        continue; // being archived right now: its end is near
      }
    }
    const workoutId = await startOrTakeOver(deps, name, userId);
    if (workoutId === null) continue;
    const bound = await deps.streams.bindWorkout(name, workoutId, meta.workout);
    if (bound === workoutId) return { workoutId, messageId: created.messageId };
  }
  throw new ApiError("workout_closing", "The stream's workout is being archived; try again", {
    headers: { "Retry-After": "1" },
  });
}

/**
 * Starts a workout for the stream, or answers the rider's active workout of that name when there
 * is one (its stream keys were lost); null when that one is ending.
 */
async function startOrTakeOver(
  deps: LiveRideDeps,
  name: string,
  userId: string,
): Promise<string | null> {
  try {
    const workout = await startWorkout(deps, {
      userId,
      title: name,
      sport: "cycling",
      streamName: name,
    });
    return workout.id;
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== "stream_in_use") throw err;
  }
  const active = await getActiveByStream(deps.sql, { streamName: name, userId });
  if (!active) {
    // Another rider's active workout has this name (possible only when its stream was lost).
    throw new ApiError("stream_in_use", "An active workout already uses this stream name");
  }
  return await deps.workoutLive.revive(active.id, userId) === "ended" ? null : active.id;
}
