import type { Logger } from "../core/log.ts";
import { metrics } from "../core/metrics.ts";
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

/** The installed TimescaleDB version (null without the extension) and licence setting. */
export async function timescaleVersion(
  sql: Sql,
): Promise<{ version: string | null; license: string | null }> {
  const [row] = await sql<{ version: string | null; license: string | null }[]>`
    select
      (select extversion from pg_extension where extname = 'timescaledb') as version,
      current_setting('timescaledb.license', true) as license
  `;
  return row;
}

/** The table a rollup reads: telemetry by sample time, efforts and totals by the ride's start. */
export type AggregateSource = "telemetry" | "workout_efforts" | "workout_totals";

/** The rollups of sql/0007 and sql/0011: bucket widths in milliseconds and source tables. */
const aggregates: ReadonlyMap<string, { width: number; source: AggregateSource }> = new Map(
  [
    ["telemetry_10s", { width: 10_000, source: "telemetry" }],
    ["telemetry_1m", { width: 60_000, source: "telemetry" }],
    ["workout_efforts_daily", { width: 86_400_000, source: "workout_efforts" }],
    ["workout_totals_15m", { width: 900_000, source: "workout_totals" }],
  ] as const,
);

/**
 * After a transient failure, how long the request waits before trying again (times a random
 * 0.5-1.5, so colliding requests do not retry in step): 4 attempts within about 1.3 s, after
 * which the drain loop takes over.
 */
const retryDelaysMs = [100, 300, 900];
/** How long a freshly written row is left to its writer before the drain may take it. */
const writerLeaseMs = 3_000;
/** How long a drain's claim keeps other instances off the rows it is refreshing. */
const drainLeaseMs = 30_000;
/** Rows one drain pass claims at most. */
const drainBatch = 200;

/** Per pool: which of the rollups are continuous aggregates (none on the Apache edition). */
const continuousAggregates = new WeakMap<Sql, Promise<string[]>>();

/** The rollups that are continuous aggregates here, looked up once per pool (none on Apache). */
export function listContinuousAggregates(sql: Sql): Promise<string[]> {
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
      return [...aggregates.keys()].filter((name) => names.has(name));
    })();
    // A failed look-up (database down) is retried by the next call instead of being cached.
    found.catch(() => continuousAggregates.delete(sql));
    continuousAggregates.set(sql, found);
  }
  return found;
}

type Window = { start: Date; end: Date };

function checkedSpan(window: { from: Date; to: Date }): { from: number; to: number } {
  const from = window.from.getTime();
  const to = window.to.getTime();
  if (!Number.isFinite(from) || !Number.isFinite(to) || from > to) {
    throw new RangeError("Refresh window must be two valid dates with from <= to");
  }
  return { from, to };
}

/** [from, to] widened to whole buckets of the aggregate: [start, end). */
function bucketWindow(name: string, from: number, to: number): Window {
  const width = aggregates.get(name)!.width;
  // Buckets start at multiples of their width from the Unix epoch (UTC), as time_bucket's
  // default origin (2000-01-03) is a whole number of days after it.
  return {
    start: new Date(Math.floor(from / width) * width),
    end: new Date((Math.floor(to / width) + 1) * width),
  };
}

async function refreshOnce(sql: Sql, name: string, window: Window): Promise<void> {
  await sql`
    call refresh_continuous_aggregate(${name}::regclass, ${window.start}::timestamptz, ${window.end}::timestamptz)
  `;
}

const transientCodes = new Set([
  "55P03", // lock_not_available: "could not refresh continuous aggregate ... due to a concurrent refresh"
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  // postgres.js and socket errors: the connection went away
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
]);

/**
 * Whether a failed refresh may succeed when simply tried again soon: a concurrent refresh of an
 * overlapping window (SQLSTATE 55P03 since TimescaleDB 2.26.3/2.27, where it fails instead of
 * waiting), a catalog race ("tuple concurrently updated"), a serialization failure or deadlock, or
 * a dropped connection.
 */
