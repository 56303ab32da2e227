// Delay of the revocation feed between two instances (src/auth/revocations.ts): instance A
// publishes a revocation, instance B polls the same Redis prefix; the time until B's in-memory
// `isRevoked` turns true (and its listener fires). Prints p50, p95 and max over a number of runs.
//
// Run against an Upstash REST endpoint (the local bridge or SRH), e.g.:
//   UPSTASH_REDIS_REST_URL=http://127.0.0.1:58079 UPSTASH_REDIS_REST_TOKEN=bpt-local-token \
//   deno run --allow-net --allow-env bench/revocation_bench.ts [runs]

import { record } from "./report.ts";
import { createRevocations, type Revocations } from "../src/auth/revocations.ts";
import { loadConfig } from "../src/core/config.ts";
import { createLiveStore } from "../src/live/store.ts";
import { createLogger } from "../src/core/log.ts";

const RUNS = Number(Deno.args[0] ?? "40");
const config = loadConfig(Deno.env.toObject());
const prefix = `bench-revocations-${crypto.randomUUID().slice(0, 8)}:`;
const log = createLogger("warn");

function instance(): { live: ReturnType<typeof createLiveStore>; feed: Revocations } {
  const live = createLiveStore({
    url: config.redisRestUrl,
    token: config.redisRestToken,
    prefix,
  });
  const feed = createRevocations(live, { retentionMs: 3_600_000, log });
  feed.start();
  return { live, feed };
}

const a = instance();
const b = instance();
while (!a.feed.fresh() || !b.feed.fresh()) await new Promise((r) => setTimeout(r, 10));

const heard = new Map<string, number>();
b.feed.subscribe((r) => heard.set(r.id, performance.now()));
const delays: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const id = crypto.randomUUID();
  // Spread publications over the poll cycle.
  await new Promise((r) => setTimeout(r, Math.random() * 250));
  const t0 = performance.now();
  await a.feed.publish({ kind: "session", id });
  while (!b.feed.isRevoked({ kind: "session", id })) await new Promise((r) => setTimeout(r, 1));
  delays.push((heard.get(id) ?? performance.now()) - t0);
}
delays.sort((x, y) => x - y);
const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))];
console.log(
  `revocation A -> B (${RUNS} runs, poll 250 ms): p50 ${at(0.5).toFixed(0)} ms, ` +
    `p95 ${at(0.95).toFixed(0)} ms, max ${delays.at(-1)!.toFixed(0)} ms`,
);
record({
  bench: "revocation",
  cell: "revocation published on one instance until another refuses it, p50",
  value: at(0.5),
  unit: "ms",
  better: "lower",
  target: "≤ 250 ms (the poll interval)",
  met: at(0.5) <= 250,
});
await a.live.redis.del(a.live.keys.revocations);
await a.feed.close();
await b.feed.close();
a.live.close();
b.live.close();
