/**
 * Rate-limit benchmark: what the Redis-backed request limit and the failed-credential limit cost
 * per request on the legacy hot path (`POST /api/streams/:name/messages` with the shared key).
 *
 * Runs the real app in-process (app.request, no sockets, so the numbers are the app's own work)
 * with 50 clients (distinct X-Forwarded-For addresses behind one trusted proxy) sending
 * concurrently, in four set-ups:
 *   off        RATE_LIMIT_PER_MINUTE=0, AUTH_FAILURES_PER_CLIENT=0
 *   credential only the failed-credential limit (30 per 60 s)
 *   shipped    both limits as shipped (1200 per minute, claims of up to 24 requests per Redis call)
 *   naive      limits off, plus one @upstash/ratelimit `limit()` call per request (ephemeral
 *              cache on): what a Redis round trip per request would cost
 * three rounds in rotating order, and prints the median wall time and this process's CPU time per
 * request, and the Redis commands the limits sent per 1000 requests. Prints numbers only.
 *
 * Needs a migrated database (DATABASE_URL) and an Upstash REST endpoint (UPSTASH_REDIS_REST_URL,
 * UPSTASH_REDIS_REST_TOKEN), e.g. the dev services; keys under `bptrlb:` (they expire in 2 min).
 *
 *   deno run --allow-net --allow-env --allow-read bench/rate_limit_bench.ts [--requests 20000]
 */
import { record } from "./report.ts";
import process from "node:process";
import { Ratelimit } from "@upstash/ratelimit";
import { createApp } from "../src/app.ts";
import { createTokenIssuer, generatePrivateKeyPem } from "../src/auth/tokens.ts";
import { type Config, loadConfig } from "../src/core/config.ts";
import { createSql } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { createDeps } from "../src/wiring.ts";
import { createLogger } from "../src/core/log.ts";

const requestsArg = Deno.args.indexOf("--requests");
const total = requestsArg >= 0 ? Number(Deno.args[requestsArg + 1]) : 20_000;
const clients = 50;
const apiKey = "rate-limit-bench-key";
const message = JSON.stringify({
  message: JSON.stringify({
    power: 250,
    cadence: 92,
    heartrate: 151,
    speed: 33.1,
    distance: 12034,
    altitude: 120,
    incline: 1.2,
    timestamp: Date.now(),
    elapsed: "00:21:24",
    dataType: "workout_metrics",
  }),
});

const base = {
  ...loadConfig({ ...Deno.env.toObject(), LOG_LEVEL: "silent" }),
  apiKey,
  trustedProxyHops: 1,
  sweepIntervalS: 0,
  logLevel: "silent" as const,
};
const sql = createSql(base.databaseUrl, { max: 10 });
await migrate(sql);
const tokens = await createTokenIssuer({
  privateKeyPem: await generatePrivateKeyPem(),
  issuer: base.jwt.issuer,
  audience: base.jwt.audience,
  ttlS: 3600,
});

/**
 * Commands sent to the Upstash endpoint through @upstash/redis (fetch), counted: its automatic
 * pipelining merges concurrent commands into one REST request, so requests alone undercount.
 * (The message POST itself goes through live/transport.ts, not fetch, and is not counted.)
 */
let restCommands = 0;
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (url.startsWith(base.redisRestUrl)) {
    const body = JSON.parse(String(init?.body ?? "[]"));
    restCommands += Array.isArray(body[0]) ? body.length : 1;
  }
  return realFetch(input, init);
};

type Setup = { name: string; config: Partial<Config>; naive?: boolean };
const setups: Setup[] = [
  {
    name: "off",
    config: { rateLimitPerMinute: 0, credentialFailures: { perClient: 0, windowS: 60 } },
  },
  {
    name: "credential",
    config: { rateLimitPerMinute: 0, credentialFailures: { perClient: 30, windowS: 60 } },
  },
  {
    name: "shipped",
    config: { rateLimitPerMinute: 1200, credentialFailures: { perClient: 30, windowS: 60 } },
  },
  {
    name: "naive",
    config: { rateLimitPerMinute: 0, credentialFailures: { perClient: 0, windowS: 60 } },
    naive: true,
  },
];

