/**
 * Workouts benchmark: ingest through HTTP (requests/s, samples/s, Redis commands per request),
 * archive time of 1-hour and 4-hour rides split into read / compute / write, and the
 * best-20-minute and power-curve queries over many archived rides.
 *
 * Needs the dev services (`deno task services`). Uses its own database `bpt_bench` (recreated)
 * and the Redis key prefix `bptbench:`; prints numbers, asserts nothing.
 *
 *   deno run --allow-net --allow-env --allow-read bench/workouts_bench.ts [--rides 1000]
 */
import { Hono } from "hono";
import { benchApp, closeDeps } from "./bench_app.ts";
import { record } from "./report.ts";
import { Redis as RespClient } from "../tests/deps/ioredis.ts";
import { summarize } from "../src/analytics/power.ts";
import { loadConfig } from "../src/core/config.ts";
import { createSql } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { refreshAggregates } from "../src/db/timescale.ts";
import { startWorkout } from "../src/workouts/lifecycle.ts";
import { archiveWorkout, riderSettings } from "../src/workouts/queries.ts";
import { normalizeSamples } from "../src/workouts/sample_input.ts";
import type { Sample } from "../src/core/sample.ts";
import { seedRides, syntheticRide } from "./seed_rides.ts";

const ridesArg = Deno.args.indexOf("--rides");
const seededRides = ridesArg >= 0 ? Number(Deno.args[ridesArg + 1]) : 1000;
const adminUrl = Deno.env.get("BENCH_DATABASE_ADMIN_URL") ??
  "postgres://postgres@127.0.0.1:55432/postgres";
const redisUrl = Deno.env.get("BENCH_REDIS_URL") ?? "redis://127.0.0.1:56379";

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const ms = (v: number) => v.toFixed(2).padStart(8);

// --- setup -----------------------------------------------------------------------------------
const admin = createSql(adminUrl, { max: 1 });
await admin.unsafe("drop database if exists bpt_bench with (force)");
await admin.unsafe("create database bpt_bench");
await admin.end();
const benchUrl = new URL(adminUrl);
benchUrl.pathname = "/bpt_bench";
const config = {
  ...loadConfig({ ...Deno.env.toObject(), DATABASE_URL: benchUrl.href }),
  redisKeyPrefix: "bptbench:",
  // Fifty senders far exceed one rider's request limit; the bench measures ingest, not the limit.
  rateLimitPerMinute: 0,
  passwordCost: { memoryKib: 1024, iterations: 1 },
};
const sql = createSql(config.databaseUrl, { max: 10 });
await migrate(sql);
const { deps, app } = await benchApp(config, sql);
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
const base = `http://127.0.0.1:${server.addr.port}`;
// The HTTP floor: Hono's plain "hello" route, served and called the same way as the app.
const hello = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  new Hono().get("/", (c) => c.text("hello")).fetch,
);
const helloUrl = `http://127.0.0.1:${hello.addr.port}/`;