export function isTransientRefreshError(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === "string" && (transientCodes.has(code) || code.startsWith("08"))) return true;
  return typeof message === "string" &&
    /due to a concurrent refresh|tuple concurrently updated/i.test(message);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function countRefresh(outcome: "ok" | "failed", tries: number): void {
  metrics.aggregateRefreshes.inc({ outcome });
  if (tries > 1) metrics.aggregateRefreshRetries.inc(tries - 1);
}

/** Refreshes one window, trying again after each delay while the failure is transient. */
async function refreshWithRetry(
  sql: Sql,
  name: string,
  window: Window,
  delaysMs: readonly number[],
): Promise<{ tries: number; error?: unknown }> {
  for (let tries = 1;; tries++) {
    try {
      await refreshOnce(sql, name, window);
      countRefresh("ok", tries);
      return { tries };
    } catch (error) {
      if (tries > delaysMs.length || !isTransientRefreshError(error)) {
        countRefresh("failed", tries);
        return { tries, error };
      }
      await sleep(delaysMs[tries - 1] * (0.5 + Math.random()));
    }
  }
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.slice(0, 1000);
}

/**
 * Records, inside the transaction `tx` of a write that changed a ride's rollup rows, the windows
 * each continuous aggregate must refresh once it commits (see sql/0012). `sql` is the pool, for
 * the cached look-up; on the Apache edition nothing is written. `from` is the ride's start (where
 * its efforts and totals are keyed), `to` its end; `sources` limits it to the tables written.
 * The rows are left to the writer for a few seconds, then the drain takes whatever remains.
 */
export async function recordPendingRefresh(
  sql: Sql,
  tx: Sql,
  change: {
    workoutId: string;
    from: Date;
    to: Date;
    sources?: readonly AggregateSource[];
  },
): Promise<void> {
  const { from, to } = checkedSpan(change);
  const names = (await listContinuousAggregates(sql)).filter((name) =>
    !change.sources || change.sources.includes(aggregates.get(name)!.source)
  );
  if (names.length === 0) return;
  const windows = names.map((name) =>
    aggregates.get(name)!.source === "telemetry"
      ? bucketWindow(name, from, to)
      : bucketWindow(name, from, from)
  );
  await tx`
    insert into aggregate_refresh_pending (workout_id, aggregate, window_start, window_end, due_at)
    select ${change.workoutId}::uuid, w.aggregate, to_timestamp(w.start_ms / 1000.0),
      to_timestamp(w.end_ms / 1000.0), clock_timestamp() + make_interval(secs => ${
    writerLeaseMs / 1000
  })
    from unnest(
      ${names}::text[],
      ${windows.map((w) => w.start.getTime())}::float8[],
      ${windows.map((w) => w.end.getTime())}::float8[]
    ) as w(aggregate, start_ms, end_ms)
  `;
}

/** A row of aggregate_refresh_pending as the refresh code reads it. */
export type PendingRefresh = {
  id: string;
  aggregate: string;
  windowStart: Date;
  windowEnd: Date;
  attempts: number;
};

/** Overlapping or touching windows of one aggregate, merged, each with the rows it covers. */
function mergeWindows(rows: readonly PendingRefresh[]): { window: Window; ids: string[] }[] {
  const sorted = [...rows].sort((a, b) => a.windowStart.getTime() - b.windowStart.getTime());
  const merged: { window: Window; ids: string[] }[] = [];
  for (const row of sorted) {
    const last = merged[merged.length - 1];
    if (last && row.windowStart.getTime() <= last.window.end.getTime()) {
      if (row.windowEnd > last.window.end) last.window.end = row.windowEnd;
      last.ids.push(row.id);
    } else {
      merged.push({ window: { start: row.windowStart, end: row.windowEnd }, ids: [row.id] });
    }
  }
  return merged;
}

/** What refreshing some pending rows did: the aggregates refreshed, and the failures. */
export type RefreshOutcome = {
  refreshed: string[];
  failed: { aggregate: string; tries: number; error: unknown }[];
};

/**
 * Refreshes the rows' windows (each aggregate independently, in parallel), deletes the rows a
 * successful refresh covered and records the failure on the others: due again at once after a
 * transient failure, else after a back-off of 2^attempts seconds (at most 5 minutes).
 */
