/**
 * The pending-refresh machinery on the test database (TimescaleDB Apache edition, where the
 * rollups are views): imports and deletes write nothing to it and the drain sends no query, and
 * on a real server two drains never claim the same row.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import type { Sql } from "../src/db/client.ts";
import {
  claimPendingRefreshes,
  drainPendingRefreshes,
  timescaleLicense,
} from "../src/db/timescale.ts";
import { randomRide } from "./analytics_history_fixture.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;

Deno.test.beforeAll(async () => {
  t = await startTestApp();
});

Deno.test.afterAll(async () => {
  await t?.close();
});

const pendingCount = async () =>
  (await t.sql<{ n: number }[]>`select count(*)::int as n from aggregate_refresh_pending`)[0].n;

Deno.test("on the Apache edition an import and a delete answer as before and owe no refresh", async () => {
  assert.equal(await timescaleLicense(t.sql), "apache");
  const rider = await registerRider(t);
  const start = Date.parse("2026-05-04T06:00:00Z");
  const res = await t.request("POST", "/api/workouts/import", {
    token: rider.accessToken,
    body: { samples: randomRide(start, 600, 11) },
  });
  assert.equal(res.status, 201);
  const { workout } = await res.json();
  const totals = async () => {
    const answer = await t.request(
      "GET",
      "/api/analytics/totals?period=month&from=2026-05-01&to=2026-05-31",
      { token: rider.accessToken },
    );
    assert.equal(answer.status, 200);
    return (await answer.json()).totals[0].rides;
  };
  assert.equal(await totals(), 1);
  assert.equal(await pendingCount(), 0);

  const deleted = await t.request("DELETE", `/api/workouts/${workout.id}`, {
    token: rider.accessToken,
  });
  assert.equal(deleted.status, 200);
  assert.deepEqual(await deleted.json(), { success: true });
  assert.equal(await totals(), 0);
  assert.equal(await pendingCount(), 0);
});

Deno.test("on the Apache edition a drain pass sends no query after the first look-up", async () => {
  const queries: string[] = [];
  const sql = postgres(Deno.env.get("DATABASE_URL")!, {
    max: 1,
    transform: postgres.camel,
    onnotice: () => {},
    debug: (_connection, query) => queries.push(query),
  }) as unknown as Sql;
  try {
    assert.deepEqual(await drainPendingRefreshes(sql), { claimed: 0, refreshed: 0, failed: 0 });
    // The edition (cached per pool), after postgres.js's own type look-up on connecting.
    assert.deepEqual(queries.filter((q) => !q.includes("pg_catalog.pg_type")).length, 1);
    assert.match(queries[queries.length - 1], /timescaledb\.license/);
    const before = queries.length;
    for (let i = 0; i < 5; i++) await drainPendingRefreshes(sql);
    assert.equal(queries.length, before);
  } finally {
    await sql.end({ timeout: 1 });
  }
});

Deno.test("two drains claim disjoint rows, and a claimed row returns when its lease ends", async () => {
  await t.sql`delete from aggregate_refresh_pending`;
  await t.sql`
    insert into aggregate_refresh_pending (aggregate, window_start, window_end)
    select 'telemetry_1m', t, t + interval '1 minute'
    from generate_series(timestamptz '2026-05-01', timestamptz '2026-05-01' + interval '59 minutes',
      interval '1 minute') as t
  `;
  const other = postgres(Deno.env.get("DATABASE_URL")!, {
    max: 2,
    transform: postgres.camel,
  }) as unknown as Sql;
  try {
    const [a, b] = await Promise.all([
      claimPendingRefreshes(t.sql, { limit: 40, leaseMs: 60_000 }),
      claimPendingRefreshes(other, { limit: 40, leaseMs: 60_000 }),
    ]);
    const ids = [...a, ...b].map((row) => row.id);
    assert.equal(new Set(ids).size, ids.length, "a row was claimed twice");
    assert.equal(ids.length, 60);
    assert.equal((await claimPendingRefreshes(other)).length, 0);

    await t.sql`update aggregate_refresh_pending set due_at = now() - interval '1 second'
      where id = ${a[0].id}`;
    const again = await claimPendingRefreshes(other);
    assert.deepEqual(again.map((row) => row.id), [a[0].id]);
    assert.equal(again[0].aggregate, "telemetry_1m");
    assert.ok(again[0].windowStart instanceof Date);
  } finally {
    await other.end({ timeout: 1 });
    await t.sql`delete from aggregate_refresh_pending`;
  }
});
