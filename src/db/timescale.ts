import type { Sql } from "./client.ts";

/** The TimescaleDB edition of a server, from `timescaledb.license`. */
export type TimescaleLicense = "timescale" | "apache" | "unknown";

/** Reads which TimescaleDB edition the database runs (`unknown` when the extension is absent). */
export async function timescaleLicense(sql: Sql): Promise<TimescaleLicense> {
  const [row] = await sql<{ license: string | null }[]>`
    select current_setting('timescaledb.license', true) as license
  `;
  const license = row?.license;
  return license === "timescale" || license === "apache" ? license : "unknown";
}

/** The rollups of sql/0007_aggregates.sql and their bucket widths in milliseconds. */
const aggregateBuckets: ReadonlyMap<string, number> = new Map([
  ["telemetry_10s", 10_000],
  ["telemetry_1m", 60_000],
  ["workout_efforts_daily", 86_400_000],
  ["workout_totals_15m", 900_000],
]);

/** Per pool: which of the rollups are continuous aggregates (none on the Apache edition). */
const continuousAggregates = new WeakMap<Sql, Promise<string[]>>();

function listContinuousAggregates(sql: Sql): Promise<string[]> {
  let found = continuousAggregates.get(sql);
  if (!found) {
    found = (async () => {
      if (await timescaleLicense(sql) !== "timescale") return [];
      const rows = await sql<{ viewName: string }[]>`
        select view_name
        from timescaledb_information.continuous_aggregates
        where view_schema = current_schema()
      `;
      const names = new Set(rows.map((row) => row.viewName));
      return [...aggregateBuckets.keys()].filter((name) => names.has(name));
    })();
    // A failed look-up (database down) is retried by the next call instead of being cached.
    found.catch(() => continuousAggregates.delete(sql));
    continuousAggregates.set(sql, found);
  }
  return found;
}

/**
 * Refreshes the continuous aggregates over [from, to], widened to whole buckets of each.
 *
 * Call it after the archive transaction commits (a refresh cannot run inside a transaction). On
 * the Apache edition the rollups are views and this does nothing after the first, cached look-up.
 */
export async function refreshAggregates(
  sql: Sql,
  window: { from: Date; to: Date },
): Promise<void> {
  const from = window.from.getTime();
  const to = window.to.getTime();
  if (!Number.isFinite(from) || !Number.isFinite(to) || from > to) {
    throw new RangeError("Refresh window must be two valid dates with from <= to");
  }
  for (const name of await listContinuousAggregates(sql)) {
    const width = aggregateBuckets.get(name)!;
    // Buckets start at multiples of their width from the Unix epoch (UTC), as time_bucket's
    // default origin (2000-01-03) is a whole number of days after it.
    const start = new Date(Math.floor(from / width) * width);
    const end = new Date((Math.floor(to / width) + 1) * width);
    await sql`
      call refresh_continuous_aggregate(${name}::regclass, ${start}::timestamptz, ${end}::timestamptz)
    `;
  }
}
