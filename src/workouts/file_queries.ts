import type { Sql } from "../db/client.ts";
import type { RideFormat } from "../files/ride_file.ts";

/** The workout an earlier upload of the same file (same sha256) by this rider made, if any. */
export async function findUploadedFile(
  sql: Sql,
  key: { userId: string; sha256: Uint8Array },
): Promise<{ workoutId: string; format: RideFormat } | undefined> {
  const [row] = await sql<{ workoutId: string; format: RideFormat }[]>`
    select workout_id, format from workout_files
    where user_id = ${key.userId} and sha256 = ${key.sha256}
  `;
  return row;
}

/**
 * Keeps the original file of an imported workout. Answers false (nothing written) when the rider
 * already has this file (a concurrent upload of the same bytes won).
 */
export async function insertWorkoutFile(
  sql: Sql,
  file: {
    workoutId: string;
    userId: string;
    sha256: Uint8Array;
    format: RideFormat;
    filename: string | null;
    contentType: string | null;
    gzip: boolean;
    bytes: Uint8Array;
  },
): Promise<boolean> {
  const rows = await sql`
    insert into workout_files (
      workout_id, user_id, sha256, format, filename, content_type, gzip, bytes
    )
    values (
      ${file.workoutId}, ${file.userId}, ${file.sha256}, ${file.format}, ${file.filename},
      ${file.contentType}, ${file.gzip}, ${file.bytes}
    )
    on conflict (user_id, sha256) do nothing
    returning workout_id
  `;
  return rows.length === 1;
}

/** The file a workout was imported from, as it was uploaded. */
export type UploadedFile = {
  format: RideFormat;
  filename: string | null;
  contentType: string | null;
  gzip: boolean;
  bytes: Uint8Array;
};

/** The original file of one of the rider's workouts; none for another rider's or a live ride. */
export async function readUploadedFile(
  sql: Sql,
  ids: { workoutId: string; userId: string },
): Promise<UploadedFile | undefined> {
  const [row] = await sql<UploadedFile[]>`
    select format, filename, content_type, gzip, bytes from workout_files
    where workout_id = ${ids.workoutId} and user_id = ${ids.userId}
  `;
  return row && { ...row, bytes: new Uint8Array(row.bytes) };
}

/** How close two rides' starts are to count as one ride uploaded twice (seconds). */
export const duplicateStartS = 60;
/** How close two rides' elapsed times are to count as one ride (fraction of the longer). */
export const duplicateElapsedFraction = 0.02;

/**
 * Inside an import's archive transaction: the id of another completed workout of this rider that
 * is the same ride (start within 60 s, elapsed time within 2 % of the longer), if any. Takes a
 * per-rider advisory lock first, held to commit, so two concurrent imports of one ride check
 * one after the other and the second sees the first (read committed: a fresh snapshot per
 * statement).
 */
export async function findDuplicateRide(
  tx: Sql,
  ride: { workoutId: string; userId: string },
): Promise<string | undefined> {
  await tx`select pg_advisory_xact_lock(hashtextextended('bpt:import:' || ${ride.userId}, 0))`;
  const [row] = await tx<{ id: string }[]>`
    select other.id
    from workouts as this
    join workouts as other
      on other.user_id = this.user_id
      and other.id <> this.id
      and other.status = 'completed'
      and other.start_time between this.start_time - make_interval(secs => ${duplicateStartS}::float8)
        and this.start_time + make_interval(secs => ${duplicateStartS}::float8)
      and abs(other.duration_s - this.duration_s)
        <= ${duplicateElapsedFraction}::float8 * greatest(other.duration_s, this.duration_s)
    where this.id = ${ride.workoutId} and this.user_id = ${ride.userId}
    order by abs(extract(epoch from other.start_time - this.start_time)), other.id
    limit 1
  `;
  return row?.id;
}
