/**
 * The whole curve's SQL (workout_curves, the curve_months trigger, periodCurve) on the Timescale
 * License edition: the same migrations run in-process on PGlite with its TimescaleDB build (as
 * tests/analytics_licensed_test.ts does), checked against a naive element-wise best written here,
 * through inserts, a tie, a delete and another rider's rides.
 */
import { pgliteSql } from "./pglite_sql.ts";
import assert from "node:assert/strict";
import { PGlite, timescaledb } from "./deps/pglite.ts";
import { periodCurve } from "../src/analytics/curve_queries.ts";
import { curveDurations } from "../src/analytics/curve.ts";
import type { Sql } from "../src/db/client.ts";
import { readMigrations, splitStatements } from "../src/db/migrate.ts";
import { timescaleLicense } from "../src/db/timescale.ts";
import { prng } from "./analytics_reference.ts";

let db: PGlite;
let sql: Sql;

type Ride = { id: string; user: string; start: Date; watts: number[] };
const rides: Ride[] = [];
let rider = "";
let stranger = "";

Deno.test.beforeAll(async () => {
  db = await PGlite.create({ extensions: { timescaledb } });
  for (const file of await readMigrations(new URL("../sql/", import.meta.url))) {
    if (file.transactional) await db.transaction((tx) => tx.exec(file.sql));
    else for (const statement of splitStatements(file.sql)) await db.exec(statement);
  }
  sql = pgliteSql(db);
  for (const email of ["curve-licensed@example.com", "curve-stranger@example.com"]) {
    const [user] = await sql<
      { id: string }[]
    >`insert into users (email) values (${email}) returning id`;
    if (!rider) rider = user.id;
    else stranger = user.id;
  }
});

Deno.test.afterAll(async () => {
  await db?.close();
});

/** Inserts a workout and its curve (random, decreasing like a real curve) of `length` points. */
async function addRide(user: string, start: string, length: number, seed: number, copy?: Ride) {
  const random = prng(seed);
  let w = 900;
  const watts = copy?.watts ??
    Array.from({ length }, () => (w = Math.round(w * (1 - random() * 0.01) * 100) / 100));
  const [row] = await sql<{ id: string }[]>`
    insert into workouts (user_id, status, start_time) values (${user}, 'completed', ${start})
    returning id
  `;
  await sql`
    insert into workout_curves (workout_id, user_id, start_time, watts)
    values (${row.id}, ${user}, ${start}, ${watts}::float8[])
  `;
  const ride = { id: row.id, user, start: new Date(start), watts };
  rides.push(ride);
  return ride;
}

/** Per duration index the best watts of the rider's rides in [from, to); ties to the earlier. */
function naive(user: string, from: Date, to: Date) {
  const list = rides
    .filter((r) => r.user === user && r.start >= from && r.start < to)
    .sort((a, b) => a.start.getTime() - b.start.getTime() || (a.id < b.id ? -1 : 1));
  const best: { durationS: number; watts: number; workoutId: string }[] = [];
  for (const r of list) {
    r.watts.forEach((w, i) => {
      if (!best[i] || w > best[i].watts) {
        best[i] = { durationS: curveDurations[i], watts: w, workoutId: r.id };
      }
    });
  }
  return best;
}

async function assertPeriod(from: string, to: string) {
  const got = await periodCurve(sql, { userId: rider, from: new Date(from), to: new Date(to) });
  const expected = naive(rider, new Date(from), new Date(to));
  assert.deepEqual(
    got.map((p) => [p.durationS, p.watts, p.workoutId]),
    expected.map((p) => [p.durationS, p.watts, p.workoutId]),
    `${from}..${to}`,
  );
}

Deno.test("the period curve from month rows and partial months matches a naive best", async () => {
  assert.equal(await timescaleLicense(sql), "timescale");
  const jan = await addRide(rider, "2026-01-05T08:00:00Z", 1300, 1);
  await addRide(rider, "2026-01-20T08:00:00Z", 1400, 2);
  await addRide(rider, "2026-02-03T08:00:00Z", 1250, 3);
  await addRide(rider, "2026-02-25T08:00:00Z", 1300, 4);
  // A later copy of the first ride: every point ties, the earlier ride keeps them.
  await addRide(rider, "2026-02-10T08:00:00Z", 1300, 0, jan);
  await addRide(rider, "2026-03-15T08:00:00Z", 1350, 5);
  const strong = await addRide(stranger, "2026-02-12T08:00:00Z", 1400, 6);
  strong.watts = strong.watts.map((w) => w + 500);
  await sql`update workout_curves set watts = ${strong.watts}::float8[] where workout_id = ${strong.id}`;

  const [months] = await sql<{ n: number }[]>`
    select count(*)::int as n from curve_months where user_id = ${rider}
  `;
  assert.equal(months.n, 3);
  for (
    const [from, to] of [
      ["2025-12-01T00:00:00Z", "2026-04-01T00:00:00Z"], // three whole months
      ["2026-01-10T00:00:00Z", "2026-03-20T00:00:00Z"], // partial ends, February whole
      ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"], // February alone
      ["2026-02-05T00:00:00Z", "2026-02-20T00:00:00Z"], // inside one month
    ]
  ) await assertPeriod(from, to);

  // Deleting the January ride that held the ties: February's copy takes its points.
  await sql`delete from workouts where id = ${jan.id}`;
  rides.splice(rides.indexOf(jan), 1);
  await assertPeriod("2025-12-01T00:00:00Z", "2026-04-01T00:00:00Z");
});
