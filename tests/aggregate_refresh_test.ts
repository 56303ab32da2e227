/**
 * Continuous-aggregate refreshes that collide (TimescaleDB >= 2.26.3/2.27 fails a refresh that
 * overlaps a running one with SQLSTATE 55P03 instead of waiting) on the Timescale License edition:
 * the real app, its migrations and query functions run on PGlite's licensed TimescaleDB build (as
 * tests/schema_licensed_test.ts does) with the test Redis. PGlite has one session and 2.23 still
 * waits, so the collision is injected under the SQL client: chosen `call
 * refresh_continuous_aggregate` statements throw the error postgres.js raises for the real one.
 *
 * Every ride is imported below the rollups' materialization watermark (a later ride is archived
 * and refreshed first), where real-time aggregation does not show raw rows: a ride is in an
 * analytics answer only once its window has been refreshed.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { PGlite, timescaledb } from "./deps/pglite.ts";
import { createApp } from "../src/app.ts";
import type { Sql } from "../src/db/client.ts";
import { readMigrations, splitStatements } from "../src/db/migrate.ts";
import {
  drainPendingRefreshes,
  refreshAggregates,
  startRefreshDrain,
  timescaleLicense,
} from "../src/db/timescale.ts";
import type { Deps } from "../src/http/deps.ts";
import { createDeps } from "../src/wiring.ts";
import { createLogger } from "../src/core/log.ts";
import { randomRide } from "./analytics_history_fixture.ts";
import { pgliteSql } from "./pglite_sql.ts";
import { testConfig, testTokens, uniqueEmail } from "./support.ts";

const aggregateNames = [
  "telemetry_10s",
  "telemetry_1m",
  "workout_efforts_daily",
  "workout_totals_15m",
];

/** The error TimescaleDB (tsl/src/continuous_aggs/refresh.c) raises, as postgres.js hands it on. */
function concurrentRefreshError(name: string): Error {
  const PostgresError = postgres.PostgresError as unknown as new (
    fields: Record<string, string>,
  ) => Error;
  return new PostgresError({
    severity: "ERROR",
    code: "55P03",
    message: `could not refresh continuous aggregate "${name}" due to a concurrent refresh`,
    detail: "A concurrent refresh on window [2026-03-02 00:00:00+00, 2026-03-03 00:00:00+00) " +
      "is already in progress.",
  });
}

/** Which refreshes fail: answers the error to throw for this call of `name`, or nothing. */
let fault: (name: string, call: number) => Error | undefined = () => undefined;
/** Every refresh statement sent, in order: the aggregate and whether it was let through. */
let refreshCalls: { name: string; ok: boolean }[] = [];
/** Queries (by a piece of their text) that fail as if the connection had dropped. */
let brokenQuery: string | undefined;
/**
 * The 2.27+ rule, simulated: a refresh registers its window for as long as it runs (here made to
 * last `holdMs` more), and one whose window overlaps a registered one of the same aggregate fails.
 */
let overlapRule: { holdMs: number; collisions: number } | undefined;
const running: { name: string; start: number; end: number }[] = [];

let db: PGlite;
let sql: Sql;
let deps: Deps;
let app: ReturnType<typeof createApp>;
let token: string;
const warnings: string[] = [];

Deno.test.beforeAll(async () => {
  db = await PGlite.create({ extensions: { timescaledb } });
  for (const file of await readMigrations(new URL("../sql/", import.meta.url))) {
    if (file.transactional) await db.transaction((tx) => tx.exec(file.sql));
    else for (const statement of splitStatements(file.sql)) await db.exec(statement);
  }
  const faulty: Pick<PGlite, "query"> = {
    query: (async (text: string, params?: unknown[]) => {
      if (brokenQuery && text.includes(brokenQuery)) {
        throw Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), {
          code: "CONNECTION_CLOSED",
        });
      }
      if (text.includes("refresh_continuous_aggregate")) {
        const name = String(params?.[0]);
        const call = refreshCalls.filter((c) => c.name === name).length + 1;
        const error = fault(name, call);
        refreshCalls.push({ name, ok: !error });
        if (error) throw error;
        if (overlapRule) {
          const rule = overlapRule;
          const start = (params?.[1] as Date).getTime();
          const end = (params?.[2] as Date).getTime();
          if (running.some((r) => r.name === name && r.start < end && start < r.end)) {
            rule.collisions++;
            refreshCalls[refreshCalls.length - 1].ok = false;
            throw concurrentRefreshError(name);
          }
          const entry = { name, start, end };
          running.push(entry);
          try {
            await new Promise((resolve) => setTimeout(resolve, rule.holdMs));
            return await db.query(text, params);
          } finally {
            running.splice(running.indexOf(entry), 1);
          }
        }
      }
      return await db.query(text, params);
    }) as PGlite["query"],
  };
  sql = pgliteSql(faulty, { root: db });
  const config = testConfig();
  const log = createLogger("warn", (line) => warnings.push(line));
  deps = createDeps(config, { sql, tokens: await testTokens(config), log, redisRetries: 0 });
  app = createApp(deps);
  const res = await request("POST", "/api/auth/register", {
    email: uniqueEmail("collide"),
    password: "a long enough password",
  });
  assert.equal(res.status, 201);
  token = (await res.json()).accessToken;
  // A later ride, refreshed: every rollup's watermark is past the rides imported below.
  const later = await request("POST", "/api/workouts/import", {
    samples: randomRide(Date.parse("2026-03-20T08:00:00Z"), 600, 1),
  });
  assert.equal(later.status, 201);
  await later.body?.cancel();
  assert.deepEqual(await pendingRows(), []);
});