/** Requests/s and p99 of `requests` GETs of the hello route by `senders` concurrent callers. */
async function helloFloor(senders: number, requests: number) {
  let next = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(Array.from({ length: senders }, async () => {
    while (next++ < requests) {
      const sent = performance.now();
      await (await fetch(helloUrl)).text();
      latencies.push(performance.now() - sent);
    }
  }));
  return {
    perSecond: requests / ((performance.now() - started) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}
const resp = new RespClient(redisUrl, { lazyConnect: false });

async function commandsProcessed(): Promise<number> {
  const info = await resp.info("stats");
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}

/** Counts what the service sends to the Upstash REST endpoint: HTTP requests and commands. */
const sent = { requests: 0, commands: 0 };
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (url.startsWith(config.redisRestUrl)) {
    sent.requests++;
    const body = JSON.parse(String(init?.body ?? "[]"));
    sent.commands += Array.isArray(body[0]) ? body.length : 1;
  }
  return realFetch(input, init);
};

async function call(method: string, path: string, token: string | null, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

const session = await call("POST", "/api/auth/register", null, {
  email: `bench-${Date.now()}@example.com`,
  password: "bench password",
});
const token: string = session.accessToken;
const userId: string = session.user.id;
await call("PATCH", "/api/users/me", token, { ftpWatts: 250, maxHr: 190 });

console.log(
  `Bike Power Tracker workouts benchmark (${
    new Date().toISOString()
  }, ${navigator.hardwareConcurrency} cores)`,
);

// --- ingest ----------------------------------------------------------------------------------
console.log("\n## Ingest: POST /api/workouts/:id/samples through HTTP on loopback");
console.log(
  "batch  senders  requests     req/s  samples/s   p50 ms   p99 ms  cmds/req  REST calls/req  " +
    "ops inside Redis/req",
);
for (const batch of [1, 60]) {
  for (const senders of [1, 50]) {
    const requests = batch === 1 ? 3000 : 600;
    const { workout } = await call("POST", "/api/workouts", token, {});
    const t0 = Date.now() - 3 * 3600_000;
    let next = 0;
    const latencies: number[] = [];
    const before = await commandsProcessed();
    const sentBefore = { ...sent };
    const started = performance.now();
    await Promise.all(Array.from({ length: senders }, async () => {
      while (next < requests) {
        const i = next++;
        const samples = Array.from({ length: batch }, (_, k) => ({
          time: t0 + (i * batch + k) * 1000,
          power: 200 + (k % 50),
          cadence: 90,
          heartRate: 140,
        }));
        const sent = performance.now();
        await call("POST", `/api/workouts/${workout.id}/samples`, token, { samples });
        latencies.push(performance.now() - sent);
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    // Redis counts each call a Lua script makes too: the ingest script's EVALSHA is one command
    // from the service and 7 operations inside Redis.
    const commands = (await commandsProcessed()) - before - 1; // minus the INFO call itself
    console.log(
      `${String(batch).padStart(5)}  ${String(senders).padStart(7)}  ${
        String(requests).padStart(8)
      }` +
        `  ${(requests / seconds).toFixed(0).padStart(8)}  ${
          (requests * batch / seconds).toFixed(0).padStart(9)
        }` +
        `  ${ms(percentile(latencies, 50))} ${ms(percentile(latencies, 99))}` +
        `  ${((sent.commands - sentBefore.commands) / requests).toFixed(2).padStart(8)}` +
        `  ${((sent.requests - sentBefore.requests) / requests).toFixed(2).padStart(14)}` +
        `  ${(commands / requests).toFixed(2).padStart(20)}`,
    );
    const done = await call("POST", `/api/workouts/${workout.id}/complete`, token, {});
    if (done.archivedMessages !== requests * batch) throw new Error("archive lost samples");
    const floor = await helloFloor(senders, requests);
    const cell = `REST ingest, ${batch} sample${batch > 1 ? "s" : ""} per request, ${senders} ` +
      `sender${senders > 1 ? "s" : ""} (fetch in the bench process)`;
    record({
      bench: "workouts",
      cell: `${cell}, requests/s`,
      value: requests / seconds,
      unit: "req/s",
      better: "higher",
      floor: { name: "Hono hello route", value: floor.perSecond },
    });
    record({
      bench: "workouts",
      cell: `${cell}, p99`,
      value: percentile(latencies, 99),
      unit: "ms",
      better: "lower",
      floor: { name: "Hono hello route", value: floor.p99 },
    });
  }
}
const leftover = await resp.keys("bptbench:workout:*");
console.log(`live keys left after archiving every ingest ride: ${leftover.length}`);

// --- archive ---------------------------------------------------------------------------------
/**
 * The archive's floor: the same rows as one plain `insert … select from unnest` into the
 * hypertable (no transaction around it, no summary, efforts or rollups), for a workout of its own;
 * answers its time in ms and deletes the rows again.
 */
async function rawInsert(samples: readonly Sample[]): Promise<number> {
  const [w] = await sql<{ id: string }[]>`
    insert into workouts (user_id, status, sport) values (${userId}, 'completed', 'cycling')
    returning id
  `;
  const column = (k: keyof Sample) => samples.map((s) => s[k]);
  const started = performance.now();
  await sql`
    insert into telemetry (
      workout_id, user_id, time, power, cadence, heart_rate, speed, distance, altitude, lat, lon
    )
    select ${w.id}::uuid, ${userId}::uuid, to_timestamp(u.t / 1000.0),
      u.power, u.cadence, u.heart_rate, u.speed, u.distance, u.altitude, u.lat, u.lon
    from unnest(
      ${column("time") as number[]}::float8[], ${column("power")}::float8[],
      ${column("cadence")}::float8[], ${column("heartRate")}::float8[],
      ${column("speed")}::float8[], ${column("distance")}::float8[],
      ${column("altitude")}::float8[], ${column("lat")}::float8[], ${column("lon")}::float8[]
    ) as u(t, power, cadence, heart_rate, speed, distance, altitude, lat, lon)
  `;
  const took = performance.now() - started;
  await sql`delete from telemetry where workout_id = ${w.id}`;
  await sql`delete from workouts where id = ${w.id}`;
  return took;
}

console.log("\n## Archive of a 1 Hz ride (p50 over 7 runs; ms)");
console.log("ride    samples      read   compute     write  refresh+cleanup     total");
for (const seconds of [3600, 14_400]) {
  const phases: Record<string, number[]> = {
    read: [],
    compute: [],
    write: [],
    after: [],
    total: [],
    unnest: [],
  };
  for (let run = 0; run < 7; run++) {
    const workout = await startWorkout(deps, {
      userId,
      title: null,
      sport: "cycling",
      streamName: null,
    });
    const samples = syntheticRide(Date.now() - 86_400_000 * (run + 2), seconds, run + 7);
    for (let i = 0; i < samples.length; i += 3600) {
      await deps.workoutLive.append(workout.id, userId, samples.slice(i, i + 3600));
    }
    const a = performance.now();
    await deps.workoutLive.markClosing(workout.id);
    const page = await deps.workoutLive.readAll(workout.id);
    const b = performance.now();
    const normalized = normalizeSamples(page.samples);
    const rider = await riderSettings(sql, { userId, at: new Date(normalized[0].time) });
    const summary = summarize(normalized, { ftp: rider.ftpWatts, maxHr: rider.maxHr });
    const c = performance.now();
    const row = await archiveWorkout(sql, {
      workoutId: workout.id,
      userId,
      samples: normalized,
      summary,
      ftpWatts: rider.ftpWatts,
    });
    const d = performance.now();
    await refreshAggregates(sql, { from: row!.startTime, to: row!.endTime! });
    await deps.workoutLive.remove(workout.id);
    const e = performance.now();
    phases.read.push(b - a);
    phases.compute.push(c - b);
    phases.write.push(d - c);
    phases.after.push(e - d);
    phases.total.push(e - a);
    phases.unnest.push(await rawInsert(normalized));
  }
  console.log(
    `${seconds === 3600 ? "1 h " : "4 h "}  ${String(seconds).padStart(8)}  ${
      ms(percentile(phases.read, 50))
    }  ${ms(percentile(phases.compute, 50))}  ${ms(percentile(phases.write, 50))}         ${
      ms(percentile(phases.after, 50))
    }  ${ms(percentile(phases.total, 50))}   (raw unnest insert ${
      ms(percentile(phases.unnest, 50))
    })`,
  );
  record({
    bench: "workouts",
    cell: `archive a ${seconds / 3600}-hour 1 Hz ride (stop, read, summary, one transaction, ` +
      "cleanup), p50",
    value: percentile(phases.total, 50),
    unit: "ms",
    better: "lower",
    floor: { name: "raw unnest insert of the rows", value: percentile(phases.unnest, 50) },
  });
}

// --- queries ---------------------------------------------------------------------------------
console.log(
  `\n## Queries over ${seededRides} archived 1-hour rides (${
    (seededRides * 3600 / 1e6).toFixed(1)
  } M samples)`,
);
const [queryUser] = await sql<{ id: string }[]>`
  insert into users (email, display_name) values (${`bench-q-${Date.now()}@example.com`}, 'Bench')
  returning id
`;
const seedStart = performance.now();
await seedRides(sql, { userId: queryUser.id, rides: seededRides, seconds: 3600 });
console.log(`seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);
await sql`analyze`;
const queryToken = await deps.tokens.sign({
  userId: queryUser.id,
  sessionId: (await sql<{ id: string }[]>`
    insert into auth_sessions (user_id) values (${queryUser.id}) returning id
  `)[0].id,
});
const queries: [string, string][] = [
  ["best 20 min per month (all history)", "/api/analytics/bests?duration=1200&bucket=month"],
  [
    "best 20 min per week, last 90 days",
    `/api/analytics/bests?duration=1200&bucket=week&from=${
      new Date(Date.now() - 90 * 86_400_000).toISOString()
    }`,
  ],
  ["power curve (all history)", "/api/analytics/power-curve"],
  [
    "power curve, last 90 days",
    `/api/analytics/power-curve?from=${new Date(Date.now() - 90 * 86_400_000).toISOString()}`,
  ],
];
console.log(
  "query                                         p50 ms   p99 ms   (HTTP on loopback, 200 runs)",
);
const helloP50 = (await helloFloor(1, 200)).p50;
for (const [label, path] of queries) {
  const times: number[] = [];
  for (let i = 0; i < 220; i++) {
    const sent = performance.now();
    await call("GET", path, queryToken);
    if (i >= 20) times.push(performance.now() - sent);
  }
  console.log(`${label.padEnd(44)} ${ms(percentile(times, 50))} ${ms(percentile(times, 99))}`);
  record({
    bench: "workouts",
    cell: `${label}, ${seededRides} rides, over HTTP, p50`,
    value: percentile(times, 50),
    unit: "ms",
    better: "lower",
    floor: { name: "Hono hello route", value: helloP50 },
    target: "≤ 20 ms",
    met: percentile(times, 50) <= 20,
  });
}

resp.disconnect();
await closeDeps(deps);
await server.shutdown();
await hello.shutdown();
await sql.end();
