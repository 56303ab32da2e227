/**
 * Concurrent imports and rollup visibility: rounds of `--imports` rides (default 6) of one rider
 * on one day imported at once through the app, with the instance's drain loop running. Per round
 * it prints how many rides the monthly totals count when every request has answered, how many
 * refresh windows were left to the drain, and how long until the totals count them all. Meant for
 * a Timescale License server of TimescaleDB >= 2.27 (the `timescale/timescaledb:2.29.2-pg17`
 * compose service), where overlapping refreshes collide; on the Apache edition the rollups are
 * views and everything is visible at once by construction.
 *
 * Uses its own database `bpt_refresh_bench` (recreated) on BENCH_DATABASE_ADMIN_URL (default: the
 * test services) and the Redis key prefix `refreshbench:`; prints numbers, asserts nothing.
 *
 *   deno run --allow-net --allow-env --allow-read --allow-sys bench/aggregate_refresh_bench.ts \
 *     [--imports 6] [--rounds 5]
 */
import { record } from "./report.ts";
import { createSql } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { startRefreshDrain, timescaleLicense } from "../src/db/timescale.ts";
import { createLogger } from "../src/core/log.ts";
import { benchApp, benchConfig, closeDeps } from "./bench_app.ts";

const arg = (name: string, fallback: number) => {
  const at = Deno.args.indexOf(name);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
};
const imports = arg("--imports", 6);
const rounds = arg("--rounds", 5);

const config = await benchConfig("bpt_refresh_bench", "refreshbench:");
const sql = createSql(config.databaseUrl, { max: 20 });
await migrate(sql);
const { deps, app } = await benchApp(config, sql);
const drain = startRefreshDrain(sql, { log: createLogger("silent") });
const [{ version }] = await sql<{ version: string }[]>`
  select extversion as version from pg_extension where extname = 'timescaledb'
`;
console.log(
  `TimescaleDB ${version} (${await timescaleLicense(sql)}); ${rounds} rounds of ${imports} ` +
    `concurrent imports of one day`,
);

const register = await app.request("/api/auth/register", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({
    email: `bench-${crypto.randomUUID()}@example.com`,
    password: "a long enough password",
  }),
});
const token = (await register.json()).accessToken as string;
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };

/** A 20-minute 1 Hz ride. */
function ride(start: number): unknown[] {
  return Array.from({ length: 1200 }, (_, i) => ({
    time: start + i * 1000,
    power: 180 + (i % 60),
    cadence: 88,
    heartRate: 140,
  }));
}

async function ridesInMonth(): Promise<number> {
  const res = await app.request(
    "/api/analytics/totals?period=month&from=2026-06-01&to=2026-06-30",
    { headers },
  );
  return (await res.json()).totals[0].rides;
}

let total = 0;
const visible: number[] = [];
for (let round = 0; round < rounds; round++) {
  // Rounds go back in time, so every ride lands below the watermark of the previous rounds.
  const day = Date.UTC(2026, 5, 28 - 3 * round, 6);
  const started = performance.now();
  const answers = await Promise.all(Array.from({ length: imports }, async (_, i) => {
    const res = await app.request("/api/workouts/import", {
      method: "POST",
      headers,
      body: JSON.stringify({ samples: ride(day + i * 45 * 60_000) }),
    });
    if (res.status !== 201) throw new Error(`import: ${res.status} ${await res.text()}`);
    await res.body?.cancel();
    return performance.now() - started;
  }));
  total += imports;
  const atOnce = (await ridesInMonth()) - (total - imports);
  const [{ left }] = await sql<{ left: number }[]>`
    select count(*)::int as left from aggregate_refresh_pending
  `;
  let allMs = performance.now() - started;
  while (await ridesInMonth() < total) {
    if (performance.now() - started > 60_000) throw new Error("rides still missing after 60 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
    allMs = performance.now() - started;
  }
  console.log(
    `round ${round + 1}: answers ${Math.round(Math.min(...answers))}-` +
      `${Math.round(Math.max(...answers))} ms; ${atOnce}/${imports} rides in the totals when all ` +
      `had answered, ${left} refresh windows left to the drain; all ${imports} in ` +
      `${Math.round(allMs)} ms`,
  );
  visible.push(allMs);
}
record({
  bench: "aggregate_refresh",
  cell: `${imports} imports of one day at once: until the totals count them all, median of rounds`,
  value: visible.sort((a, b) => a - b)[Math.floor(visible.length / 2)],
  unit: "ms",
  better: "lower",
});

await drain.stop();
await closeDeps(deps);
await sql.end({ timeout: 5 });
