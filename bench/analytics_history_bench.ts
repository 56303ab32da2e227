/**
 * History analytics benchmark: five years of a keen rider (300 rides a year, 1-4 h at 1 Hz), then
 * every /api/analytics endpoint through the real app (`app.request`, no network) many times, round
 * by round (each round calls every endpoint once); prints p50/p99 and the CPU time per request
 * (this process plus its Postgres backends) of each endpoint beside the floor: the same
 * `app.request` path to `GET /api/users/me` (authentication and one small query). Asserts nothing;
 * under `deno task bench` it hands each endpoint's p50 and p99 to bench/report.ts.
 *
 * Each ride's summary and efforts are written by the archive code (`archiveWorkout`, so the
 * workout_totals trigger runs as in production); its telemetry is then bulk-loaded with COPY,
 * which is much faster than the archive's insert and leaves the same rows.
 *
 * Needs the dev services (`bash scripts/services.sh up dev`). Uses its own database
 * `bpt_ana_bench` on them (`--database` to change it; recreated, unless --reuse), never the test
 * database:
 *
 *   deno run --allow-net --allow-env --allow-read --allow-sys bench/analytics_history_bench.ts \
 *     [--reuse] [--years 5] [--rides-per-year 300] [--runs 200] [--no-telemetry] \
 *     [--database bpt_ana_bench] [--compare ../wt-before --compare-database bpt_ana_bench_before]
 *
 * `--compare DIR` also runs another checkout's app (DIR/bench/bench_app.ts, with DIR's migrations)
 * on `--compare-database`, a database with the same rides (the other checkout's own run of this
 * bench, or a `create database ... template` copy of it), interleaved request by request with this
 * one, and prints the ratios: a before/after comparison on a shared, noisy machine.
 */
import { benchApp } from "./bench_app.ts";
import type { Deps } from "../src/http/deps.ts";
import { percentile, record } from "./report.ts";
import { cpuUsage } from "node:process";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { summarize, toGrid } from "../src/analytics/power.ts";
import { rideCurve } from "../src/analytics/curve.ts";
import type { Sample } from "../src/core/sample.ts";
import { loadConfig } from "../src/core/config.ts";
import { createSql, type Sql } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { archiveWorkout, insertWorkout } from "../src/workouts/queries.ts";
import { syntheticRide } from "./seed_rides.ts";

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}
const reuse = Deno.args.includes("--reuse");
const withTelemetry = !Deno.args.includes("--no-telemetry");
const years = flag("--years", 5);
const ridesPerYear = flag("--rides-per-year", 300);
const runs = flag("--runs", 200);
const adminUrl = Deno.env.get("BENCH_DATABASE_ADMIN_URL") ??
  "postgres://postgres@127.0.0.1:55432/postgres";
function option(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : fallback;
}
const database = option("--database", "bpt_ana_bench");
const compareDir = Deno.args.includes("--compare") ? option("--compare", "") : undefined;
const compareDatabase = option("--compare-database", `${database}_before`);
const riderEmail = "keen-rider@example.com";

// --- database ---------------------------------------------------------------------------------
if (!reuse) {
  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.unsafe(`create database ${database}`);
  await admin.end();
}
function databaseUrl(name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}
function benchConfig(name: string) {
  return {
    ...loadConfig({ ...Deno.env.toObject(), DATABASE_URL: databaseUrl(name) }),
    redisKeyPrefix: `bptanabench:${name}:`,
    logLevel: "silent" as const,
    rateLimitPerMinute: 0,
  };
}
const config = benchConfig(database);
const sql = createSql(config.databaseUrl, { max: 10 });
await migrate(sql);

