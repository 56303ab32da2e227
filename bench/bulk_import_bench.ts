/**
 * Bulk import benchmark: a zip of 300 rides (the four recorded CSV rides of tests/fixtures/rides,
 * each copy shifted by whole days so none is a duplicate of another) posted to
 * POST /api/workouts/import over real HTTP and imported end to end by its job (central directory,
 * one entry at a time through the single-file import: parse, summary, archive, original kept).
 * Prints the wall time from the upload to the job's `done` and the process's peak RSS (sampled
 * every 50 ms; the zip itself, built in memory by the bench, is in the baseline).
 *
 * Uses the test services by default, its own database `bpt_bulk_bench` (recreated) and the
 * Redis key prefix `bulkbench:`; prints numbers, asserts nothing.
 *
 *   deno run --allow-net --allow-env --allow-read --allow-write --allow-sys \
 *     bench/bulk_import_bench.ts [--rides 300]
 */
import { zipSync } from "fflate";
import { benchApp, benchConfig, closeDeps } from "./bench_app.ts";
import { record } from "./report.ts";
import { createSql } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";

const ridesArg = Deno.args.indexOf("--rides");
const rideCount = ridesArg >= 0 ? Number(Deno.args[ridesArg + 1]) : 300;

const fixtures = [
  "indoor_edge800_trainer",
  "outdoor_edge1000_zpider",
  "outdoor_edge810_vector",
  "outdoor_elemnt_autopause",
];
const csvs = await Promise.all(
  fixtures.map((name) =>
    Deno.readTextFile(new URL(`../tests/fixtures/rides/${name}.csv`, import.meta.url))
  ),
);

/** The CSV with every epoch_ms moved by `days`. */
function shifted(csv: string, days: number): Uint8Array {
  const offset = days * 86_400_000;
  const lines = csv.split("\n");
  for (let i = 1; i < lines.length; i++) {
    const comma = lines[i].indexOf(",");
    if (comma > 0) {
      lines[i] = `${Number(lines[i].slice(0, comma)) + offset}${lines[i].slice(comma)}`;
    }
  }
  return new TextEncoder().encode(lines.join("\n"));
}

const entries: Record<string, Uint8Array> = {};
let uncompressed = 0;
let samples = 0;
for (let k = 0; k < rideCount; k++) {
  const csv = csvs[k % csvs.length];
  const bytes = shifted(csv, 1 + Math.floor(k / csvs.length));
  entries[`activities/${1000 + k}.csv`] = bytes;
  uncompressed += bytes.length;
  samples += csv.split("\n").length - 2;
}
const zip = zipSync(entries, { level: 6 });
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
console.log(
  `archive: ${rideCount} rides, ${samples} samples, ${mib(uncompressed)} uncompressed, ` +
    `${mib(zip.length)} zipped`,
);

// --- setup -----------------------------------------------------------------------------------
const config = {
  ...(await benchConfig("bpt_bulk_bench", "bulkbench:")),
  bodyLimitBytes: 1024 * 1024 * 1024,
};
const sql = createSql(config.databaseUrl, { max: 10 });
await migrate(sql);
const { deps, app } = await benchApp(config, sql);
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
const base = `http://127.0.0.1:${server.addr.port}`;

const registered = await fetch(`${base}/api/auth/register`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({
    email: `bench-${crypto.randomUUID()}@example.com`,
    password: "a long enough password",
  }),
});
const { accessToken } = await registered.json();
const auth = { authorization: `Bearer ${accessToken}` };
console.log(`load average before: ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`);

// --- the import ------------------------------------------------------------------------------
const baseline = Deno.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => {
  peak = Math.max(peak, Deno.memoryUsage().rss);
}, 50);
const t0 = performance.now();
const res = await fetch(`${base}/api/workouts/import`, {
  method: "POST",
  headers: { ...auth, "content-type": "application/zip" },
  body: zip,
});
if (res.status !== 202) throw new Error(`import: ${res.status} ${await res.text()}`);
const location = res.headers.get("location")!;
await res.body?.cancel();
let job;
for (;;) {
  const poll = await fetch(`${base}${location}`, { headers: auth });
  job = (await poll.json()).job;
  if (job.state !== "running") break;
  await new Promise((r) => setTimeout(r, 200));
}
const wallS = (performance.now() - t0) / 1000;
clearInterval(sampler);
peak = Math.max(peak, Deno.memoryUsage().rss);

console.log(
  `job ${job.state}: ${job.imported} imported, ${job.duplicates} duplicates, ${job.failed} failed`,
);
console.log(
  `wall time ${wallS.toFixed(1)} s (${(wallS * 1000 / rideCount).toFixed(0)} ms a ride, ` +
    `${(samples / wallS).toFixed(0)} samples/s)`,
);
console.log(`RSS before the upload ${mib(baseline)}, peak ${mib(peak)} (+${mib(peak - baseline)})`);
console.log(`load average after: ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`);
record({
  bench: "bulk_import",
  cell: `${rideCount}-ride zip imported end to end, wall time`,
  value: wallS,
  unit: "s",
  better: "lower",
});
record({
  bench: "bulk_import",
  cell: `${rideCount}-ride zip, peak RSS above the baseline`,
  value: (peak - baseline) / 1024 / 1024,
  unit: "MiB",
  better: "lower",
});

await server.shutdown();
await closeDeps(deps);
await sql.end({ timeout: 5 });