async function refreshRows(
  sql: Sql,
  rows: readonly PendingRefresh[],
  options: { names: readonly string[]; delaysMs: readonly number[] },
): Promise<RefreshOutcome> {
  const outcome: RefreshOutcome = { refreshed: [], failed: [] };
  const unknown = rows.filter((row) => !options.names.includes(row.aggregate)).map((r) => r.id);
  if (unknown.length > 0) {
    // Not a continuous aggregate (any more): nothing to refresh.
    await sql`delete from aggregate_refresh_pending where id = any(${unknown}::bigint[])`;
  }
  await Promise.all(options.names.map(async (name) => {
    const mine = rows.filter((row) => row.aggregate === name);
    if (mine.length === 0) return;
    const done: string[] = [];
    const failed: string[] = [];
    let failure: { tries: number; error: unknown } | undefined;
    for (const { window, ids } of mergeWindows(mine)) {
      const result = await refreshWithRetry(sql, name, window, options.delaysMs);
      if (result.error === undefined) {
        done.push(...ids);
      } else {
        failed.push(...ids);
        failure = { tries: Math.max(result.tries, failure?.tries ?? 0), error: result.error };
      }
    }
    if (done.length > 0) {
      await sql`delete from aggregate_refresh_pending where id = any(${done}::bigint[])`;
    }
    if (!failure) {
      outcome.refreshed.push(name);
      return;
    }
    outcome.failed.push({ aggregate: name, ...failure });
    const backoff = !isTransientRefreshError(failure.error);
    await sql`
      update aggregate_refresh_pending set
        attempts = attempts + ${failure.tries},
        last_error = ${errorText(failure.error)},
        due_at = now() + case when ${backoff}::boolean
          then make_interval(secs => least(power(2, attempts + ${failure.tries}), 300))
          else interval '0 seconds' end
      where id = any(${failed}::bigint[])
    `;
  }));
  return outcome;
}

/**
 * After a write's commit: refreshes the windows it recorded (recordPendingRefresh) for the
 * workout, each aggregate independently with a short retry on a concurrent refresh or a
 * connection blip, and deletes the rows that were covered. Never throws: a request must not fail
 * after its commit, and what could not be refreshed stays recorded for the drain loop. On the
 * Apache edition it does nothing (after the first, cached look-up).
 */
export async function refreshAfterCommit(
  sql: Sql,
  workoutId: string,
  options: { log?: Logger } = {},
): Promise<RefreshOutcome> {
  try {
    const names = await listContinuousAggregates(sql);
    if (names.length === 0) return { refreshed: [], failed: [] };
    const rows = await sql<PendingRefresh[]>`
      select id::text as id, aggregate, window_start, window_end, attempts
      from aggregate_refresh_pending
      where workout_id = ${workoutId}
    `;
    const outcome = await refreshRows(sql, rows, { names, delaysMs: retryDelaysMs });
    for (const { aggregate, tries, error } of outcome.failed) {
      options.log?.warn("aggregate refresh failed; left to the drain", {
        workoutId,
        aggregate,
        tries,
        err: errorText(error),
      });
    }
    return outcome;
  } catch (err) {
    // The refresh rows stay (written with the commit); the drain takes them in a few seconds.
    options.log?.warn("aggregate refresh after commit failed; left to the drain", {
      workoutId,
      err: errorText(err),
    });
    return { refreshed: [], failed: [{ aggregate: "*", tries: 0, error: err }] };
  }
}

/**
 * Refreshes every continuous aggregate over [from, to], widened to whole buckets of each: each
 * aggregate independently, with the same short retry. What still fails is recorded for the drain
 * loop (best effort, outside any transaction) and reported in one AggregateError.
 *
 * Call it after the transaction commits (a refresh cannot run inside a transaction). On the
 * Apache edition the rollups are views and this does nothing after the first, cached look-up.
 */
