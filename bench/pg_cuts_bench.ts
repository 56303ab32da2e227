/**
 * Postgres cut 50 times at random moments of a 4-hour archive (14,400 samples at 1 Hz), against
 * the real process: prints crashes, complete attempts, samples accepted vs archived.
 *
 * Run with the test services up: by default on a database of its own, `bpt_pg_cuts_bench` on the
 * test cluster (recreated; the service migrates it at start) and the test services' REST bridge;
 * DATABASE_URL, UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN point it elsewhere.
 *
 *   deno run -A bench/pg_cuts_bench.ts [rounds] [samples]
 */
import { benchConfig } from "./bench_app.ts";
import { record } from "./report.ts";
import { archiveUnderCuts } from "../tests/archive_under_cuts.ts";

const rounds = Number(Deno.args[0] ?? 50);
const samples = Number(Deno.args[1] ?? 14_400);
const began = performance.now();
const config = Deno.env.get("DATABASE_URL")
  ? undefined
  : await benchConfig("bpt_pg_cuts_bench", "pgcuts:");
const stats = await archiveUnderCuts({
  databaseUrl: config?.databaseUrl ?? Deno.env.get("DATABASE_URL")!,
  redisRestUrl: Deno.env.get("UPSTASH_REDIS_REST_URL") ?? "http://127.0.0.1:58080",
  redisRestToken: Deno.env.get("UPSTASH_REDIS_REST_TOKEN") ?? "bpt-test-token",
  rounds,
  samples,
  seed: Number(Deno.env.get("SEED") ?? 7),
  outageProbes: 10,
  log: (line) => console.log(line),
});
console.log(JSON.stringify({ ...stats, outage: undefined }, null, 2));
const ms = stats.outage.map((o) => o.ms).sort((a, b) => a - b);
console.log(
  `during a Postgres outage: ${stats.outage.map((o) => o.status).join(",")} answered in ` +
    `median ${ms[Math.floor(ms.length / 2)]?.toFixed(0)} ms, max ${ms.at(-1)?.toFixed(0)} ms`,
);
console.log(
  `${stats.stops} Postgres stops in ${stats.rounds} archives of ${samples} samples: ` +
    `${stats.crashes} crashes, ${stats.completeAttempts} complete attempts, ` +
    `${stats.samplesAccepted} samples accepted, ${stats.samplesArchived} archived, ` +
    `${stats.lostRides} rides lost, ${((performance.now() - began) / 1000).toFixed(0)} s`,
);
record({
  bench: "pg_cuts",
  cell: `samples lost over ${stats.stops} Postgres cuts during archives (accepted − archived)`,
  value: stats.samplesAccepted - stats.samplesArchived,
  unit: "samples",
  better: "lower",
  target: "0",
  met: stats.samplesAccepted === stats.samplesArchived && stats.lostRides === 0,
});
record({
  bench: "pg_cuts",
  cell: "answer time of a request while Postgres is cut, median",
  value: ms[Math.floor(ms.length / 2)] ?? NaN,
  unit: "ms",
  better: "lower",
});
