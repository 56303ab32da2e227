/**
 * History analytics benchmark: five years of a keen rider (300 rides a year, 1-4 h at 1 Hz), then
 * every /api/analytics endpoint through the real app (`app.request`, no network) many times;
 * prints p50/p99 per endpoint. Prints numbers, asserts nothing.
 *
 * Each ride's summary and efforts are written by the archive code (`archiveWorkout`, so the
 * workout_totals trigger runs as in production); its telemetry is then bulk-loaded with COPY,
 * which is much faster than the archive's insert and leaves the same rows.
 *
 * Needs the dev services (`bash scripts/services.sh up dev`). Uses its own database
 * `bpt_ana_bench` on them (recreated, unless --reuse), never the test database:
 *
 *   deno run --allow-net --allow-env --allow-read --allow-sys bench/analytics_history_bench.ts \
 *     [--reuse] [--years 5] [--rides-per-year 300] [--runs 200] [--no-telemetry]
 */
import { benchApp } from "./bench_app.ts";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { summarize } from "../src/analytics/power.ts";
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
const database = "bpt_ana_bench";
const riderEmail = "keen-rider@example.com";

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// --- database ---------------------------------------------------------------------------------
if (!reuse) {
  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.unsafe(`create database ${database}`);
  await admin.end();
}
const url = new URL(adminUrl);
url.pathname = `/${database}`;
const config = {
  ...loadConfig({ ...Deno.env.toObject(), DATABASE_URL: url.href }),
  redisKeyPrefix: "bptanabench:",
  logLevel: "silent" as const,
  rateLimitPerMinute: 0,
};
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

// --- app --------------------------------------------------------------------------------------
const { deps, app } = await benchApp(config, sql);
const token = await deps.tokens.sign({
  userId: rider.id,
  sessionId: (await sql<{ id: string }[]>`
    insert into auth_sessions (user_id) values (${rider.id}) returning id
  `)[0].id,
});

const now = new Date();
const thisYear = now.getUTCFullYear();
const fiveYearsAgo = new Date(now.getTime() - years * 365 * 86_400_000).toISOString().slice(0, 10);
const endpoints: [string, string][] = [
  ["totals, 12 months (Europe/Berlin)", "/api/analytics/totals?tz=Europe/Berlin"],
  [
    `totals, weekly since ${fiveYearsAgo} (Sydney)`,
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

console.log(
  `\n${counts.rides} rides of the keen rider (${(counts.samples / 1e6).toFixed(2)} M samples; ${
    (stored.rows / 1e6).toFixed(2)
  } M rows in all hypertables); ${runs} runs per endpoint after 20 warm-up, app.request in-process`,
);
console.log(`load average before: ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
console.log("endpoint                                        p50 ms   p99 ms");
for (const [label, path] of endpoints) {
  const times: number[] = [];
  for (let i = 0; i < runs + 20; i++) {
    const sent = performance.now();
    const res = await app.request(path, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body}`);
    if (i >= 20) times.push(performance.now() - sent);
  }
  console.log(
    `${label.padEnd(46)} ${percentile(times, 50).toFixed(2).padStart(7)} ${
      percentile(times, 99).toFixed(2).padStart(8)
    }`,
  );
}
console.log(`load average after: ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`);

deps.hub.close();
await sql.end();
