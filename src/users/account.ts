import { refreshAggregates } from "../db/timescale.ts";
import type { Logger } from "../core/log.ts";
import type { Sql } from "../db/client.ts";
import type { WorkoutLive } from "../live/workout_live.ts";
import type { StreamStore } from "../streams/store.ts";
import { deleteUserRows, timeSpan } from "./queries.ts";

/** What deleting an account uses. */
export type AccountDeps = {
  sql: Sql;
  log: Logger;
  /** The revocation feed (src/auth/revocations.ts); only account revocations are sent. */
  revocations: { publish(r: { kind: "user"; id: string }): Promise<void> };
  workoutLive: WorkoutLive;
  streams: StreamStore;
};

/** What deleting an account removed. */
export type AccountDeletion = { workouts: number; streams: number };

/**
 * Deletes a rider's account: every database row they own in one transaction (after which their
 * access tokens, refresh tokens and API keys stop working), then the rollups over their rides are
 * refreshed, and their live state in Redis is removed: the live samples of their active workouts
 * and the legacy /api/streams streams they own (viewers get `stream_deleted`).
 *
 * The database is the source of truth, so it goes first. A Redis failure after the commit is
 * logged, not reported: the idle sweeper drops live keys whose workout is gone, and orphaned
 * streams expire with their TTL. Answers undefined when there was no such rider.
 */
export async function deleteAccount(
  deps: AccountDeps,
  userId: string,
): Promise<AccountDeletion | undefined> {
  const workouts = await deleteUserRows(deps.sql, userId);
  // After the commit, every instance refuses the account's tokens and cached keys. Also when
  // there was no such rider: a retry after a failed publish publishes again.
  const published = deps.revocations.publish({ kind: "user", id: userId });
  if (!workouts) {
    await published;
    return undefined;
  }
  // Should the publish fail (503), the live cleanup below still runs first.
  published.catch(() => {});

  const archived = workouts.filter((w) => w.status === "completed");
  if (archived.length > 0) {
    // On the licensed edition one refresh over the whole span: a transaction's deletions are
    // logged as one invalidated range per hypertable anyway.
    await refreshAggregates(deps.sql, timeSpan(archived)).catch((err) =>
      deps.log.warn("aggregate refresh after account deletion failed", { err: String(err) })
    );
  }

  const active = workouts.filter((w) => w.status === "active").map((w) => w.id);
  await Promise.all(active.map((id) => deps.workoutLive.remove(id))).catch((err) =>
    deps.log.warn("could not delete live keys of a deleted account", { err: String(err) })
  );
  const streams = await removeOwnedStreams(deps, userId).catch((err) => {
    deps.log.warn("could not delete the streams of a deleted account", { err: String(err) });
    return 0;
  });
  await published;
  return { workouts: workouts.length, streams };
}

/** Deletes every legacy stream the rider owns; answers how many. */
async function removeOwnedStreams(deps: AccountDeps, userId: string): Promise<number> {
  const owner = `user:${userId}`;
  const names = (await deps.streams.list()).map((stream) => stream.name);
  const metas = await Promise.all(names.map((name) => deps.streams.meta(name)));
  const owned = names.filter((_, i) => metas[i]?.owner === owner);
  await Promise.all(owned.map((name) => deps.streams.remove(name)));
  return owned.length;
}