export async function refreshAggregates(
  sql: Sql,
  window: { from: Date; to: Date },
): Promise<void> {
  const { from, to } = checkedSpan(window);
  const failures: unknown[] = [];
  await Promise.all((await listContinuousAggregates(sql)).map(async (name) => {
    const bucketed = bucketWindow(name, from, to);
    const result = await refreshWithRetry(sql, name, bucketed, retryDelaysMs);
    if (result.error === undefined) return;
    failures.push(result.error);
    await sql`
      insert into aggregate_refresh_pending (aggregate, window_start, window_end, attempts, last_error)
      values (${name}, ${bucketed.start}, ${bucketed.end}, ${result.tries}, ${
      errorText(result.error)
    })
    `.catch(() => {});
  }));
  if (failures.length > 0) {
    throw new AggregateError(failures, "Refreshing the continuous aggregates failed");
  }
}

/**
 * Claims up to `limit` due pending rows for this caller: their due time moves a lease ahead, so
 * another instance's drain skips them (rows being claimed elsewhere are skipped, not waited for).
 */
export async function claimPendingRefreshes(
  sql: Sql,
  options: { limit?: number; leaseMs?: number } = {},
): Promise<PendingRefresh[]> {
  return await sql<PendingRefresh[]>`
    update aggregate_refresh_pending
    set due_at = now() + make_interval(secs => ${(options.leaseMs ?? drainLeaseMs) / 1000})
    where id in (
      select id from aggregate_refresh_pending
      where due_at <= now()
      order by due_at, id
      limit ${options.limit ?? drainBatch}
      for update skip locked
    )
    returning id::text as id, aggregate, window_start, window_end, attempts
  `;
}

/** What one drain pass did. */
export type DrainResult = { claimed: number; refreshed: number; failed: number };

/**
 * One pass of the drain: claims the due pending rows, merges overlapping windows per aggregate and
 * refreshes each once (no retry within the pass: the next pass is the retry). On the Apache
 * edition it runs no query at all (after the first, cached look-up).
 */
export async function drainPendingRefreshes(
  sql: Sql,
  options: { log?: Logger; limit?: number } = {},
): Promise<DrainResult> {
  const names = await listContinuousAggregates(sql);
  if (names.length === 0) return { claimed: 0, refreshed: 0, failed: 0 };
  const rows = await claimPendingRefreshes(sql, { limit: options.limit });
  if (rows.length === 0) return { claimed: 0, refreshed: 0, failed: 0 };
  const outcome = await refreshRows(sql, rows, { names, delaysMs: [] });
  for (const { aggregate, error } of outcome.failed) {
    // A collision (with the hourly policy, say) is retried next pass without a warning each time.
    const level = isTransientRefreshError(error) ? "debug" : "warn";
    options.log?.[level]("pending aggregate refresh failed", { aggregate, err: errorText(error) });
  }
  return {
    claimed: rows.length,
    refreshed: outcome.refreshed.length,
    failed: outcome.failed.length,
  };
}

/** A running drain loop. */
export type RefreshDrain = {
  /** Stops the loop and waits for a pass in progress. */
  stop: () => Promise<void>;
};

/**
 * Starts the drain loop of one instance: a pass right away (rows a crash left behind), then every
 * `intervalMs` (at once again after a full batch). Every instance runs one; claims keep them
 * apart. Failures are logged when they start and when they end, not every second.
 */
export function startRefreshDrain(
  sql: Sql,
  options: { log: Logger; intervalMs?: number },
): RefreshDrain {
  const intervalMs = options.intervalMs ?? 1000;
  let stopped = false;
  let failing = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pass: Promise<void> | undefined;
  const run = async () => {
    let again = intervalMs;
    try {
      const result = await drainPendingRefreshes(sql, { log: options.log });
      metrics.drainPasses.inc({ outcome: result.failed > 0 ? "failed" : "ok" });
      if (result.claimed > 0) metrics.drainClaimed.inc(result.claimed);
      if (result.claimed >= drainBatch) again = 0;
      if (failing) options.log.info("pending aggregate refreshes drain again");
      failing = false;
    } catch (err) {
      metrics.drainPasses.inc({ outcome: "failed" });
      if (!failing) {
        options.log.warn("draining pending aggregate refreshes failed", { err: errorText(err) });
      }
      failing = true;
    }
    if (!stopped) timer = setTimeout(() => pass = run(), again);
  };
  timer = setTimeout(() => pass = run(), 0);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await pass;
    },
  };
}
