/**
 * Retention of raw telemetry (TELEMETRY_RETENTION_DAYS): whole chunks of the `telemetry`
 * hypertable whose time range ended more than that many days ago are dropped with TimescaleDB's
 * `drop_chunks`, which both editions have. Nothing else is touched: workout rows (summary, totals,
 * power curve, zones), `workout_efforts` and `workout_totals` stay, so every analytics answer
 * stays; the raw samples, the 1 s grid, the exports and (on the Apache edition, where they are
 * views over telemetry) the 10 s and 1 min rollups of those rides are gone.
 *
 * The age is the samples' own time, not when the ride was archived: an imported ride older than
 * the retention is dropped at the next run.
 * @module
 */
import type { Sql } from "./client.ts";

/** Arbitrary, fixed key of the advisory lock that keeps instances from dropping at once. */
const lockKey = 7_340_121_018;

/** How often an instance runs the retention at most (it runs from the idle sweeper's tick). */
export const retentionIntervalMs = 3_600_000;

/**
 * Drops the telemetry chunks older than `days` days; returns the names of the chunks dropped
 * (none when another instance is running it at the same moment).
 */
export async function dropExpiredTelemetry(sql: Sql, days: number): Promise<string[]> {
  if (!(days > 0)) return [];
  return await sql.begin(async (tx) => {
    const [lock] = await tx<{ ok: boolean }[]>`select pg_try_advisory_xact_lock(${lockKey}) as ok`;
    if (!lock.ok) return [];
    const rows = await tx<{ chunk: string }[]>`
      select drop_chunks('telemetry', older_than => now() - make_interval(days => ${days}))::text
        as chunk
    `;
    return rows.map((row) => row.chunk);
  });
}