/** A deterministic PRNG (LCG) in [0, 1). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4294967296;
  };
}

async function copyTelemetry(
  db: Sql,
  ids: { workoutId: string; userId: string },
  samples: Sample[],
) {
  const lines = function* () {
    for (let i = 0; i < samples.length; i += 1000) {
      let chunk = "";
      for (const s of samples.slice(i, i + 1000)) {
        const values = [s.power, s.cadence, s.heartRate, s.speed, s.distance, s.altitude];
        chunk += `${ids.workoutId}\t${ids.userId}\t${new Date(s.time).toISOString()}\t${
          values.map((v) => v === null ? "\\N" : String(v)).join("\t")
        }\n`;
      }
      yield chunk;
    }
  };
  const writable = await db`
    copy telemetry (
      workout_id, user_id, time, power, cadence, heart_rate, speed, distance, altitude
    ) from stdin
  `.writable();
  await pipeline(Readable.from(lines()), writable);
}

/** Seeds `rides` rides evenly over the `years` before now; answers the samples written. */
async function seed(userId: string, options: { rides: number; seed: number; telemetry: boolean }) {
  const random = lcg(options.seed);
  const end = Date.now() - 86_400_000;
  const span = years * 365 * 86_400_000;
  let samplesWritten = 0;
  const started = performance.now();
  for (let r = 0; r < options.rides; r++) {
    const day = Math.floor((end - span + (r * span) / options.rides) / 86_400_000) * 86_400_000;
    const start = day + Math.floor((5 + random() * 14) * 3_600_000); // 05:00-19:00 UTC
    const seconds = Math.round(3600 * (1 + 3 * random() ** 3)); // 1-4 h, mostly short
    const samples = syntheticRide(start, seconds, options.seed * 100_000 + r);
    const workout = await insertWorkout(sql, {
      userId,
      title: `Ride ${r + 1}`,
      sport: "cycling",
      streamName: null,
    });
    await archiveWorkout(sql, {
      workoutId: workout.id,
      userId,
      samples: [],
      summary: summarize(samples, { ftp: 250, maxHr: 185 }),
      ftpWatts: 250,
      // The whole curve, as the archive stores it (the month trigger of workout_curves runs).
      curve: rideCurve(toGrid(samples)),
    });
    if (options.telemetry) {
      await copyTelemetry(sql, { workoutId: workout.id, userId }, samples);
      samplesWritten += samples.length;
    }
    if ((r + 1) % 250 === 0) {
      console.log(
        `  ${r + 1}/${options.rides} rides, ${(samplesWritten / 1e6).toFixed(2)} M samples, ${
          ((performance.now() - started) / 1000).toFixed(0)
        } s`,
      );
    }
  }
  return samplesWritten;
}

let [rider] = await sql<{ id: string }[]>`select id from users where email = ${riderEmail}`;
if (!rider) {
  [rider] = await sql<{ id: string }[]>`
    insert into users (email, display_name, ftp_watts, max_hr)
    values (${riderEmail}, 'Keen rider', 250, 185)
    returning id
  `;
  const rides = years * ridesPerYear;
  console.log(`seeding ${rides} rides over ${years} years (telemetry: ${withTelemetry})`);
  const samples = await seed(rider.id, { rides, seed: 1, telemetry: withTelemetry });
  for (let i = 0; i < 12; i++) {
    await sql`
      insert into ftp_history (user_id, ftp_watts, source, created_at)
      values (${rider.id}, ${230 + 2 * i}, 'manual', ${new Date(Date.now() - i * 150 * 86_400_000)})
    `;
  }
  // Another rider's history in the same tables, so every query has to filter by rider.
  const [other] = await sql<{ id: string }[]>`
    insert into users (email) values ('other-rider@example.com') returning id
  `;
  await seed(other.id, { rides: 300, seed: 2, telemetry: false });
  console.log(`seeded ${(samples / 1e6).toFixed(2)} M samples for the keen rider`);
  await sql`analyze`;
}
const [counts] = await sql<{ rides: number; samples: number }[]>`
  select count(*)::int as rides, coalesce(sum(sample_count), 0)::float8 as samples
  from workouts where user_id = ${rider.id}
`;
const [stored] = await sql<{ rows: number }[]>`
  select coalesce(sum(n_live_tup), 0)::float8 as rows from pg_stat_user_tables
  where relname like '_hyper_%' or relname = 'telemetry'
`;

// --- apps ------------------------------------------------------------------------------------
type App = { request: (path: string, init: RequestInit) => Response | Promise<Response> };
/** One app under test: its database client, a rider's token and its Postgres backends. */
type Variant = { name: string; app: App; sql: Sql; token: string; close: () => Promise<void> };

async function variant(
  name: string,
  db: Sql,
  build: typeof benchApp,
  dbConfig: ReturnType<typeof benchConfig>,
): Promise<Variant> {
  const { deps, app } = await build(dbConfig, db);
  const [{ id }] = await db<{ id: string }[]>`select id from users where email = ${riderEmail}`;
  const [session] = await db<{ id: string }[]>`
    insert into auth_sessions (user_id) values (${id}) returning id
  `;
  const token = await deps.tokens.sign({ userId: id, sessionId: session.id });
  // What the dependencies keep running, as far as this build (or the compared one) has it.
  const parts = deps as Partial<Pick<Deps, "live" | "passwords" | "revocations">>;
  const close = async () => {
    deps.hub.close();
    parts.live?.close();
    parts.passwords?.close();
    await parts.revocations?.close();
  };
  return { name, app, sql: db, token, close };
}

