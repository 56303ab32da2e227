// XADD latency and throughput through the Upstash REST bridge versus a direct RESP client.
// Starts its own redis-server and bridge (a separate process, as in real use) on free loopback
// ports, runs bounded counts, stops both.
//
// Run: deno run --allow-net --allow-env --allow-read --allow-run --allow-sys \
//        bench/redis_rest_bridge_bench.ts [ops]

import { record } from "./report.ts";
import { Redis as Upstash } from "@upstash/redis";
import { Redis as IORedis } from "../tests/deps/ioredis.ts";

const OPS = Number(Deno.args[0] ?? "5000");
const CONCURRENCY = 50;
const WARMUP = 200;
const TOKEN = "bench-token";

/** A ~200-byte JSON document, like a batch of live samples. */
function sampleDoc(i: number): string {
  return JSON.stringify({
    t: 1_700_000_000_000 + i * 1000,
    power: 200 + (i % 150),
    cadence: 85 + (i % 10),
    heartRate: 140 + (i % 30),
    speed: 9.72,
    distance: 12_345.6 + i,
    altitude: 312.4,
    lat: 48.137154,
    lon: 11.576124,
    workoutId: "0b6f3c1e-5d2a-4c8e-9f4b-2a7d1e6c3b90",
    id: "12345678901234567890",
  });
}

interface Runner {
  name: string;
  xadd(key: string, doc: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

interface Row {
  name: string;
  median: number;
  p99: number;
  seqOps: number;
  concOps: number;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitForRedis(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      conn.close();
      if (n && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG")) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(runner: Runner): Promise<Row> {
  const key = `bpt:bench:${runner.name.replace(/\W+/g, "-")}`;
  await runner.del(key);
  for (let i = 0; i < WARMUP; i++) await runner.xadd(key, sampleDoc(i));

  const latencies: number[] = [];
  const seqStart = performance.now();
  for (let i = 0; i < OPS; i++) {
    const t0 = performance.now();
    await runner.xadd(key, sampleDoc(i));
    latencies.push(performance.now() - t0);
  }
  const seqMs = performance.now() - seqStart;
  latencies.sort((a, b) => a - b);

  await runner.del(key);
  const perCaller = Math.ceil(OPS / CONCURRENCY);
  const concStart = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, c) => {
      for (let i = 0; i < perCaller; i++) await runner.xadd(key, sampleDoc(c * perCaller + i));
    }),
  );
  const concMs = performance.now() - concStart;
  await runner.del(key);

  return {
    name: runner.name,
    median: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    seqOps: OPS / (seqMs / 1000),
    concOps: (perCaller * CONCURRENCY) / (concMs / 1000),
  };
}

function printTable(rows: Row[]): void {
  const header = [
    "path",
    "seq median ms",
    "seq p99 ms",
    "seq ops/s",
    `${CONCURRENCY} callers ops/s`,
  ];
  const lines = rows.map((r) => [
    r.name,
    r.median.toFixed(3),
    r.p99.toFixed(3),
    Math.round(r.seqOps).toString(),
    Math.round(r.concOps).toString(),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(fmt(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const line of lines) console.log(fmt(line));
}

async function waitForBridge(url: string, bridge: Deno.ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/health`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      bridge.kill("SIGKILL");
      throw new Error(`bridge did not answer on ${url}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function main(): Promise<void> {
  const redisPort = freePort();
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const redisServer = new Deno.Command("redis-server", {
    args: ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const bridgePort = freePort();
  const bridgeUrl = `http://127.0.0.1:${bridgePort}`;
  const bridgeScript = new URL("../scripts/redis_rest_bridge.ts", import.meta.url).pathname;
  const bridge = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", bridgeScript],
    env: { BRIDGE_PORT: String(bridgePort), BRIDGE_REDIS_URL: redisUrl, BRIDGE_TOKEN: TOKEN },
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const direct = new IORedis(redisUrl, { lazyConnect: true });
  try {
    await waitForRedis(redisPort);
    await waitForBridge(bridgeUrl, bridge);
    await direct.connect();
    const upstash = new Upstash({ url: bridgeUrl, token: TOKEN });
    const upstashSingle = new Upstash({
      url: bridgeUrl,
      token: TOKEN,
      enableAutoPipelining: false,
    });

    console.log(`XADD of a ${sampleDoc(0).length}-byte JSON field, ${OPS} ops per phase, loopback`);
    const rows = [];
    rows.push(
      await measure({
        name: "@upstash/redis -> bridge -> Redis",
        xadd: (key, doc) => upstash.xadd(key, "*", { d: doc }),
        del: (key) => upstash.del(key),
      }),
    );
    rows.push(
      await measure({
        name: "@upstash/redis (no auto-pipelining) -> bridge",
        xadd: (key, doc) => upstashSingle.xadd(key, "*", { d: doc }),
        del: (key) => upstashSingle.del(key),
      }),
    );
    rows.push(
      await measure({
        name: "ioredis direct -> Redis",
        xadd: (key, doc) => direct.xadd(key, "*", "d", doc),
        del: (key) => direct.del(key),
      }),
    );
    printTable(rows);
    const floor = rows[2];
    for (const row of rows.slice(0, 2)) {
      record({
        bench: "redis_rest_bridge",
        cell: `XADD ${row.name}, ${CONCURRENCY} callers, ops/s`,
        value: row.concOps,
        unit: "ops/s",
        better: "higher",
        floor: { name: "direct XADD (ioredis)", value: floor.concOps },
      });
      record({
        bench: "redis_rest_bridge",
        cell: `XADD ${row.name}, one caller, p50`,
        value: row.median,
        unit: "ms",
        better: "lower",
        floor: { name: "direct XADD (ioredis)", value: floor.median },
      });
    }
  } finally {
    direct.disconnect();
    bridge.kill("SIGTERM");
    await bridge.status;
    redisServer.kill("SIGTERM");
    await redisServer.status;
  }
}

if (import.meta.main) await main();
