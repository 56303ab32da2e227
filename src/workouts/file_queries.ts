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
    bytes: Uint8Array;
  },
): Promise<boolean> {
  const rows = await sql`
    insert into workout_files (workout_id, user_id, sha256, format, filename, bytes)
    values (
      ${file.workoutId}, ${file.userId}, ${file.sha256}, ${file.format}, ${file.filename},
      ${file.bytes}
    )
    on conflict (user_id, sha256) do nothing
    returning workout_id
  `;
  return rows.length === 1;
}
