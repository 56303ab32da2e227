/**
 * Scale-out benchmark: three real instances (src/main.ts) behind Debian's nginx on loopback
 * (tests/cluster.ts), riders posting on both paths (half the old clients' stream messages, half
 * REST samples) as fast as they are answered, SSE viewers of the legacy streams spread over the
 * instances by the balancer. Two phases of `--seconds` each:
 *
 * 1. steady: samples/s accepted across the instances, delivery latency (receive − send) to every
 *    viewer, Redis commands per second;
 * 2. a kill: instance 1 is killed with SIGKILL a third of the way in and started again at two
 *    thirds; then every ride is completed and the archive compared with what was accepted, and
 *    every viewer's frames with what was posted (viewers reconnect with Last-Event-ID).
 *
 * Uses the test services (Postgres 55433, Redis 56380 through the REST bridge 58080), its own
 * database `bpt_scale_bench` (recreated) and the key prefix `scalebench:`. Needs nginx
 * (`apt-get install nginx-light`). Prints numbers; asserts nothing.
 *
 *   deno run -A bench/scale_out_bench.ts [--viewers 1000] [--senders 20] [--seconds 10]
 */
import postgres from "postgres";
import { generatePrivateKeyPem } from "../src/auth/tokens.ts";
import { type Frame, postRetrying, reconnectingViewer, startCluster } from "../tests/cluster.ts";
import { Redis as RespClient } from "../tests/deps/ioredis.ts";
import { delay } from "../tests/local_servers.ts";
import { benchConfig } from "./bench_app.ts";
import { percentile, record } from "./report.ts";

const arg = (name: string, fallback: number) => {
  const at = Deno.args.indexOf(name);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
};
const viewerCount = arg("--viewers", 1000);
const senders = arg("--senders", 20);
const seconds = arg("--seconds", 10);
const streams = Math.max(1, Math.floor(senders / 2));

const config = await benchConfig("bpt_scale_bench", "scalebench:");
const cluster = await startCluster({
  instances: 3,
  env: {
    DATABASE_URL: config.databaseUrl,
    MIGRATE_ON_START: "true",
    UPSTASH_REDIS_REST_URL: config.redisRestUrl,
    UPSTASH_REDIS_REST_TOKEN: config.redisRestToken,
    REDIS_KEY_PREFIX: "scalebench:",
    JWT_PRIVATE_KEY: await generatePrivateKeyPem(),
    LOG_LEVEL: "error",
    PASSWORD_MEMORY_KIB: "1024",
    PASSWORD_ITERATIONS: "1",
    RATE_LIMIT_PER_MINUTE: "0",
    SSE_MAX_PER_RIDER: String(viewerCount + 10),
    TRUSTED_PROXY_HOPS: "1",
    // Every rider here signs up from this one machine: the per-address sign-in limit is not measured.
    AUTH_CLIENT_ATTEMPTS: "100000",
  },
});
const redis = new RespClient(Deno.env.get("BENCH_REDIS_URL") ?? "redis://127.0.0.1:56380");
const sql = postgres(config.databaseUrl, { max: 2, onnotice: () => {} });
const api = (path: string) => `${cluster.url}${path}`;

const post = (path: string, token: string, body: unknown) =>
  postRetrying(api(path), token, body) as Promise<
    // deno-lint-ignore no-explicit-any
    any
  >;

type Rider = {
  token: string;
  workoutId: string;
  stream?: string;
  accepted: Map<number, string>;
  last: number;
};

async function newRiders(label: string): Promise<Rider[]> {
  const riders: Rider[] = [];
  for (let r = 0; r < senders; r++) {
    const session = await post("/api/auth/register", "", {
      email: `scale-${label}-${r}-${crypto.randomUUID().slice(0, 8)}@example.com`,
      password: "scale out password",
    });
    const token = session.accessToken as string;
    if (r < streams) {
      const stream = `scale-${label}-${r}-${crypto.randomUUID().slice(0, 6)}`;
      const created = await post("/api/streams/create", token, { streamName: stream });
      riders.push({ token, workoutId: created.workoutId, stream, accepted: new Map(), last: 0 });
    } else {
      const created = await post("/api/workouts", token, {});
      riders.push({ token, workoutId: created.workout.id, accepted: new Map(), last: 0 });
    }
  }
  return riders;
}