const variants = [await variant("this", sql, benchApp, config)];
if (compareDir !== undefined) {
  const root = new URL(`${compareDir.replace(/\/?$/, "/")}`, `file://${Deno.cwd()}/`);
  const other: typeof import("./bench_app.ts") = await import(
    new URL("bench/bench_app.ts", root).href
  );
  const otherClient: typeof import("../src/db/client.ts") = await import(
    new URL("src/db/client.ts", root).href
  );
  const otherMigrate: typeof import("../src/db/migrate.ts") = await import(
    new URL("src/db/migrate.ts", root).href
  );
  const compareConfig = benchConfig(compareDatabase);
  const otherSql = otherClient.createSql(compareConfig.databaseUrl, { max: 10 });
  await otherMigrate.migrate(otherSql);
  variants.push(await variant(compareDir, otherSql, other.benchApp, compareConfig));
}

/** CPU time in ms so far of this process (all threads). */
function processCpuMs(): number {
  const { user, system } = cpuUsage();
  return (user + system) / 1000;
}

/** The Postgres backends serving a database (read from pg_stat_activity). */
async function backends(db: Sql, name: string): Promise<number[]> {
  const rows = await db<{ pid: number }[]>`
    select pid from pg_stat_activity where datname = ${name} and backend_type = 'client backend'
  `;
  return rows.map((r) => r.pid);
}

/**
 * CPU time in ms so far of some processes (their time on a CPU, from /proc/PID/schedstat), or
 * NaN when this process may not read it (Deno asks for --allow-all to read another process's
 * /proc files).
 */
function processesCpuMs(pids: readonly number[]): number {
  let ns = 0;
  for (const pid of pids) {
    try {
      ns += Number(Deno.readTextFileSync(`/proc/${pid}/schedstat`).split(" ")[0]);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue; // a backend that ended since
      return NaN;
    }
  }
  return ns / 1e6;
}

const now = new Date();
const thisYear = now.getUTCFullYear();
const fiveYearsAgo = new Date(now.getTime() - years * 365 * 86_400_000).toISOString().slice(0, 10);
const endpoints: [string, string][] = [
  ["totals, 12 months (Europe/Berlin)", "/api/analytics/totals?tz=Europe/Berlin"],
  [
    `totals, weekly over ${years} years (Sydney)`,
    `/api/analytics/totals?period=week&from=${fiveYearsAgo}&tz=Australia/Sydney`,
  ],
  [
    "totals, yearly, all history (Kathmandu)",
    `/api/analytics/totals?period=year&from=${fiveYearsAgo}&tz=Asia/Kathmandu`,
  ],
  ["power curve, all history", "/api/analytics/power-curve"],
  [
    "power curve, this year vs last year",
    `/api/analytics/power-curve?from=${thisYear}-01-01T00:00:00Z&compareFrom=${
      thisYear - 1
    }-01-01T00:00:00Z&compareTo=${thisYear}-01-01T00:00:00Z`,
  ],
  [
    "power curve, last 365 days",
    `/api/analytics/power-curve?from=${new Date(now.getTime() - 365 * 86_400_000).toISOString()}`,
  ],
  ["critical power, 90 days", "/api/analytics/critical-power"],
  [
    `critical power, ${years} years`,
    `/api/analytics/critical-power?from=${fiveYearsAgo}T00:00:00Z`,
  ],
  ["records (all-time, yearly, history)", "/api/analytics/records?tz=Europe/Berlin"],
  ["ftp estimate, 90 days + history", "/api/analytics/ftp"],
  ["fitness, 90 days (warm-up from 1st ride)", "/api/analytics/fitness?tz=Europe/Berlin"],
  [
    "fitness, 365 days",
    `/api/analytics/fitness?from=${
      new Date(now.getTime() - 364 * 86_400_000).toISOString().slice(0, 10)
    }&tz=America/Los_Angeles`,
  ],
  ["zones, all history", "/api/analytics/zones"],
  [
    "zones, last 30 days",
    `/api/analytics/zones?from=${new Date(now.getTime() - 30 * 86_400_000).toISOString()}`,
  ],
  ["bests 20 min per month, all history", "/api/analytics/bests?duration=1200&bucket=month"],
];

const floor: [string, string] = ["floor: GET /api/users/me", "/api/users/me"];
const warmUp = 20;

/** What one variant measured for one endpoint: latencies, and CPU ms over the measured runs. */
type Cell = { times: number[]; appCpuMs: number; dbCpuMs: number };
const cells = variants.map(() =>
  [floor, ...endpoints].map((): Cell => ({
    times: [],
    appCpuMs: 0,
    dbCpuMs: 0,
  }))
);