Deno.test.afterAll(async () => {
  deps?.hub.close();
  deps?.live.close();
  deps?.passwords.close();
  await db?.close();
});

function request(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  return Promise.resolve(app.request(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  }));
}

async function json(path: string) {
  const res = await request("GET", path);
  assert.equal(res.status, 200, path);
  return await res.json();
}

/** The rides of March 2026 as three analytics answers see them (totals, bests, a chart). */
async function marchView(workoutId?: string) {
  const totals = await json("/api/analytics/totals?period=month&from=2026-03-01&to=2026-03-31");
  const bests = await json("/api/analytics/bests?duration=60&bucket=day&from=2026-03-01");
  const chart = workoutId
    ? await json(`/api/workouts/${workoutId}/telemetry?resolution=1m&fields=power`)
    : undefined;
  return {
    rides: totals.totals[0].rides as number,
    bestDays: (bests.bests as { bucket: string }[]).map((b) => b.bucket.slice(0, 10)),
    minutes: chart ? (chart.time as unknown[]).length : undefined,
  };
}

async function pendingRows() {
  const { rows } = await db.query<
    { aggregate: string; attempts: number; lastError: string | null; dueInMs: number }
  >(
    `select aggregate, attempts, last_error as "lastError",
       (extract(epoch from due_at - clock_timestamp()) * 1000)::float8 as "dueInMs"
     from aggregate_refresh_pending order by aggregate, id`,
  );
  return rows;
}