/** One phase: riders post for `seconds`, viewers watch; `during` runs alongside. */
async function phase(label: string, during: () => Promise<void>) {
  const riders = await newRiders(label);
  const latencies: number[] = [];
  const frames = new Map<ReturnType<typeof reconnectingViewer>, Frame[]>();
  const owner = new Map<ReturnType<typeof reconnectingViewer>, Rider>();
  const legacy = riders.filter((r) => r.stream);
  for (let v = 0; v < viewerCount; v++) {
    const rider = legacy[v % legacy.length];
    const seen: Frame[] = [];
    const viewer = reconnectingViewer(
      api(`/api/streams/${rider.stream}/listen`),
      { authorization: `Bearer ${rider.token}` },
      (frame) => {
        if (frame.data.type !== "message") return;
        seen.push(frame);
        const message = (frame.data.data as { message?: string }).message;
        if (message) latencies.push(Date.now() - JSON.parse(message).timestamp);
      },
    );
    frames.set(viewer, seen);
    owner.set(viewer, rider);
  }
  await Promise.all([...frames.keys()].map((v) => v.connected));
  const commandsBefore = await commandsProcessed();
  const started = performance.now();
  const until = started + seconds * 1000;
  const posting = riders.map(async (rider) => {
    while (performance.now() < until) {
      // Distinct, increasing times close to the send time: one sample each, read back by viewers.
      const time = rider.last = Math.max(rider.last + 1, Date.now());
      const answer = rider.stream
        ? await post(`/api/streams/${rider.stream}/messages`, rider.token, {
          message: JSON.stringify({
            power: 250,
            cadence: 90,
            timestamp: time,
            dataType: "workout_metrics",
          }),
        })
        : await post(`/api/workouts/${rider.workoutId}/samples`, rider.token, {
          samples: [{ time, power: 250, cadence: 90 }],
        });
      if (answer) rider.accepted.set(time, String(answer.messageId ?? ""));
    }
  });
  await Promise.all([...posting, during()]);
  const elapsed = (performance.now() - started) / 1000;
  const commands = (await commandsProcessed()) - commandsBefore;
  await delay(1500); // the last frames reach every viewer
  await Promise.all([...frames.keys()].map((v) => v.stop()));
  let missed = 0, reconnected = 0;
  for (const [viewer, seen] of frames) {
    const ids = new Set(seen.map((f) => f.data.id as string));
    for (const id of owner.get(viewer)!.accepted.values()) if (!ids.has(id)) missed++;
    if (viewer.stats.reconnects > 0) reconnected++;
  }
  let accepted = 0, lost = 0, archived = 0;
  for (const rider of riders) {
    await post(`/api/workouts/${rider.workoutId}/complete`, rider.token, {});
    const rows = await sql<{ time: Date }[]>`
      select time from telemetry where workout_id = ${rider.workoutId}
    `;
    const stored = new Set(rows.map((r) => r.time.getTime()));
    archived += rows.length;
    accepted += rider.accepted.size;
    for (const time of rider.accepted.keys()) if (!stored.has(time)) lost++;
  }
  return {
    perSecond: accepted / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    commandsPerSecond: commands / elapsed,
    accepted,
    archived,
    lost,
    missed,
    reconnected,
  };
}

async function commandsProcessed(): Promise<number> {
  const info = await redis.info("stats");
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}

try {
  console.log(
    `scale-out: 3 instances behind nginx, ${senders} riders (${streams} on stream messages, ` +
      `${senders - streams} on REST samples), ${viewerCount} SSE viewers, ${seconds} s per phase`,
  );
  const steady = await phase("steady", async () => {});
  console.log(
    `steady:  ${steady.perSecond.toFixed(0)} samples/s accepted; delivery p50 ` +
      `${steady.p50.toFixed(1)} ms, p99 ${steady.p99.toFixed(1)} ms; ` +
      `${steady.commandsPerSecond.toFixed(0)} Redis commands/s; ${steady.lost} accepted samples ` +
      `not archived, ${steady.missed} frames missed`,
  );
  const killed = await phase("kill", async () => {
    await delay((seconds * 1000) / 3);
    await cluster.kill(1);
    await delay((seconds * 1000) / 3);
    await cluster.restart(1);
  });
  console.log(
    `kill -9: ${killed.perSecond.toFixed(0)} samples/s accepted; ${killed.accepted} accepted, ` +
      `${killed.archived} rows archived, ${killed.lost} accepted samples not archived; ` +
      `${killed.reconnected} of ${viewerCount} viewers reconnected, ${killed.missed} frames ` +
      `missed; delivery p50 ${killed.p50.toFixed(1)} ms, p99 ${killed.p99.toFixed(1)} ms`,
  );
  const figure = (cell: string, value: number, unit: string, better: "higher" | "lower") =>
    record({ bench: "scale_out", cell, value, unit, better });
  figure(
    "samples/s accepted across 3 instances (both paths)",
    steady.perSecond,
    "samples/s",
    "higher",
  );
  figure(`SSE delivery p50, ${viewerCount} viewers over 3 instances`, steady.p50, "ms", "lower");
  figure(`SSE delivery p99, ${viewerCount} viewers over 3 instances`, steady.p99, "ms", "lower");
  figure(
    "Redis commands per second while posting",
    steady.commandsPerSecond,
    "commands/s",
    "lower",
  );
  record({
    bench: "scale_out",
    cell: "accepted samples not archived, one instance killed with SIGKILL mid-run",
    value: killed.lost,
    unit: "samples",
    better: "lower",
    target: "0",
    met: killed.lost === 0,
  });
  record({
    bench: "scale_out",
    cell:
      `frames missed by ${viewerCount} viewers across the kill (they reconnect with Last-Event-ID)`,
    value: killed.missed,
    unit: "frames",
    better: "lower",
    target: "0",
    met: killed.missed === 0,
  });
} finally {
  redis.disconnect();
  await sql.end();
  await cluster.stop();
}