async function run(setup: Setup, count: number) {
  const prefix = `bptrlb-${crypto.randomUUID().slice(0, 8)}:`;
  const config = { ...base, ...setup.config, redisKeyPrefix: prefix };
  const deps = createDeps(config, { sql, tokens, log: createLogger("silent") });
  const app = createApp(deps);
  const naive = setup.naive
    ? new Ratelimit({
      redis: deps.live.redis,
      limiter: Ratelimit.slidingWindow(1200, "60000 ms"),
      prefix: `${deps.live.keys.prefix}naive`,
      timeout: 1000,
    })
    : undefined;
  const stream = `rlb-${crypto.randomUUID().slice(0, 8)}`;
  const headers = (client: number) => ({
    "x-api-key": apiKey,
    "content-type": "application/json",
    "x-forwarded-for": `198.51.100.${client}`,
  });
  const created = await app.request("/api/streams/create", {
    method: "POST",
    headers: headers(1),
    body: JSON.stringify({ streamName: stream }),
  });
  if (!created.ok) throw new Error(`create failed: ${created.status} ${await created.text()}`);
  const statuses = new Map<number, number>();
  let restBefore = 0;
  let restMessages = 0;
  const post = async (client: number) => {
    if (naive) await naive.limit(`legacy:198.51.100.${client}`);
    const res = await app.request(`/api/streams/${stream}/messages`, {
      method: "POST",
      headers: headers(client),
      body: message,
    });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    await res.body?.cancel();
  };
  // Warm-up (JIT, connections, scripts loaded), then the measured run.
  await Promise.all(Array.from({ length: clients }, (_, c) => post(c)));
  statuses.clear();
  restBefore = restCommands;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const perClient = Math.ceil(count / clients);
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; i < perClient; i++) await post(c);
    }),
  );
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  restMessages = restCommands - restBefore;
  const sent = perClient * clients;
  await app.request(`/api/streams/${stream}`, { method: "DELETE", headers: headers(1) });
  deps.hub.close();
  deps.live.close();
  deps.passwords.close();
  return {
    sent,
    statuses: Object.fromEntries(statuses),
    usPerRequest: (wallMs * 1000) / sent,
    cpuUsPerRequest: (cpu.user + cpu.system) / sent,
    restPer1000: (restMessages / sent) * 1000,
    perSecond: sent / (wallMs / 1000),
  };
}

console.log(
  `legacy message POST, ${clients} concurrent clients, ${total} requests per set-up, in-process\n`,
);
console.log(
  "set-up       req/s   wall µs/req   CPU µs/req   Redis commands/1000   statuses",
);
const runs: Record<string, Awaited<ReturnType<typeof run>>[]> = {};
for (const setup of setups) await run(setup, Math.min(total, 5000)); // warm every path up
for (let round = 0; round < 3; round++) {
  for (let i = 0; i < setups.length; i++) {
    const setup = setups[(i + round) % setups.length];
    (runs[setup.name] ??= []).push(await run(setup, total));
  }
}
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results: Record<string, { wall: number; cpu: number; rest: number; perSecond: number }> = {};
for (const setup of setups) {
  const list = runs[setup.name];
  const r = {
    wall: median(list.map((x) => x.usPerRequest)),
    cpu: median(list.map((x) => x.cpuUsPerRequest)),
    rest: median(list.map((x) => x.restPer1000)),
    perSecond: median(list.map((x) => x.perSecond)),
  };
  results[setup.name] = r;
  const statuses = list.map((x) => JSON.stringify(x.statuses)).join(" ");
  console.log(
    `${setup.name.padEnd(10)} ${r.perSecond.toFixed(0).padStart(7)} ${
      r.wall.toFixed(1).padStart(13)
    } ${r.cpu.toFixed(1).padStart(12)} ${r.rest.toFixed(1).padStart(21)}   ${statuses}`,
  );
}
const off = results.off;
console.log("\nadded per request, compared with off (medians of 3 runs):");
for (const name of ["credential", "shipped", "naive"]) {
  const r = results[name];
  console.log(
    `  ${name.padEnd(10)} CPU ${(r.cpu - off.cpu).toFixed(1)} µs, wall ${
      (r.wall - off.wall).toFixed(1)
    } µs, ` +
      `Redis commands ${(r.rest - off.rest).toFixed(1)} per 1000 requests`,
  );
}
record({
  bench: "rate_limit",
  cell: "legacy message POST with the shipped limits, CPU per request (in-process, 50 clients)",
  value: results.shipped.cpu,
  unit: "µs",
  better: "lower",
  floor: { name: "limits off", value: off.cpu },
});
record({
  bench: "rate_limit",
  cell: "Redis commands the shipped limits send per 1000 requests",
  value: results.shipped.rest - off.rest,
  unit: "commands",
  better: "lower",
});
await sql.end({ timeout: 5 });
