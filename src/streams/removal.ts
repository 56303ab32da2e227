import { ApiError, forbidden, notFound } from "../core/errors.ts";
import { completeWorkout } from "../workouts/lifecycle.ts";
import type { LiveRideDeps } from "./live_rides.ts";
import type { StreamOwner } from "./store.ts";

/** Deletes a stream, archiving its workout first; false when there was no stream. */
async function deleteStream(deps: LiveRideDeps, name: string): Promise<boolean> {
  const meta = await deps.streams.meta(name);
  if (!meta) return false;
  if (meta.workout && meta.owner.startsWith("user:")) {
    const userId = meta.owner.slice("user:".length);
    await completeWorkout(deps, { workoutId: meta.workout, userId }).catch((err) => {
      if (err instanceof ApiError && err.status < 500) return; // already archived or gone
      throw err;
    });
  }
  await deps.streams.remove(name); // archiving may already have removed it
  return true;
}

/**
 * Deletes the caller's stream (COMPAT DELETE /api/streams/:name); a rider's workout bound to it
 * is archived first. 404 "Stream not found", 403 for another owner's stream.
 */
export async function deleteOwnStream(
  deps: LiveRideDeps,
  name: string,
  owner: StreamOwner,
): Promise<void> {
  const meta = await deps.streams.meta(name);
  if (!meta) throw notFound("Stream");
  if (meta.owner !== owner) throw forbidden("Only the stream's owner may do that");
  if (!(await deleteStream(deps, name))) throw notFound("Stream");
}

/**
 * Deletes the shared streams whose last entry is older than `retentionMs`; answers how many.
 * Riders' streams are not the shared key's: the idle sweeper archives and ends them.
 */
export async function cleanupSharedStreams(
  deps: LiveRideDeps,
  retentionMs: number,
): Promise<number> {
  const cutoff = Date.now() - retentionMs;
  let deleted = 0;
  for (const stream of await deps.streams.list()) {
    if (stream.meta.owner !== "shared") continue;
    const lastMs = Number((stream.lastMessageId ?? "0-0").split("-")[0]);
    if (lastMs < cutoff && await deleteStream(deps, stream.name)) deleted++;
  }
  return deleted;
}