async function importRide(start: string, seed: number): Promise<string> {
  const res = await request("POST", "/api/workouts/import", {
    samples: randomRide(Date.parse(start), 600, seed),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()).workout.id;
}

function reset(next: typeof fault = () => undefined) {
  fault = next;
  refreshCalls = [];
  warnings.length = 0;
}

const countCalls = () =>
  Object.fromEntries(
    aggregateNames.map((name) => [name, refreshCalls.filter((c) => c.name === name).length]),
  );

Deno.test("the rides below are imported on the licensed edition, below the watermark", async () => {
  assert.equal(await timescaleLicense(sql), "timescale");
  assert.deepEqual(await marchView(), { rides: 1, bestDays: ["2026-03-20"], minutes: undefined });
});

Deno.test("an import whose refresh collides twice answers 201 with the ride in every answer", async () => {
  // Only the daily bests collide: the other rollups must not wait for them or be skipped.
  reset((name, call) =>
    name === "workout_efforts_daily" && call <= 2 ? concurrentRefreshError(name) : undefined
  );
  const id = await importRide("2026-03-02T12:00:00Z", 2);
  assert.deepEqual(countCalls(), {
    telemetry_10s: 1,
    telemetry_1m: 1,
    workout_efforts_daily: 3,
    workout_totals_15m: 1,
  });
  assert.deepEqual(await marchView(id), {
    rides: 2,
    bestDays: ["2026-03-02", "2026-03-20"],
    minutes: 9,
  });
  assert.deepEqual(await pendingRows(), []);
  assert.deepEqual(warnings, []);
});

Deno.test("when every refresh collides the import answers 201, stays recorded, and the drain shows it", async () => {
  reset((name) => concurrentRefreshError(name));
  const started = performance.now();
  const id = await importRide("2026-03-03T09:00:00Z", 3);
  const requestMs = performance.now() - started;
  // Four tries each (the retries wait 50-150, 150-450 and 450-1350 ms), then left to the drain.
  assert.deepEqual(countCalls(), {
    telemetry_10s: 4,
    telemetry_1m: 4,
    workout_efforts_daily: 4,
    workout_totals_15m: 4,
  });
  assert.ok(requestMs >= 650, `the request retried for ${requestMs} ms`);
  const pending = await pendingRows();
  assert.deepEqual(pending.map((row) => [row.aggregate, row.attempts]), [
    ["telemetry_10s", 4],
    ["telemetry_1m", 4],
    ["workout_efforts_daily", 4],
    ["workout_totals_15m", 4],
  ]);
  for (const row of pending) {
    assert.match(row.lastError ?? "", /due to a concurrent refresh/);
    assert.ok(row.dueInMs <= 0, "a collision is due again at once");
  }
  assert.equal(warnings.length, 4);
  // Not refreshed, below the watermark: the analytics do not see it yet (the reported bug).
  assert.deepEqual(await marchView(id), {
    rides: 2,
    bestDays: ["2026-03-02", "2026-03-20"],
    minutes: 0,
  });

  // Still colliding: the drain tries each aggregate once per pass and keeps the rows.
  assert.deepEqual(await drainPendingRefreshes(sql), { claimed: 4, refreshed: 0, failed: 4 });
  assert.deepEqual((await pendingRows()).map((row) => row.attempts), [5, 5, 5, 5]);

  reset();
  assert.deepEqual(await drainPendingRefreshes(sql), { claimed: 4, refreshed: 4, failed: 0 });
  assert.deepEqual(await marchView(id), {
    rides: 3,
    bestDays: ["2026-03-02", "2026-03-03", "2026-03-20"],
    minutes: 9,
  });
  assert.deepEqual(await pendingRows(), []);
});

Deno.test("a DELETE answers 200 when every refresh collides, and the drain takes the ride out", async () => {
  const id = await importRide("2026-03-04T07:00:00Z", 4);
  assert.deepEqual((await marchView()).rides, 4);
  reset((name) => concurrentRefreshError(name));
  const res = await request("DELETE", `/api/workouts/${id}`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { success: true });
  assert.equal((await pendingRows()).length, 4);
  // Materialized and not refreshed: the deleted ride is still counted.
  assert.equal((await marchView()).rides, 4);

  reset();
  assert.deepEqual(await drainPendingRefreshes(sql), { claimed: 4, refreshed: 4, failed: 0 });
  assert.deepEqual(await marchView(), {
    rides: 3,
    bestDays: ["2026-03-02", "2026-03-03", "2026-03-20"],
    minutes: undefined,
  });
  assert.deepEqual(await pendingRows(), []);
});

Deno.test("the drain loop shows a ride as soon as the collisions stop", async () => {
  let colliding = true;
  reset((name) => colliding ? concurrentRefreshError(name) : undefined);
  const drain = startRefreshDrain(sql, { log: createLogger("silent"), intervalMs: 100 });
  try {
    const id = await importRide("2026-03-05T18:00:00Z", 5);
    assert.equal((await marchView()).rides, 3);
    assert.equal((await pendingRows()).length, 4);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the loop keeps colliding
    assert.equal((await pendingRows()).length, 4);
    colliding = false;
    const lifted = performance.now();
    while ((await pendingRows()).length > 0) {
      assert.ok(performance.now() - lifted < 10_000, "the drain loop never caught up");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(await marchView(id), {
      rides: 4,
      bestDays: ["2026-03-02", "2026-03-03", "2026-03-05", "2026-03-20"],
      minutes: 9,
    });
  } finally {
    await drain.stop();
  }
});

Deno.test("a refresh error that is not a collision is not retried by the request and backs off", async () => {
  reset((name) =>
    name === "workout_totals_15m"
      ? Object.assign(new Error(`must be owner of view ${name}`), { code: "42501" })
      : undefined
  );
  const id = await importRide("2026-03-06T06:00:00Z", 6);
  assert.deepEqual(countCalls(), {
    telemetry_10s: 1,
    telemetry_1m: 1,
    workout_efforts_daily: 1,
    workout_totals_15m: 1,
  });
  const [row] = await pendingRows();
  assert.equal(row.aggregate, "workout_totals_15m");
  assert.equal(row.attempts, 1);
  assert.ok(row.dueInMs > 1000, `due again in ${row.dueInMs} ms`);
  assert.deepEqual(await drainPendingRefreshes(sql), { claimed: 0, refreshed: 0, failed: 0 });
  // The rollups that could refresh did: the chart and the bests show the ride, totals not yet.
  const view = await marchView(id);
  assert.equal(view.minutes, 9);
  assert.ok(view.bestDays.includes("2026-03-06"));
  assert.equal(view.rides, 4);

  reset();
  await db.query("update aggregate_refresh_pending set due_at = now()");
  assert.deepEqual(await drainPendingRefreshes(sql), { claimed: 1, refreshed: 1, failed: 0 });
  assert.equal((await marchView()).rides, 5);
});

Deno.test("rows committed with the ride survive a failed after-commit step and drain after the lease", async () => {
  reset();
  brokenQuery = "where workout_id ="; // the request cannot even read its pending rows
  let id: string;
  try {
    id = await importRide("2026-03-07T10:00:00Z", 7);
  } finally {
    brokenQuery = undefined;
  }
  assert.deepEqual(countCalls(), {
    telemetry_10s: 0,
    telemetry_1m: 0,
    workout_efforts_daily: 0,
    workout_totals_15m: 0,
  });
  const pending = await pendingRows();
  assert.equal(pending.length, 4);
  // Left to the writer for 3 s (a crash would leave them so): the drain waits that long.
  for (const row of pending) assert.ok(row.dueInMs > 1000 && row.dueInMs <= 3000);
  assert.deepEqual(await drainPendingRefreshes(sql), { claimed: 0, refreshed: 0, failed: 0 });
  await new Promise((resolve) => setTimeout(resolve, Math.max(...pending.map((r) => r.dueInMs))));
  assert.deepEqual(await drainPendingRefreshes(sql), { claimed: 4, refreshed: 4, failed: 0 });
  const view = await marchView(id);
  assert.equal(view.rides, 6);
  assert.equal(view.minutes, 9);
});

Deno.test("the drain merges overlapping windows of one aggregate into one refresh", async () => {
  reset((name) => concurrentRefreshError(name));
  const ids = await Promise.all([
    importRide("2026-03-08T10:00:00Z", 8),
    importRide("2026-03-08T10:05:00Z", 9),
    importRide("2026-03-08T16:00:00Z", 10),
  ]);
  assert.equal((await pendingRows()).length, 12);
  reset();
  assert.deepEqual(await drainPendingRefreshes(sql), { claimed: 12, refreshed: 4, failed: 0 });
  // Same day: one daily window; 10:00 and 10:05 share the 15-minute bucket, 16:00 does not; the
  // telemetry windows of the first two overlap.
  assert.deepEqual(countCalls(), {
    telemetry_10s: 2,
    telemetry_1m: 2,
    workout_efforts_daily: 1,
    workout_totals_15m: 2,
  });
  const view = await marchView(ids[1]);
  assert.equal(view.rides, 9);
  assert.equal(view.minutes, 9);
});

Deno.test("refreshAggregates refreshes every aggregate even when one keeps failing", async () => {
  reset((name) => name === "telemetry_10s" ? concurrentRefreshError(name) : undefined);
  const window = { from: new Date("2026-03-02T12:00:00Z"), to: new Date("2026-03-02T12:10:00Z") };
  await assert.rejects(() => refreshAggregates(sql, window), AggregateError);
  assert.deepEqual(countCalls(), {
    telemetry_10s: 4,
    telemetry_1m: 1,
    workout_efforts_daily: 1,
    workout_totals_15m: 1,
  });
  // What failed is left to the drain.
  assert.deepEqual((await pendingRows()).map((row) => row.aggregate), ["telemetry_10s"]);
  reset();
  assert.deepEqual(await drainPendingRefreshes(sql), { claimed: 1, refreshed: 1, failed: 0 });
});

Deno.test("six imports of one day at once collide under the 2.27 rule and all show, at once or after one drain pass", async () => {
  reset();
  overlapRule = { holdMs: 40, collisions: 0 };
  const before = (await marchView()).rides;
  let visibleAtAnswer = 0;
  try {
    const started = performance.now();
    const answered = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => {
      const id = await importRide(
        `2026-03-09T${String(6 + 2 * i).padStart(2, "0")}:00:00Z`,
        20 + i,
      );
      const ms = performance.now() - started;
      // Its own chart at the moment its request answered.
      if ((await marchView(id)).minutes === 9) visibleAtAnswer++;
      return ms;
    }));
    const atOnce = (await marchView()).rides - before;
    const left = (await pendingRows()).length;
    console.log(
      `six concurrent imports: ${overlapRule.collisions} of ${refreshCalls.length} refreshes ` +
        `collided; when all had answered ${visibleAtAnswer}/6 own charts and ${atOnce}/6 rides ` +
        `in totals, ${left} windows left to the drain; slowest answer ` +
        `${Math.round(Math.max(...answered))} ms`,
    );
    assert.ok(overlapRule.collisions > 0, "the imports did not collide: the test proves nothing");
    // Four tries each usually suffice; on a loaded machine one may be left to the drain's pass.
    await drainPendingRefreshes(sql);
    const view = await marchView();
    assert.equal(view.rides, before + 6);
    assert.ok(view.bestDays.includes("2026-03-09"));
    assert.deepEqual(await pendingRows(), []);
  } finally {
    overlapRule = undefined;
  }
});
