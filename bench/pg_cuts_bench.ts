/**
 * Postgres cut 50 times at random moments of a 4-hour archive (14,400 samples at 1 Hz), against
 * the real process: prints crashes, complete attempts, samples accepted vs archived.
 *
 * Run (with the test services up and a migrated database of your own):
 *   DATABASE_URL=… UPSTASH_REDIS_REST_URL=… UPSTASH_REDIS_REST_TOKEN=… \
 *     deno run -A bench/pg_cuts_bench.ts [rounds] [samples]
 */
import { archiveUnderCuts } from "../tests/archive_under_cuts.ts";

const rounds = Number(Deno.args[0] ?? 50);
const samples = Number(Deno.args[1] ?? 14_400);
const began = performance.now();
const stats = await archiveUnderCuts({
  databaseUrl: Deno.env.get("DATABASE_URL")!,
  redisRestUrl: Deno.env.get("UPSTASH_REDIS_REST_URL")!,
  redisRestToken: Deno.env.get("UPSTASH_REDIS_REST_TOKEN")!,
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