console.log(
  `\n${counts.rides} rides of the keen rider (${(counts.samples / 1e6).toFixed(2)} M samples; ${
    (stored.rows / 1e6).toFixed(2)
  } M rows in all hypertables); ${runs} rounds after ${warmUp} warm-up, each calling every ` +
    `endpoint once${variants.length > 1 ? " per app, the apps alternating" : ""}; ` +
    `app.request in-process`,
);
console.log(`load average before: ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
for (let round = 0; round < runs + warmUp; round++) {
  // Backends come and go with the pools: listed again each round.
  const pids = await Promise.all(
    variants.map((v, i) => backends(v.sql, i === 0 ? database : compareDatabase)),
  );
  for (const [e, [, path]] of [floor, ...endpoints].entries()) {
    // The apps take turns going first, so neither always runs on a cache the other warmed.
    for (let k = 0; k < variants.length; k++) {
      const i = (k + round) % variants.length;
      const v = variants[i];
      const app0 = processCpuMs();
      const db0 = processesCpuMs(pids[i]);
      const sent = performance.now();
      const res = await v.app.request(path, { headers: { authorization: `Bearer ${v.token}` } });
      const body = await res.text();
      const took = performance.now() - sent;
      const app1 = processCpuMs();
      const db1 = processesCpuMs(pids[i]);
      if (res.status !== 200) throw new Error(`${v.name} ${path}: ${res.status} ${body}`);
      if (round < warmUp) continue;
      const cell = cells[i][e];
      cell.times.push(took);
      cell.appCpuMs += app1 - app0;
      cell.dbCpuMs += db1 - db0;
    }
  }
}
console.log(`load average after: ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);

const fixed = (n: number, width: number) => n.toFixed(2).padStart(width);
const stats = (cell: Cell) => {
  const app = cell.appCpuMs / cell.times.length;
  const db = cell.dbCpuMs / cell.times.length;
  return {
    p50: percentile(cell.times, 50),
    p99: percentile(cell.times, 99),
    app,
    db,
    // Without Postgres's share (not readable), the ratio of CPU is the app's alone.
    cpu: Number.isNaN(db) ? app : app + db,
  };
};
const labels = [floor, ...endpoints].map(([label]) => label);
const width = Math.max(...labels.map((l) => l.length)) + 1;
console.log(
  `\np50, p99: ms per request; CPU: ms per request of this process and of its Postgres backends` +
    ` (n/a: run with --allow-all to read them)`,
);
console.log(
  `${"endpoint".padEnd(width)}  p50 ms   p99 ms  app CPU   PG CPU` +
    (variants.length > 1
      ? `  | ${variants[1].name}: p50    p99    CPU  | this ÷ that: p50, p99, CPU`
      : ""),
);
const floorStats = stats(cells[0][0]);
for (const [e, label] of labels.entries()) {
  const s = stats(cells[0][e]);
  let line = `${label.padEnd(width)} ${fixed(s.p50, 7)} ${fixed(s.p99, 8)} ${fixed(s.app, 8)} ${
    Number.isNaN(s.db) ? "     n/a" : fixed(s.db, 8)
  }`;
  if (variants.length > 1) {
    const o = stats(cells[1][e]);
    line += `  | ${" ".repeat(variants[1].name.length)} ${fixed(o.p50, 6)} ${fixed(o.p99, 6)} ${
      fixed(o.cpu, 6)
    }  | ×${(s.p50 / o.p50).toFixed(2)} ×${(s.p99 / o.p99).toFixed(2)} ×${
      (s.cpu / o.cpu).toFixed(2)
    }`;
  }
  console.log(line);
  if (e === 0) continue;
  // The whole curve's target (issue 16): ≤ 25 ms p50; the others' as before.
  const wide = /power curve|critical power/.test(label);
  const target = wide ? "≤ 25 ms p50 / ≤ 50 ms p99" : "≤ 20 ms p50 / ≤ 40 ms p99";
  record({
    bench: "analytics_history",
    cell: `${label}, p50`,
    value: s.p50,
    unit: "ms",
    better: "lower",
    floor: { name: `${floor[0]}, p50`, value: floorStats.p50 },
    target,
    met: s.p50 <= (wide ? 25 : 20),
  });
  record({
    bench: "analytics_history",
    cell: `${label}, p99`,
    value: s.p99,
    unit: "ms",
    better: "lower",
    floor: { name: `${floor[0]}, p99`, value: floorStats.p99 },
    target,
    met: s.p99 <= (wide ? 50 : 40),
  });
}

for (const v of variants) {
  await v.close();
  await v.sql.end();
}
