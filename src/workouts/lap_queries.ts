import type { LapSummary } from "../analytics/laps.ts";
import type { Sql } from "../db/client.ts";

/** A stored lap: its index, times and exact summary. */
export type LapRow = {
  lapIndex: number;
  startTime: Date;
  endTime: Date;
  summary: Omit<LapSummary, "lapIndex" | "start" | "end">;
};

/** Stores the laps of a workout (in the archive's transaction). */
export async function insertLaps(
  sql: Sql,
  input: { workoutId: string; userId: string; laps: readonly LapSummary[] },
): Promise<void> {
  if (input.laps.length === 0) return;
  const rows = input.laps.map(({ lapIndex, start, end, ...summary }) => ({
    workout_id: input.workoutId,
    user_id: input.userId,
    lap_index: lapIndex,
    start_time: new Date(start),
    end_time: new Date(end),
    summary: sql.json(summary as never),
  }));
  await sql`
    insert into workout_laps ${
    sql(rows, "workout_id", "user_id", "lap_index", "start_time", "end_time", "summary")
  }
  `;
}

/** The laps of one of the rider's workouts, in order; undefined when the rider has no such workout. */
export async function listLaps(
  sql: Sql,
  key: { workoutId: string; userId: string },
): Promise<LapRow[] | undefined> {
  const [owned] = await sql`
    select 1 from workouts where id = ${key.workoutId} and user_id = ${key.userId}
  `;
  if (!owned) return undefined;
  return await sql<LapRow[]>`
    select lap_index, start_time, end_time, summary from workout_laps
    where workout_id = ${key.workoutId} and user_id = ${key.userId}
    order by lap_index
  `;
}
