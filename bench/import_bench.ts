/**
 * Ride file import benchmark: a 4-hour 1 Hz FIT file (14,400 records with power, cadence, heart
 * rate, speed, distance, altitude and position) posted to POST /api/workouts/import over real
 * HTTP, end to end (detect, CRC check, decode, summary, archive transaction, original file kept,
 * aggregate refresh); p50 over several runs, each by a new rider (so none is a duplicate). Also
 * times the FIT decode alone and GET /api/workouts/:id/export for each format.
 *
 * Uses the test services by default (Postgres 55433, REST bridge 58080), its own database
 * `bpt_files_bench` (recreated) and the Redis key prefix `filesbench:`; prints numbers, asserts
 * nothing. Target: import p50 <= 1 s.
 *
 *   deno run --allow-net --allow-env --allow-read --allow-sys bench/import_bench.ts [--runs 7]
 */
import { benchApp, benchConfig, closeDeps } from "./bench_app.ts";
import { record } from "./report.ts";
import { createSql } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import type { Sample } from "../src/core/sample.ts";
import { writeFit } from "../src/files/fit.ts";
import { parseRideFile } from "../src/files/ride_files.ts";
import { importWorkout } from "../src/workouts/lifecycle.ts";

const runsArg = Deno.args.indexOf("--runs");
const runs = runsArg >= 0 ? Number(Deno.args[runsArg + 1]) : 7;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const fmt = (v: number) => `${v.toFixed(1)} ms`;

/** A 4-hour ride at 1 Hz with every metric, moving around a loop near Liège. */
function fourHourRide(): Sample[] {
  const start = Date.UTC(2026, 5, 1, 6, 0, 0);
  const samples: Sample[] = [];
  let distance = 0;
  for (let i = 0; i < 4 * 3600; i++) {
    const speed = 28 + 6 * Math.sin(i / 300);
    distance += speed / 3.6;
    samples.push({
      time: start + i * 1000,
      power: Math.round(210 + 60 * Math.sin(i / 97) + 30 * Math.sin(i / 13)),
      cadence: Math.round(88 + 6 * Math.sin(i / 41)),
      heartRate: Math.round(140 + 15 * Math.sin(i / 600)),
      speed: Math.round(speed * 1000 / 3.6) * 3.6 / 1000,
      distance: Math.round(distance * 100) / 100,
      altitude: Math.round((300 + 80 * Math.sin(i / 900)) * 5) / 5,
      lat: 50.39 + 0.05 * Math.sin(i / 2000),
      lon: 5.9 + 0.05 * Math.cos(i / 2000),
    });
  }
  return samples;
}

// --- setup -----------------------------------------------------------------------------------
const config = await benchConfig("bpt_files_bench", "filesbench:");
const sql = createSql(config.databaseUrl, { max: 10 });
await migrate(sql);
const { deps, app } = await benchApp(config, sql);
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
const base = `http://127.0.0.1:${server.addr.port}`;

async function newRider(): Promise<string> {
  const res = await fetch(`${base}/api/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      email: `bench-${crypto.randomUUID()}@example.com`,
      password: "a long enough password",
    }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  return (await res.json()).accessToken;
}

// --- the file --------------------------------------------------------------------------------
const samples = fourHourRide();
const fit = writeFit(samples, {
  title: null,
  sport: "cycling",
  startTime: new Date(samples[0].time),
});
console.log(`4-hour FIT file: ${samples.length} records, ${(fit.length / 1024).toFixed(0)} KiB`);
console.log(`load average before: ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`);

const decode: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  parseRideFile("fit", fit);
  decode.push(performance.now() - t0);
}
console.log(`FIT decode alone (SDK, CRC + records): p50 ${fmt(percentile(decode, 50))}`);

// The archive alone (summary, telemetry, efforts, aggregate refresh) with the decoded samples.
const archive: number[] = [];
const decoded = parseRideFile("fit", fit).samples;
for (let i = 0; i < runs; i++) {
  const [user] = await sql<{ id: string }[]>`
    insert into users (email) values (${`bench-${crypto.randomUUID()}@example.com`}) returning id
  `;
  const t0 = performance.now();
  await importWorkout(deps, { userId: user.id, title: null, sport: "cycling", samples: decoded });
  archive.push(performance.now() - t0);
}
console.log(`archive alone (importWorkout, decoded samples): p50 ${fmt(percentile(archive, 50))}`);

// --- import end to end ---------------------------------------------------------------------
const times: number[] = [];
let lastId = "";
let lastToken = "";
for (let i = 0; i < runs + 1; i++) {
  const token = await newRider();
  const t0 = performance.now();
  const res = await fetch(`${base}/api/workouts/import`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/vnd.ant.fit" },
    body: fit as BodyInit,
  });
  const body = await res.json();
  const elapsed = performance.now() - t0;
  if (res.status !== 201 || body.workout.summary.sampleCount !== samples.length) {
    throw new Error(`import: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  if (i > 0) times.push(elapsed); // the first run warms up JIT and connections
  lastId = body.workout.id;
  lastToken = token;
}
console.log(
  `import 4 h FIT end to end over HTTP (${runs} runs after 1 warm-up): ` +
    `p50 ${fmt(percentile(times, 50))}, min ${fmt(Math.min(...times))}, ` +
    `max ${fmt(Math.max(...times))}`,
);
record({
  bench: "import",
  cell: "import a 4-hour FIT file (14,400 records) end to end over HTTP, p50",
  value: percentile(times, 50),
  unit: "ms",
  better: "lower",
  floor: { name: "archive of the decoded samples alone", value: percentile(archive, 50) },
  target: "≤ 1 s",
  met: percentile(times, 50) <= 1000,
});

// --- a real GPX (the 2.9 MB Strava export in tests/fixtures/rides) ---------------------------
const gpxUrl = new URL(
  "../tests/fixtures/rides/outdoor_edge1000_zpider.strava.gpx",
  import.meta.url,
);
const gpx = await Deno.readFile(gpxUrl);
const gpxTimes: number[] = [];
for (let i = 0; i < Math.min(runs, 5) + 1; i++) {
  const token = await newRider();
  const t0 = performance.now();
  const res = await fetch(`${base}/api/workouts/import`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/gpx+xml" },
    body: gpx as BodyInit,
  });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`gpx import: ${res.status}`);
  if (i > 0) gpxTimes.push(performance.now() - t0);
}
console.log(
  `import the Strava GPX (8,357 points, ${(gpx.length / 1024 / 1024).toFixed(1)} MiB): ` +
    `p50 ${fmt(percentile(gpxTimes, 50))}`,
);

// --- export ------------------------------------------------------------------------------------
for (const format of ["fit", "tcx", "gpx", "csv"]) {
  const exportTimes: number[] = [];
  let size = 0;
  for (let i = 0; i < Math.min(runs, 5); i++) {
    const t0 = performance.now();
    const res = await fetch(`${base}/api/workouts/${lastId}/export?format=${format}`, {
      headers: { authorization: `Bearer ${lastToken}` },
    });
    size = (await res.arrayBuffer()).byteLength;
    exportTimes.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`export ${format}: ${res.status}`);
  }
  console.log(
    `export ${format}: p50 ${fmt(percentile(exportTimes, 50))} (${(size / 1024).toFixed(0)} KiB)`,
  );
  record({
    bench: "import",
    cell: `export the 4-hour ride as ${format.toUpperCase()}, p50`,
    value: percentile(exportTimes, 50),
    unit: "ms",
    better: "lower",
  });
}
console.log(`load average after: ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`);

await server.shutdown();
await closeDeps(deps);
await sql.end({ timeout: 5 });
