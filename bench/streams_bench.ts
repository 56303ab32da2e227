/**
 * Legacy live-streams benchmark (issue 6): what the old clients' hot paths cost on one instance.
 *
 * 1. `POST /api/streams/:name/messages` (shared key, one ~300-byte COMPAT telemetry message) with
 *    1 and 50 concurrent senders, measured by `wrk` against a real service process this bench
 *    starts; then the same load split into its parts (HTTP only / Redis hop only) with the CPU
 *    time every process spent per request, one request's latency split in-process (createApp
 *    with the real and a stubbed store), and how many REST requests each POST costs.
 * 2. SSE delivery latency (receive time − send time, every viewer × every message) with 1, 100 and
 *    1,000 viewers of one stream: raw-TCP viewers in a worker thread, 50 messages at 5/s; the
 *    service's CPU per message (user/system) and memory per viewer (its RSS before and after the
 *    viewers connected; `--heap` adds its live JS heap after a GC, read through its inspector); the
 *    floor: a direct XADD → XREAD between two plain Redis clients.
 * 3. Redis commands per second from `INFO stats/commandstats` deltas: no viewers, viewers idle,
 *    viewers while posting, many streams, after every viewer left.
 *
 * Needs the dev services (`deno task services`) and `wrk` (`apt-get install -y wrk`). Uses its own
 * database `bpt_bench_streams` (recreated) and the Redis key prefix `bptsb:` (deleted at the end).
 * Prints numbers and verdicts; asserts nothing. Takes about 2–3 minutes.
 *
 *   deno run --allow-net --allow-env --allow-read --allow-run bench/streams_bench.ts [--quick]
 *
 * `--quick` shortens every run (2 s wrk runs, 10 messages) to check the bench itself. For parts 2
 * and 3 alone: `--sse-only`; `--service=DIR` runs the service from another checkout (the code
 * before a change, with this bench's viewers); `--database=NAME --prefix=P:` when two runs share
 * the services; `--viewer-workers=N` viewer threads (1).
 */
import { createPasswordHasher } from "../src/auth/password_pool.ts";
import { createCredentialCache } from "../src/auth/credential_cache.ts";
import { createRevocations } from "../src/auth/revocations.ts";
import { Redis as RespClient } from "../tests/deps/ioredis.ts";
import { createApp } from "../src/app.ts";
import { createTokenIssuer, generatePrivateKeyPem } from "../src/auth/tokens.ts";
import { loadConfig } from "../src/core/config.ts";
import { createSql } from "../src/db/client.ts";
import type { Deps } from "../src/http/deps.ts";
import { liveServices } from "../src/wiring.ts";
import { createLiveStore } from "../src/live/store.ts";
import { createLogger } from "../src/core/log.ts";
import { streamStore } from "../src/streams/store.ts";
import { record } from "./report.ts";

const VIEWER_WORKER = "bpt-streams-bench-viewers";

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const num = (v: number, digits = 1, width = 8) =>
  (Number.isFinite(v) ? v.toFixed(digits) : "-").padStart(width);
const int = (v: number, width = 8) =>
  (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "-")
    .padStart(width);

/** One COMPAT telemetry message (a JSON text in `message`), with the send time in it. */
function telemetryText(sequence: number, sentAt: number): string {
  const elapsed = 1284 + sequence;
  const hh = String(Math.floor(elapsed / 3600)).padStart(2, "0");
  const mm = String(Math.floor(elapsed / 60) % 60).padStart(2, "0");
  const ss = String(elapsed % 60).padStart(2, "0");
  return JSON.stringify({
    power: 240 + (sequence % 20),
    cadence: 92,
    heartrate: 148,
    speed: 32.4,
    distance: 12840.5 + sequence * 9,
    altitude: 112.3,
    incline: 1.5,
    timestamp: sentAt,
    elapsed: `${hh}:${mm}:${ss}`,
    dataType: "workout_metrics",
    sender: "streams-bench",
    sequence,
  });
}

// ---------------------------------------------------------------------------------------------
// SSE viewers (runs inside a worker thread): raw HTTP/1.1 over TCP, chunked decoding, frame parse
// ---------------------------------------------------------------------------------------------

type ViewerJob = {
  port: number;
  stream: string;
  apiKey: string;
  count: number;
  messages: number;
};

type ViewerReport = {
  latencies: Float64Array;
  /** Per message sequence: the earliest and latest receive time (epoch ms) over this group. */
  firstReceived: Float64Array;
  lastReceived: Float64Array;
  connected: number;
  failed: number;
  errors: string[];
  duplicates: number;
  missing: number;
  outOfOrder: number;
  otherFrames: number;
  pings: number;
  deleted: number;
  ended: number;
};

function viewerWorker(): void {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent) => void) | null;
    postMessage: (data: unknown, transfer?: Transferable[]) => void;
  };
  const encoder = new TextEncoder();
  const CRLF = [13, 10];
  let job: ViewerJob;
  const conns: (Deno.TcpConn | undefined)[] = [];
  const runs: Promise<void>[] = [];
  const latencies: number[] = [];
  let seen: Uint8Array[] = [];
  let firstReceived = new Float64Array(0);
  let lastReceived = new Float64Array(0);
  const errors: string[] = [];
  let connected = 0, failed = 0, outOfOrder = 0, otherFrames = 0, pings = 0, deleted = 0;
  let ended = 0;

  function indexOf(bytes: Uint8Array, pattern: number[], from = 0): number {
    outer: for (let i = from; i <= bytes.length - pattern.length; i++) {
      for (let k = 0; k < pattern.length; k++) if (bytes[i + k] !== pattern[k]) continue outer;
      return i;
    }
    return -1;
  }

  function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
    if (a.length === 0) return b.slice();
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  }

  async function viewer(i: number, onConnected: () => void, onFailed: (e: string) => void) {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port: job.port });
    } catch (err) {
      onFailed(`connect: ${err}`);
      return;
    }
    conns[i] = conn;
    const request = `GET /api/streams/${job.stream}/listen HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `X-API-Key: ${job.apiKey}\r\nAccept: text/event-stream\r\n\r\n`;
    const decoder = new TextDecoder();
    const buf = new Uint8Array(16 * 1024);
    // The bytes of an incomplete response head or chunk, kept for the next read (a copy: `buf` is
    // reused). Most reads hold whole chunks and are parsed in place.
    let carry: Uint8Array | null = null;
    let headersDone = false;
    let chunked = false;
    let bodyDone = false;
    let text = "";
    let lastSeq = -1;
    let isConnected = false;
    try {
      let written = 0;
      const bytes = encoder.encode(request);
      while (written < bytes.length) written += await conn.write(bytes.subarray(written));
      while (!bodyDone) {
        const n = await conn.read(buf);
        if (n === null) break;
        const now = Date.now();
        let bytes: Uint8Array = buf.subarray(0, n);
        if (carry) {
          bytes = concat(carry, bytes);
          carry = null;
        }
        let pos = 0;
        if (!headersDone) {
          const end = indexOf(bytes, [13, 10, 13, 10]);
          if (end < 0) {
            carry = bytes.slice();
            continue;
          }
          const head = decoder.decode(bytes.subarray(0, end));
          if (!/^HTTP\/1\.1 200/.test(head)) {
            onFailed(head.split("\r\n")[0]);
            break;
          }
          chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
          pos = end + 4;
          headersDone = true;
        }
        if (chunked) {
          while (true) {
            const lineEnd = indexOf(bytes, CRLF, pos);
            if (lineEnd < 0) break;
            let size = 0; // the chunk size line: hex digits (Deno sends no chunk extensions)
            for (let k = pos; k < lineEnd; k++) {
              const c = bytes[k];
              size = size * 16 + (c <= 57 ? c - 48 : (c | 32) - 87);
            }
            if (size === 0) {
              bodyDone = true;
              pos = bytes.length;
              break;
            }
            if (bytes.length < lineEnd + 2 + size + 2) break;
            // A chunk is one frame the hub wrote whole, so it decodes on its own.
            text += decoder.decode(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
            pos = lineEnd + 2 + size + 2;
          }
          if (pos < bytes.length) carry = bytes.slice(pos);
        } else {
          text += decoder.decode(bytes.subarray(pos), { stream: true });
        }
        let sep: number;
        while ((sep = text.indexOf("\n\n")) >= 0) {
          const frameText = text.slice(0, sep);
          text = text.slice(sep + 2);
          for (const line of frameText.split("\n")) {
            if (line.startsWith(":")) {
              pings++;
              continue;
            }
            if (!line.startsWith("data: ")) continue;
            const payload = JSON.parse(line.slice(6));
            if (payload.type === "connected") {
              if (!isConnected) {
                isConnected = true;
                onConnected();
              }
            } else if (payload.type === "message") {
              const message = payload.data?.message;
              let parsed: { sender?: string; sequence?: number; timestamp?: number } | undefined;
              try {
                parsed = typeof message === "string" ? JSON.parse(message) : undefined;
              } catch {
                parsed = undefined;
              }
              if (parsed?.sender === undefined || typeof parsed.sequence !== "number") {
                otherFrames++;
                continue;
              }
              latencies.push(now - parsed.timestamp!);
              if (parsed.sequence < lastSeq) outOfOrder++;
              lastSeq = parsed.sequence;
              if (parsed.sequence < seen[i].length) {
                seen[i][parsed.sequence]++;
                firstReceived[parsed.sequence] = Math.min(firstReceived[parsed.sequence], now);
                lastReceived[parsed.sequence] = Math.max(lastReceived[parsed.sequence], now);
              }
            } else if (payload.type === "stream_deleted") {
              deleted++;
            } else {
              otherFrames++;
            }
          }
        }
      }
    } catch (err) {
      if (!isConnected) onFailed(`read: ${err}`);
    } finally {
      ended++;
      try {
        conn.close();
      } catch {
        // already closed
      }
      conns[i] = undefined;
    }
  }

  scope.onmessage = async (e: MessageEvent) => {
    const msg = e.data as { cmd: string; job?: ViewerJob; timeoutMs?: number };
    if (msg.cmd === "open") {
      job = msg.job!;
      seen = Array.from({ length: job.count }, () => new Uint8Array(job.messages));
      firstReceived = new Float64Array(job.messages).fill(Infinity);
      lastReceived = new Float64Array(job.messages).fill(-Infinity);
      // Connect in waves of 50 so the accept queue never overflows; wait for every "connected".
      for (let start = 0; start < job.count; start += 50) {
        const wave: Promise<void>[] = [];
        for (let i = start; i < Math.min(job.count, start + 50); i++) {
          wave.push(
            new Promise<void>((resolve) => {
              runs.push(viewer(i, () => {
                connected++;
                resolve();
              }, (error) => {
                failed++;
                if (errors.length < 5) errors.push(error);
                resolve();
              }));
            }),
          );
        }
        await Promise.race([Promise.all(wave), sleep(30_000)]);
      }
      scope.postMessage({ type: "opened", connected, failed, errors });
    } else if (msg.cmd === "report") {
      let duplicates = 0, missing = 0;
      for (const counts of seen) {
        for (const c of counts) {
          if (c === 0) missing++;
          if (c > 1) duplicates += c - 1;
        }
      }
      // Viewers that failed to connect count as missing every message.
      missing -= failed * job.messages;
      const report: ViewerReport = {
        latencies: Float64Array.from(latencies),
        firstReceived,
        lastReceived,
        connected,
        failed,
        errors,
        duplicates,
        missing,
        outOfOrder,
        otherFrames,
        pings,
        deleted,
        ended,
      };
      scope.postMessage({ type: "report", report }, [report.latencies.buffer as ArrayBuffer]);
    } else if (msg.cmd === "waitEnd") {
      await Promise.race([Promise.all(runs), sleep(msg.timeoutMs ?? 5000)]);
      const report = { deleted, ended, stillOpen: conns.filter(Boolean).length };
      for (const conn of conns) {
        try {
          conn?.close();
        } catch {
          // closed meanwhile
        }
      }
      await Promise.race([Promise.all(runs), sleep(2000)]);
      scope.postMessage({ type: "ended", ...report });
    }
  };
}

/** A group of viewers in one worker thread. */
class ViewerGroup {
  private worker: Worker;
  private waiting: ((data: Record<string, unknown>) => void)[] = [];

  constructor() {
    this.worker = new Worker(import.meta.url, { type: "module", name: VIEWER_WORKER });
    this.worker.onmessage = (e) => this.waiting.shift()?.(e.data);
    this.worker.onerror = (e) => {
      console.error("viewer worker failed:", e.message);
      e.preventDefault();
    };
  }

  private ask<T>(message: unknown, timeoutMs = 120_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("viewer worker did not answer")), timeoutMs);
      this.waiting.push((data) => {
        clearTimeout(timer);
        resolve(data as T);
      });
      this.worker.postMessage(message);
    });
  }

  open(job: ViewerJob) {
    return this.ask<{ connected: number; failed: number; errors: string[] }>({ cmd: "open", job });
  }
  report() {
    return this.ask<{ report: ViewerReport }>({ cmd: "report" }).then((r) => r.report);
  }
  waitEnd(timeoutMs: number) {
    return this.ask<{ deleted: number; ended: number; stillOpen: number }>({
      cmd: "waitEnd",
      timeoutMs,
    });
  }
  terminate() {
    this.worker.terminate();
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const quick = Deno.args.includes("--quick");
  const repo = new URL("..", import.meta.url).pathname;
  const adminUrl = Deno.env.get("BENCH_DATABASE_ADMIN_URL") ??
    "postgres://postgres@127.0.0.1:55432/postgres";
  const redisUrl = Deno.env.get("BENCH_REDIS_URL") ?? "redis://127.0.0.1:56379";
  const givenRestUrl = Deno.env.get("UPSTASH_REDIS_REST_URL");
  const restToken = Deno.env.get("UPSTASH_REDIS_REST_TOKEN") ?? "bpt-local-token";
  const apiKey = "bench-key";
  const option = (name: string) =>
    Deno.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  // Two runs at once (or a before/after pair) need their own database and key prefix.
  const prefix = option("prefix") ?? "bptsb:";
  const database = option("database") ?? "bpt_bench_streams";
  // `--service=DIR` runs the service from another checkout (e.g. the code before a change) with
  // this bench's viewers and measurements; `--sse-only` skips part 1.
  const serviceDir = option("service") ?? repo;
  const sseOnly = Deno.args.includes("--sse-only");
  // `--heap`: the service runs with the V8 inspector on, so part 2 can read its live heap.
  const heap = Deno.args.includes("--heap");
  // Threads the viewers run in (`--viewer-workers=N`). One by default: on 2 cores, two viewer
  // threads beside the service cost 2–3× the CPU per message of one (33–35 against 11–15 ms per
  // message for 1,000 viewers, 2026-12-02) and held back the service they measure.
  const viewerWorkers = Number(option("viewer-workers") ?? 1);
  const wrkSeconds = quick ? 2 : 10;
  const partSeconds = quick ? 2 : 5;
  const windowSeconds = quick ? 2 : 5;
  const messages = quick ? 10 : 50;
  const messageIntervalMs = 200;
  const pollMs = 200;
  const luaScript = `${repo}bench/wrk_post_message.lua`;

  // --- preconditions ---------------------------------------------------------------------------
  try {
    await new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" }).output();
  } catch {
    console.error("wrk is not installed: apt-get install -y wrk");
    Deno.exit(1);
  }
  const resp = new RespClient(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
  await resp.ping().catch(() => {
    console.error(`Redis does not answer on ${redisUrl}: bash scripts/services.sh up`);
    Deno.exit(1);
  });

  async function dropPrefixKeys(): Promise<number> {
    let cursor = "0";
    let deleted = 0;
    do {
      const [next, keys] = await resp.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) deleted += await resp.del(...keys);
    } while (cursor !== "0");
    return deleted;
  }
  await dropPrefixKeys();

  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.unsafe(`create database ${database}`);
  await admin.end();
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${database}`;

  // --- this checkout's REST bridge (unless UPSTASH_REDIS_REST_URL names one) and the floor ----
  // Its own processes: their CPU per request is theirs alone, not shared with other users of the
  // dev bridge.
  const freePort = () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const free = (listener.addr as Deno.NetAddr).port;
    listener.close();
    return free;
  };
  const spawnDeno = (args: string[], env: Record<string, string>) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", ...args],
      cwd: repo,
      env,
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).spawn();
  const waitFor = async (url: string) => {
    for (const started = performance.now(); performance.now() - started < 30_000;) {
      if (await fetch(url).then((r) => r.body?.cancel()).then(() => true, () => false)) return;
      await sleep(100);
    }
    throw new Error(`${url} does not answer`);
  };
  const bridgePort = freePort();
  const bridgeProcess = givenRestUrl === undefined
    ? spawnDeno(["--allow-net", "--allow-env", "scripts/redis_rest_bridge.ts"], {
      BRIDGE_PORT: String(bridgePort),
      BRIDGE_REDIS_URL: redisUrl,
      BRIDGE_TOKEN: restToken,
    })
    : undefined;
  const restUrl = givenRestUrl ?? `http://127.0.0.1:${bridgePort}`;
  const helloBase = `http://127.0.0.1:${freePort()}`;
  const helloProcess = spawnDeno(["--allow-net", "--allow-env", "bench/hello_server.ts"], {
    PORT: new URL(helloBase).port,
  });
  await Promise.all([waitFor(`${restUrl}/health`), waitFor(helloBase)]);

  // --- the service under test ------------------------------------------------------------------
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const base = `http://127.0.0.1:${port}`;
  const service = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...(heap ? ["--inspect=127.0.0.1:0"] : []),
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "src/main.ts",
    ],
    cwd: serviceDir,
    env: {
      ...Deno.env.toObject(),
      NO_COLOR: "1",
      HOST: "127.0.0.1",
      PORT: String(port),
      API_KEY: apiKey,
      RATE_LIMIT_PER_MINUTE: "0",
      LOG_LEVEL: "warn",
      DATABASE_URL: dbUrl.href,
      UPSTASH_REDIS_REST_URL: restUrl,
      UPSTASH_REDIS_REST_TOKEN: restToken,
      REDIS_KEY_PREFIX: prefix,
      STREAM_POLL_MS: String(pollMs),
      // The idle sweeper (one Redis read a minute, not per stream) would blur the idle windows.
      SWEEP_INTERVAL_S: "0",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const serviceLog: string[] = [];
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      serviceLog.push(chunk);
      if (serviceLog.length > 200) serviceLog.shift();
    }
  };
  const drained = Promise.all([drain(service.stdout), drain(service.stderr)]);
  let serviceExited = false;
  service.status.then(() => serviceExited = true);

  async function stopService() {
    if (serviceExited) return;
    try {
      service.kill("SIGTERM");
    } catch {
      // gone
    }
    const forced = setTimeout(() => {
      try {
        service.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 10_000);
    await service.status;
    clearTimeout(forced);
    await drained;
  }

  const pidOf = async (file: string) => {
    try {
      return Number((await Deno.readTextFile(`${repo}.services/dev/${file}`)).trim()) || null;
    } catch {
      return null;
    }
  };
  /** The process listening on a local port (a worktree has no .services/ of its own). */
  const listenerPid = async (url: string) => {
    const out = await new Deno.Command("ss", {
      args: ["-Hltnp", `sport = :${new URL(url).port}`],
      stdout: "piped",
      stderr: "null",
    }).output().catch(() => undefined);
    return Number(/pid=(\d+)/.exec(new TextDecoder().decode(out?.stdout))?.[1]) || null;
  };
  const pids = {
    service: service.pid,
    bridge: bridgeProcess?.pid ?? await pidOf("bridge.pid") ?? await listenerPid(restUrl),
    redis: await pidOf("redis.pid") ?? await listenerPid(redisUrl),
    bench: Deno.pid,
    hello: helloProcess.pid,
  };

  try {
    const started = performance.now();
    let healthy = false;
    while (!healthy && performance.now() - started < 60_000 && !serviceExited) {
      healthy = await fetch(`${base}/health`).then(async (r) =>
        r.ok && (await r.json()).status === "ok"
      ).catch(() => false);
      if (!healthy) await sleep(200);
    }
    if (!healthy) throw new Error(`the service did not become healthy:\n${serviceLog.join("")}`);

    await runBench();
  } catch (err) {
    if (serviceExited) console.error(`the service exited:\n${serviceLog.join("")}`);
    throw err;
  } finally {
    await stopService();
    for (const process of [helloProcess, bridgeProcess]) {
      try {
        process?.kill("SIGTERM");
      } catch {
        // gone
      }
      await process?.status;
    }
    await dropPrefixKeys().catch(() => {});
    resp.disconnect();
  }

  // -------------------------------------------------------------------------------------------
  async function runBench() {
    const cpuCount = navigator.hardwareConcurrency;
    console.log(
      `Bike Power Tracker legacy streams benchmark (${
        new Date().toISOString()
      }, ${cpuCount} cores` +
        `${quick ? ", --quick" : ""})`,
    );
    console.log(
      `service: deno run src/main.ts on ${base} (pid ${pids.service}), API_KEY set, ` +
        `RATE_LIMIT_PER_MINUTE=0, LOG_LEVEL=warn, STREAM_POLL_MS=${pollMs}, SWEEP_INTERVAL_S=0; ` +
        `Redis through the REST bridge ${restUrl} (pid ${pids.bridge ?? "?"}) → redis ` +
        `(pid ${
          pids.redis ?? "?"
        }). Client, service, bridge and Redis share the same ${cpuCount} ` +
        `cores.`,
    );

    const headers = { "content-type": "application/json", "x-api-key": apiKey };
    async function api(method: string, path: string, body?: unknown) {
      const res = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return JSON.parse(text);
    }

    // --- CPU and Redis accounting ------------------------------------------------------------
    const ticksPerSecond = 100; // USER_HZ on Linux x86-64
    type CpuSnap = Record<keyof typeof pids, number> & { idle: number; busy: number; t: number };
    // Deno wants --allow-all to read /proc directly: `head` reads the counters instead.
    async function cpuSnap(): Promise<CpuSnap> {
      const files = new Map<string, keyof typeof pids>();
      for (const [name, pid] of Object.entries(pids) as [keyof typeof pids, number | null][]) {
        if (pid !== null) files.set(`/proc/${pid}/stat`, name);
      }
      const out = await new Deno.Command("head", {
        args: ["-n1", "/proc/stat", ...files.keys()],
        stdout: "piped",
        stderr: "null",
      }).output();
      const t = performance.now();
      const snap = {
        service: NaN,
        bridge: NaN,
        redis: NaN,
        bench: NaN,
        hello: NaN,
        idle: NaN,
        busy: NaN,
        t,
      };
      const text = new TextDecoder().decode(out.stdout);
      for (const m of text.matchAll(/==> (\S+) <==\n(.*)\n/g)) {
        if (m[1] === "/proc/stat") {
          const v = m[2].trim().split(/\s+/).slice(1).map(Number);
          snap.idle = v[3] + v[4];
          snap.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        } else {
          const fields = m[2].slice(m[2].lastIndexOf(")") + 2).split(" ");
          snap[files.get(m[1])!] = Number(fields[11]) + Number(fields[12]); // utime + stime
        }
      }
      return snap;
    }
    /** CPU ms per operation of each process, the rest (wrk, kernel, others) and idle share. */
    function cpuPer(a: CpuSnap, b: CpuSnap, operations: number) {
      const msPer = (ticks: number) => (ticks * 1000 / ticksPerSecond) / operations;
      const named = ["service", "bridge", "redis", "bench", "hello"] as const;
      const out: Record<string, number> = {};
      let namedTicks = 0;
      for (const k of named) {
        out[k] = msPer(b[k] - a[k]);
        namedTicks += b[k] - a[k];
      }
      const busy = b.busy - a.busy;
      out.other = msPer(busy - namedTicks);
      out.idlePct = 100 * (b.idle - a.idle) / Math.max(1, b.idle - a.idle + busy);
      return out;
    }

    type RedisSnap = { total: number; calls: Map<string, number>; t: number };
    async function redisSnap(): Promise<RedisSnap> {
      const info = await resp.call("INFO", "stats", "commandstats") as string;
      const calls = new Map<string, number>();
      for (const m of info.matchAll(/^cmdstat_([a-z|_-]+):calls=(\d+)/gm)) {
        calls.set(m[1], Number(m[2]));
      }
      return {
        total: Number(/total_commands_processed:(\d+)/.exec(info)![1]),
        calls,
        t: performance.now(),
      };
    }
    /** Commands in a window, without this bench's own INFO calls. */
    function redisDelta(a: RedisSnap, b: RedisSnap) {
      const seconds = (b.t - a.t) / 1000;
      const by = new Map<string, number>();
      for (const [name, calls] of b.calls) {
        const d = calls - (a.calls.get(name) ?? 0);
        if (d > 0 && name !== "info") by.set(name, d);
      }
      const info = (b.calls.get("info") ?? 0) - (a.calls.get("info") ?? 0);
      const total = b.total - a.total - info;
      return { seconds, total, by, perSecond: total / seconds };
    }
    const describe = (by: Map<string, number>, seconds: number) =>
      [...by].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${(v / seconds).toFixed(1)}/s`)
        .join(", ") || "none";

    if (sseOnly) return await sseParts();

    // --- part 1: POST with wrk -------------------------------------------------------------------
    type WrkResult = {
      rps: number;
      p50: number;
      p99: number;
      requests: number;
      statuses: string;
      socketErrors: string;
      bodyBytes: number;
      cpu: Record<string, number>;
      redis: ReturnType<typeof redisDelta>;
    };
    const toMs = (value: string, unit: string) =>
      Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? NaN);

    async function runWrk(
      path: string,
      connections: number,
      seconds: number,
      env: Record<string, string> = {},
      target = base,
      script = luaScript,
    ): Promise<WrkResult> {
      const r0 = await redisSnap();
      const c0 = await cpuSnap();
      const out = await new Deno.Command("wrk", {
        args: [
          "-t1",
          `-c${connections}`,
          `-d${seconds}s`,
          "--timeout",
          "5s",
          "--latency",
          "-s",
          script,
          target + path,
        ],
        env: { BPT_API_KEY: apiKey, ...env },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const c1 = await cpuSnap();
      const r1 = await redisSnap();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      const latency = (p: string) => {
        const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(text);
        return m ? toMs(m[1], m[2]) : NaN;
      };
      const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
      if (!out.success || !Number.isFinite(requests)) throw new Error(`wrk failed:\n${text}`);
      return {
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN),
        p50: latency("50"),
        p99: latency("99"),
        requests,
        statuses: /STATUSES (.*)/.exec(text)?.[1] ?? "?",
        socketErrors: /Socket errors: (.*)/.exec(text)?.[1] ?? "none",
        bodyBytes: Number(/BODY_BYTES (\d+)/.exec(text)?.[1] ?? NaN),
        cpu: cpuPer(c0, c1, requests),
        redis: redisDelta(r0, r1),
      };
    }

    console.log(
      `\n## 1. POST /api/streams/:name/messages (X-API-Key, one COMPAT telemetry message), ` +
        `wrk -t1, ${wrkSeconds} s per run`,
    );
    const postRuns: { senders: number; result: WrkResult; stored: number }[] = [];
    for (const senders of [1, 50]) {
      const name = `bench-post-${senders}`;
      await api("POST", "/api/streams/create", { streamName: name });
      const result = await runWrk(`/api/streams/${name}/messages`, senders, wrkSeconds);
      const stored = (await resp.xlen(`${prefix}stream:${name}`)) - 1; // minus the marker entry
      postRuns.push({ senders, result, stored });
    }
    console.log(
      "senders  requests     req/s   p50 ms   p99 ms  statuses (wrk)          stored  " +
        "Redis cmds/req",
    );
    for (const { senders, result: r, stored } of postRuns) {
      console.log(
        `${String(senders).padStart(7)}  ${int(r.requests)}  ${int(r.rps)} ${num(r.p50, 2)} ${
          num(r.p99, 2)
        }  ${r.statuses.padEnd(22)} ${int(stored, 7)}  ${num(r.redis.total / r.requests, 2, 14)}`,
      );
    }
    const body = postRuns[0].result.bodyBytes;
    console.log(
      `stored − 200s = requests still in flight when wrk stopped (at most the senders); ` +
        `request body ${body} bytes; Redis commands per POST counted by Redis (EVALSHA + the calls ` +
        `inside the script): ${
          describe(postRuns[1].result.redis.by, postRuns[1].result.requests)
            .replaceAll("/s", "")
        }`,
    );
    for (const { result } of postRuns) {
      if (result.socketErrors !== "none") console.log(`wrk socket errors: ${result.socketErrors}`);
    }
    const at50 = postRuns[1].result;
    console.log(
      `\nissue 6 target at 50 senders: ≥ 6,000 req/s and p99 ≤ 20 ms; old Express service: ` +
        `4,400–5,800 req/s.\nours: ${int(at50.rps, 0)} req/s, p99 ${at50.p99.toFixed(1)} ms → ` +
        `throughput ${at50.rps >= 6000 ? "MET" : "NOT MET"} (${
          (100 * at50.rps / 6000).toFixed(0)
        }% of target, ${(at50.rps / 4400).toFixed(2)}–${(at50.rps / 5800).toFixed(2)}× the old ` +
        `service), p99 ${at50.p99 <= 20 ? "MET" : "NOT MET"}.`,
    );

    // --- interleaved at 50 connections: legacy POST, REST ingest, GET, and the floors ----------
    const rounds = quick ? 1 : 3;
    const roundSeconds = quick ? 2 : 5;
    console.log(
      `\n### Interleaved at 50 connections, ${rounds} round${rounds > 1 ? "s" : ""} of ` +
        `${roundSeconds} s per cell (medians; CPU µs per request of each process)`,
    );
    const requestsLua = `${repo}bench/wrk_requests.lua`;
    const requestLines = (lines: string[]) => lines.join("\n") + "\n";
    // REST ingest as riders' apps send it: one sample per request, each rider posting to their own
    // workout with their own Bearer token; 50 workouts of 10 riders, taken in turn.
    const ingestLines: string[] = [];
    const sampleTime = Date.now();
    for (let r = 0; r < 10; r++) {
      const session = await api("POST", "/api/auth/register", {
        email: `streams-bench-${r}-${sampleTime}@example.com`,
        password: "bench password",
      });
      const bearer = { authorization: `Bearer ${session.accessToken}` };
      for (let w = 0; w < 5; w++) {
        const res = await fetch(`${base}/api/workouts`, {
          method: "POST",
          headers: { "content-type": "application/json", ...bearer },
          body: "{}",
        });
        if (res.status !== 201) throw new Error(`POST /api/workouts: ${res.status}`);
        const { workout } = await res.json();
        ingestLines.push(
          [
            "POST",
            `/api/workouts/${workout.id}/samples`,
            "Content-Type: application/json",
            `Authorization: ${bearer.authorization}`,
            JSON.stringify({
              samples: [{ time: sampleTime, power: 245, cadence: 92, heartRate: 148, speed: 32.4 }],
            }),
          ].join("\t"),
        );
      }
    }
    // GET of 100 messages of one stream (the shared key), with and without gzip accepted.
    const getName = "bench-get";
    await api("POST", "/api/streams/create", { streamName: getName });
    for (let m = 0; m < 120; m++) {
      await api("POST", `/api/streams/${getName}/messages`, {
        message: telemetryText(m, Date.now()),
        author: "wrk-bench",
      });
    }
    const getLine = `GET\t/api/streams/${getName}/messages?count=100\tX-API-Key: ${apiKey}`;
    // 400 streams of 100 messages (shared ones, as an old deployment wrote them: entries only),
    // read in turn: more answers than an instance keeps (8 MiB), so every GET reads its entries.
    const coldStreams = 400;
    const cold = resp.pipeline();
    for (let n = 0; n < coldStreams; n++) {
      for (let m = 0; m < 100; m++) {
        const fields = ["message", telemetryText(m, Date.now()), "timestamp", String(Date.now())];
        cold.xadd(`${prefix}stream:bench-cold-${n}`, "*", ...fields, "author", "wrk-bench");
      }
    }
    await cold.exec();
    const coldLines = Array.from(
      { length: coldStreams },
      (_, n) => `GET\t/api/streams/bench-cold-${n}/messages?count=100\tX-API-Key: ${apiKey}\t`,
    );
    const lines = {
      ingest: requestLines(ingestLines),
      get: requestLines([`${getLine}\t`]),
      getGzip: requestLines([`${getLine}\tAccept-Encoding: gzip\t`]),
      getCold: requestLines(coldLines),
      hello: requestLines(["GET\t/\t"]),
    };
    await api("POST", "/api/streams/create", { streamName: "bench-rounds-post" });
    const xaddKey = `${prefix}floor:xadd`;
    async function directXadd(): Promise<{ rps: number; p50: number; p99: number }> {
      const redis = new URL(redisUrl);
      const out = await new Deno.Command("redis-benchmark", {
        args: [
          ...["-h", redis.hostname, "-p", redis.port || "6379", "-c", "50"],
          ...["-n", String(quick ? 20_000 : 100_000), "--csv"],
          ...["XADD", xaddKey, "MAXLEN", "~", "1000", "*", "s", telemetryText(1, 0)],
        ],
        stdout: "piped",
        stderr: "piped",
      }).output().catch(() => undefined);
      const row = out && new TextDecoder().decode(out.stdout).trim().split("\n").at(-1);
      const values = row?.match(/"([\d.]+)"/g)?.map((v) => Number(v.slice(1, -1)));
      // test, rps, avg, min, p50, p95, p99, max
      if (!values || values.length < 7) return { rps: NaN, p50: NaN, p99: NaN };
      return { rps: values[0], p50: values[3], p99: values[5] };
    }
    const cells = {
      "legacy POST": [] as WrkResult[],
      "REST ingest": [] as WrkResult[],
      "GET messages": [] as WrkResult[],
      "GET messages, gzip": [] as WrkResult[],
      "GET, 400 streams": [] as WrkResult[],
      "hello route": [] as WrkResult[],
    };
    const xadds: { rps: number; p50: number; p99: number }[] = [];
    for (let round = 0; round < rounds; round++) {
      const c = 50;
      cells["legacy POST"].push(
        await runWrk("/api/streams/bench-rounds-post/messages", c, roundSeconds),
      );
      const requests = (lines: string, target = base) =>
        runWrk("/", c, roundSeconds, { BPT_REQUESTS: lines }, target, requestsLua);
      cells["REST ingest"].push(await requests(lines.ingest));
      cells["GET messages"].push(await requests(lines.get));
      cells["GET messages, gzip"].push(await requests(lines.getGzip));
      cells["GET, 400 streams"].push(await requests(lines.getCold));
      cells["hello route"].push(await requests(lines.hello, helloBase));
      xadds.push(await directXadd());
    }
    const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
    const med = (runs: WrkResult[], pick: (r: WrkResult) => number) => median(runs.map(pick));
    console.log(
      "cell                     req/s   p50 ms   p99 ms | CPU µs/req: service  bridge   redis" +
        "   hello | statuses (wrk, every round)",
    );
    for (const [label, runs] of Object.entries(cells)) {
      const us = (k: string) => num(med(runs, (r) => r.cpu[k] * 1000), 0, 7);
      console.log(
        `${label.padEnd(22)} ${int(med(runs, (r) => r.rps))} ${num(med(runs, (r) => r.p50), 2)} ${
          num(med(runs, (r) => r.p99), 2)
        } |             ${us("service")} ${us("bridge")} ${us("redis")} ${us("hello")} | ${
          runs.map((r) => r.statuses).join(" ")
        }`,
      );
    }
    const xadd = {
      rps: median(xadds.map((x) => x.rps)),
      p50: median(xadds.map((x) => x.p50)),
      p99: median(xadds.map((x) => x.p99)),
    };
    console.log(
      `${"direct XADD (redis-b.)".padEnd(22)} ${int(xadd.rps)} ${num(xadd.p50, 2)} ${
        num(xadd.p99, 2)
      } | redis-benchmark -c 50, one ~300-byte field, MAXLEN ~ 1000`,
    );
    {
      const legacy = cells["legacy POST"];
      const ingest = cells["REST ingest"];
      const get = cells["GET messages"];
      const gzip = cells["GET messages, gzip"];
      const coldGet = cells["GET, 400 streams"];
      const coldCpu = med(coldGet, (r) => r.cpu.service * 1000);
      const hello = cells["hello route"];
      const helloRps = med(hello, (r) => r.rps);
      const helloCpu = med(hello, (r) => r.cpu.hello * 1000);
      const legacyRps = med(legacy, (r) => r.rps);
      const ingestRps = med(ingest, (r) => r.rps);
      const ingestP99 = med(ingest, (r) => r.p99);
      // The ratio of each round's pair (same conditions), then their median.
      const ratio = median(ingest.map((r, i) => r.rps / legacy[i].rps));
      const getCpu = med(get, (r) => r.cpu.service * 1000);
      const getBridgeCpu = med(get, (r) => r.cpu.bridge * 1000);
      const allOk = (runs: WrkResult[], status: string) =>
        runs.every((r) => new RegExp(`^${status}=\\d+$`).test(r.statuses));
      if (!allOk(ingest, "202") || !allOk(legacy, "200") || !allOk(get, "200")) {
        console.log("NOTE: some requests were not answered 2xx (see the statuses above)");
      }
      console.log(
        `REST ingest ÷ legacy POST (same rounds): ${ratio.toFixed(2)}× (target ≥ 0.8×: ${
          ratio >= 0.8 ? "MET" : "NOT MET"
        }); REST ingest p99 ${ingestP99.toFixed(1)} ms (target ≤ 20 ms: ${
          ingestP99 <= 20 ? "MET" : "NOT MET"
        }).\nGET messages?count=100: service ${
          getCpu.toFixed(0)
        } µs CPU/request (target ≤ 250 µs: ${getCpu <= 250 ? "MET" : "NOT MET"}), bridge ${
          getBridgeCpu.toFixed(0)
        } µs (an unchanged stream: its kept answer); with gzip accepted the service spends ${
          med(gzip, (r) => r.cpu.service * 1000).toFixed(0)
        } µs; reading 400 streams in turn (no kept answer: every GET reads and writes its ` +
          `entries) ${coldCpu.toFixed(0)} µs, bridge ${
            med(coldGet, (r) => r.cpu.bridge * 1000).toFixed(0)
          } µs. Floors: hello route ${int(helloRps, 0)} req/s at ${
            helloCpu.toFixed(0)
          } µs CPU/request; direct XADD ${int(xadd.rps, 0)} req/s.`,
      );
      const hello_ = { name: "Hono hello route, wrk 50", value: helloRps };
      record({
        bench: "streams",
        cell: "legacy POST, 50 senders, requests/s",
        value: legacyRps,
        unit: "req/s",
        better: "higher",
        floor: hello_,
      });
      record({
        bench: "streams",
        cell: "REST ingest (1 sample/request), 50 senders, requests/s",
        value: ingestRps,
        unit: "req/s",
        better: "higher",
        floor: hello_,
        target: "≥ 0.8× legacy POST (same run)",
        met: ratio >= 0.8,
      });
      record({
        bench: "streams",
        cell: "REST ingest ÷ legacy POST, requests/s at 50 senders",
        value: ratio,
        unit: "×",
        better: "higher",
        target: "≥ 0.8×",
        met: ratio >= 0.8,
      });
      record({
        bench: "streams",
        cell: "REST ingest (1 sample/request), 50 senders, p99",
        value: ingestP99,
        unit: "ms",
        better: "lower",
        floor: { name: "Hono hello route p99, wrk 50", value: med(hello, (r) => r.p99) },
        target: "≤ 20 ms",
        met: ingestP99 <= 20,
      });
      record({
        bench: "streams",
        cell: "GET messages?count=100, 50 connections, service CPU per request",
        value: getCpu,
        unit: "µs",
        better: "lower",
        floor: { name: "Hono hello route CPU per request", value: helloCpu },
        target: "≤ 250 µs",
        met: getCpu <= 250,
      });
      record({
        bench: "streams",
        cell:
          "GET messages?count=100 of 400 streams in turn (no kept answer), service CPU per request",
        value: coldCpu,
        unit: "µs",
        better: "lower",
        floor: { name: "Hono hello route CPU per request", value: helloCpu },
      });
      record({
        bench: "streams",
        cell: "GET messages?count=100, 50 connections, REST bridge CPU per request",
        value: getBridgeCpu,
        unit: "µs",
        better: "lower",
      });
      record({
        bench: "streams",
        cell: "GET messages?count=100, 50 connections, requests/s",
        value: med(get, (r) => r.rps),
        unit: "req/s",
        better: "higher",
        floor: hello_,
      });
      record({
        bench: "streams",
        cell: "GET messages?count=100, 50 connections, p99",
        value: med(get, (r) => r.p99),
        unit: "ms",
        better: "lower",
        floor: { name: "Hono hello route p99, wrk 50", value: med(hello, (r) => r.p99) },
      });
      record({
        bench: "streams",
        cell: "direct XADD (redis-benchmark), 50 clients, requests/s",
        value: xadd.rps,
        unit: "req/s",
        better: "higher",
      });
    }

    // --- where the time goes -----------------------------------------------------------------
    console.log(
      `\n### Where the time goes: the same load split into its parts (${partSeconds} s each), ` +
        `CPU ms per request of every process`,
    );
    const parts: {
      label: string;
      rps: number;
      p50: number;
      p99: number;
      cpu: Record<string, number>;
    }[] = postRuns.map(({ senders, result }) => ({
      label: `full POST, ${senders} sender${senders > 1 ? "s" : ""} (wrk)`,
      rps: result.rps,
      p50: result.p50,
      p99: result.p99,
      cpu: result.cpu,
    }));
    // HTTP only: the same body, rejected by validation (author over 64 chars) before the store.
    for (const senders of [1, 50]) {
      const r = await runWrk("/api/streams/bench-post-http-only/messages", senders, partSeconds, {
        BPT_AUTHOR: "x".repeat(65),
      });
      if (!/^400=\d+$/.test(r.statuses)) throw new Error(`HTTP-only run got ${r.statuses}`);
      parts.push({
        label: `HTTP only: same POST, 400 before Redis, ${senders} sender${senders > 1 ? "s" : ""}`,
        rps: r.rps,
        p50: r.p50,
        p99: r.p99,
        cpu: r.cpu,
      });
    }
    // Redis hop only: the route's store call from this process (same client library, same bridge).
    const live = createLiveStore({ url: restUrl, token: restToken, prefix });
    const store = streamStore(live, { ttlMs: 3600_000 });
    for (const callers of [1, 50]) {
      const latencies: number[] = [];
      const c0 = await cpuSnap();
      const deadline = performance.now() + partSeconds * 1000;
      let sequence = 0;
      await Promise.all(Array.from({ length: callers }, async () => {
        while (performance.now() < deadline) {
          const t = performance.now();
          const result = await store.post("bench-post-store-only", {
            owner: "shared",
            message: telemetryText(sequence++, Date.now()),
            author: "wrk-bench",
          });
          if (!result.ok) throw new Error(`store.post: ${result.reason}`);
          latencies.push(performance.now() - t);
        }
      }));
      const c1 = await cpuSnap();
      latencies.sort((a, b) => a - b);
      parts.push({
        label: `Redis hop only: store.post() here → bridge → Redis, ${callers} caller${
          callers > 1 ? "s" : ""
        }`,
        rps: latencies.length / ((c1.t - c0.t) / 1000),
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        cpu: cpuPer(c0, c1, latencies.length),
      });
      if (callers === 50) {
        record({
          bench: "streams",
          cell: "Redis hop only: store.post() → REST bridge → Redis, 50 callers, requests/s",
          value: parts[parts.length - 1].rps,
          unit: "req/s",
          better: "higher",
          floor: { name: "direct XADD (redis-benchmark), 50 clients", value: xadd.rps },
        });
      }
    }
    console.log(
      "run                                                        req/s   p50 ms   p99 ms | " +
        "CPU ms/req: service  bridge   redis   bench  other* | idle %",
    );
    for (const p of parts) {
      console.log(
        `${p.label.padEnd(57)} ${int(p.rps)} ${num(p.p50, 2)} ${num(p.p99, 2)} |           ${
          num(p.cpu.service, 3, 7)
        } ${num(p.cpu.bridge, 3, 7)} ${num(p.cpu.redis, 3, 7)} ${num(p.cpu.bench, 3, 7)} ${
          num(p.cpu.other, 3, 7)
        } | ${num(p.cpu.idlePct, 0, 6)}`,
      );
    }
    console.log(
      "* other = every other process on the machine, wrk included, and the kernel's softirq work. " +
        `With ${cpuCount} cores, the CPU ceiling is ≈ ${cpuCount * 1000} ms / (sum of the row).`,
    );
    {
      const full = parts[1].cpu;
      const sum = full.service + full.bridge + full.redis + full.bench + full.other;
      console.log(
        `full POST at 50 senders: ${sum.toFixed(3)} CPU ms/request in all → ceiling ≈ ${
          int(cpuCount * 1000 / sum, 0)
        } req/s on this machine; service ${(100 * full.service / sum).toFixed(0)}%, bridge ${
          (100 * full.bridge / sum).toFixed(0)
        }%, redis ${(100 * full.redis / sum).toFixed(0)}%, other (wrk, kernel) ${
          (100 * full.other / sum).toFixed(0)
        }%. The service process used ${
          (full.service * parts[1].rps / 1000).toFixed(2)
        } cores (its JavaScript runs on one thread).`,
      );
    }

    // --- one request's latency components, in this process (no socket) ------------------------
    {
      const config = loadConfig({
        ...Deno.env.toObject(),
        DATABASE_URL: dbUrl.href,
        API_KEY: apiKey,
        RATE_LIMIT_PER_MINUTE: "0",
        LOG_LEVEL: "warn",
        REDIS_KEY_PREFIX: prefix,
        UPSTASH_REDIS_REST_URL: restUrl,
        UPSTASH_REDIS_REST_TOKEN: restToken,
        STREAM_POLL_MS: String(pollMs),
        SWEEP_INTERVAL_S: "0",
      });
      const log = createLogger("warn");
      const sql = createSql(config.databaseUrl, { max: 2 });
      const live = createLiveStore({
        url: config.redisRestUrl,
        token: config.redisRestToken,
        prefix,
      });
      const services = liveServices(live, config, log);
      const storeTimes: number[] = [];
      const realPost = services.streams.post;
      const tokens = await createTokenIssuer({
        privateKeyPem: await generatePrivateKeyPem(),
        issuer: config.jwt.issuer,
        audience: config.jwt.audience,
        ttlS: 3600,
      });
      const deps: Deps = {
        config,
        sql,
        live,
        ...services,
        streams: {
          ...services.streams,
          post: async (...args: Parameters<typeof realPost>) => {
            const t = performance.now();
            try {
              return await realPost(...args);
            } finally {
              storeTimes.push(performance.now() - t);
            }
          },
        },
        tokens,
        log,
        revocations: createRevocations(live, { retentionMs: 3_600_000, log }),
        credentials: createCredentialCache(),
        passwords: createPasswordHasher({ workers: 0, queueMax: 1, log }),
      };
      const stubbed: Deps = {
        ...deps,
        streams: {
          ...services.streams,
          post: () =>
            Promise.resolve({
              ok: true as const,
              messageId: "1-1",
              previousId: "1-0",
              fields: { message: "stub", timestamp: "1" },
            }),
        },
      };
      const apps = { real: createApp(deps), stub: createApp(stubbed) };

      // Count what goes to the REST endpoint: HTTP requests and the commands inside them.
      const rest = { requests: 0, commands: 0 };
      const realFetch = globalThis.fetch;
      globalThis.fetch = (input, init) => {
        const url = typeof input === "string"
          ? input
          : input instanceof URL
          ? input.href
          : input.url;
        if (url.startsWith(restUrl)) {
          rest.requests++;
          const sentBody = JSON.parse(String(init?.body ?? "[]"));
          rest.commands += Array.isArray(sentBody[0]) ? sentBody.length : 1;
        }
        return realFetch(input, init);
      };

      let sequence = 0;
      const request = () =>
        new Request(`${base}/api/streams/bench-post-in-process/messages`, {
          method: "POST",
          headers,
          body: JSON.stringify({
            message: telemetryText(sequence++, Date.now()),
            author: "wrk-bench",
          }),
        });
      const once = async (app: (typeof apps)["real"]): Promise<number> => {
        const req = request();
        const t = performance.now();
        const res = await app.fetch(req);
        await res.text();
        const elapsed = performance.now() - t;
        if (res.status !== 200) throw new Error(`in-process POST answered ${res.status}`);
        return elapsed;
      };

      const sequential = quick ? 300 : 2000;
      const times = { real: [] as number[], stub: [] as number[] };
      for (const kind of ["real", "stub"] as const) {
        for (let i = 0; i < 200; i++) await once(apps[kind]); // warm-up
        if (kind === "real") storeTimes.length = 0;
        for (let i = 0; i < sequential; i++) times[kind].push(await once(apps[kind]));
        times[kind].sort((a, b) => a - b);
      }
      storeTimes.sort((a, b) => a - b);
      const wrk1 = postRuns[0].result;
      const p = (values: number[], q: number) => percentile(values, q);
      console.log(
        `\n### One POST's latency, split (${sequential.toLocaleString("en-US")} sequential ` +
          "requests; app.fetch runs the whole Hono app in this process, without a socket)",
      );
      console.log(
        "component                                                         p50 ms   p99 ms",
      );
      const line = (label: string, p50: number, p99: number) =>
        console.log(`${label.padEnd(64)} ${num(p50, 3)} ${num(p99, 3)}`);
      line("end to end: wrk, 1 sender (socket, HTTP server, app, Redis)", wrk1.p50, wrk1.p99);
      line("app.fetch with the real store", p(times.real, 50), p(times.real, 99));
      line(
        "  of which streams.post: REST pipeline → REST bridge → Redis Lua",
        p(storeTimes, 50),
        p(storeTimes, 99),
      );
      line(
        "app.fetch with streams.post stubbed (middleware, zod, handler)",
        p(times.stub, 50),
        p(times.stub, 99),
      );
      line(
        "socket + Deno.serve + wrk (end to end − app.fetch real), p50 only",
        wrk1.p50 - p(times.real, 50),
        NaN,
      );

      console.log(
        `\n### One JS thread's ceiling: 50 concurrent callers of app.fetch in this process, ` +
          `${partSeconds} s (no socket, no wrk)`,
      );
      console.log(
        "run                                      req/s  CPU ms/req here  REST requests/POST  " +
          "commands/REST request",
      );
      for (const kind of ["real", "stub"] as const) {
        const before = { ...rest };
        const c0 = await cpuSnap();
        const deadline = performance.now() + partSeconds * 1000;
        let done = 0;
        await Promise.all(Array.from({ length: 50 }, async () => {
          while (performance.now() < deadline) {
            await once(apps[kind]);
            done++;
          }
        }));
        const c1 = await cpuSnap();
        const cpu = cpuPer(c0, c1, done);
        const requests = rest.requests - before.requests;
        const commands = rest.commands - before.commands;
        console.log(
          `${
            (kind === "real" ? "app.fetch, real store" : "app.fetch, streams.post stubbed").padEnd(
              38,
            )
          } ${int(done / ((c1.t - c0.t) / 1000))}  ${num(cpu.bench, 3, 15)}  ${
            num(requests / done, 2, 18)
          }  ${num(requests ? commands / requests : NaN, 2, 21)}`,
        );
      }
      // The same app behind a real socket in this process, where the REST calls can be counted.
      {
        const server = Deno.serve(
          { hostname: "127.0.0.1", port: 0, onListen: () => {} },
          apps.real.fetch,
        );
        const before = { ...rest };
        const r = await runWrk(
          "/api/streams/bench-post-in-process/messages",
          50,
          partSeconds,
          {},
          `http://127.0.0.1:${server.addr.port}`,
        );
        await server.shutdown();
        const requests = rest.requests - before.requests;
        const commands = rest.commands - before.commands;
        console.log(
          `${"same app behind Deno.serve here, wrk 50".padEnd(38)} ${int(r.rps)}  ${
            num(r.cpu.bench, 3, 15)
          }  ${num(requests / r.requests, 2, 18)}  ${
            num(requests ? commands / requests : NaN, 2, 21)
          }`,
        );
      }
      console.log(
        "@upstash/redis auto-pipelining only joins commands issued within the same few " +
          "microtasks: callers looping in one tick share REST requests, requests arriving from " +
          "sockets mostly do not.\nThe service runs every request's JavaScript on one thread: " +
          "its CPU ms/request in the process table bounds one instance at ≈ 1000 / that many " +
          "requests/s.",
      );
      globalThis.fetch = realFetch;
      services.hub.close();
      await sql.end();
    }

    await sseParts(at50);

    // --- part 2 and 3: SSE ---------------------------------------------------------------------
    /** Parts 2 and 3, and the verdicts (`at50`: part 1's POST at 50 senders, when it ran). */
    async function sseParts(at50?: WrkResult) {
      type RedisRow = {
        label: string;
        watched: number;
        viewers: number;
        d: ReturnType<typeof redisDelta>;
      };
      const redisRows: RedisRow[] = [];

      /** The service process's CPU ticks (user, system) and resident memory, from /proc. */
      type ProcSnap = { utime: number; stime: number; rssKiB: number; anonKiB: number };
      async function procSnap(pid: number): Promise<ProcSnap> {
        const out = await new Deno.Command("cat", {
          args: [`/proc/${pid}/stat`, `/proc/${pid}/status`],
          stdout: "piped",
          stderr: "null",
        }).output();
        const text = new TextDecoder().decode(out.stdout);
        const stat = text.slice(text.indexOf(")") + 2).split(" ");
        const kib = (field: string) =>
          Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
        return {
          utime: Number(stat[11]),
          stime: Number(stat[12]),
          rssKiB: kib("VmRSS"),
          anonKiB: kib("RssAnon"),
        };
      }

      /**
       * The service's live JavaScript heap in bytes after a full GC, through its inspector
       * (`--heap`); NaN without it.
       */
      async function liveHeap(): Promise<number> {
        const url = /ws:\/\/127\.0\.0\.1:\d+\/[\w-]+/.exec(serviceLog.join(""))?.[0];
        if (!heap || !url) return NaN;
        const ws = new WebSocket(url);
        const replies = new Map<number, (result: Record<string, number>) => void>();
        ws.onmessage = (e) => {
          const m = JSON.parse(e.data);
          if (m.id) replies.get(m.id)?.(m.result);
        };
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = reject;
        });
        let id = 0;
        const send = (method: string) =>
          new Promise<Record<string, number>>((resolve) => {
            replies.set(++id, resolve);
            ws.send(JSON.stringify({ id, method }));
          });
        await send("HeapProfiler.collectGarbage");
        const usage = await send("Runtime.getHeapUsage");
        ws.close();
        return usage.usedSize;
      }

      /**
       * The floor of SSE delivery: one plain Redis client XADDs a message with its send time and
       * another, blocked in XREAD, receives it (no HTTP, no bridge, no hub).
       */
      async function directRedisLatency(count: number): Promise<number[]> {
        const key = `${prefix}bench:direct-floor`;
        const reader = new RespClient(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
        const latencies: number[] = [];
        let last = "$";
        let stop = false;
        const reading = (async () => {
          while (!stop) {
            const reply = await reader.xread("BLOCK", 200, "STREAMS", key, last);
            const now = performance.now();
            for (const [, entries] of reply ?? []) {
              for (const [id, raw] of entries) {
                last = id;
                latencies.push(now - Number(raw[1]));
              }
            }
          }
        })();
        await sleep(100); // the reader is blocked in XREAD
        for (let i = 0; i < count; i++) {
          await resp.xadd(key, "*", "t", String(performance.now()));
          await sleep(5);
        }
        await sleep(300);
        stop = true;
        await reading;
        reader.disconnect();
        await resp.del(key);
        return latencies.sort((a, b) => a - b);
      }

      async function redisWindow(label: string, watched: number, viewers: number, seconds: number) {
        const a = await redisSnap();
        await sleep(seconds * 1000);
        const b = await redisSnap();
        const row = { label, watched, viewers, d: redisDelta(a, b) };
        redisRows.push(row);
        return row;
      }

      // Streams nobody watches (the POST streams above exist): nothing may be read.
      await sleep(500);
      await redisWindow("no viewers (3 unwatched streams exist)", 0, 0, windowSeconds);

      type SseRow = {
        viewers: number;
        workers: number;
        connected: number;
        failed: number;
        expected: number;
        received: number;
        duplicates: number;
        missing: number;
        outOfOrder: number;
        lat: Float64Array;
        /** Per message: the first viewer's latency, and last − first receive time (the fan-out). */
        first: number[];
        spread: number[];
        post: number[];
        /** CPU ms per posted message while posting: the service, and the viewer threads. */
        cpuService: number;
        /** The service's CPU ms per message split: user (JavaScript, Rust) and system (kernel). */
        cpuServiceUser: number;
        cpuServiceSystem: number;
        cpuBench: number;
        /** The service's resident memory before the viewers connected and once they all had. */
        rssBefore: number;
        rssAfter: number;
        anonBefore: number;
        anonAfter: number;
        /** The service's live heap (bytes, after a GC) before and after (`--heap`). */
        heapBefore: number;
        heapAfter: number;
        deleted: number;
        ended: number;
        connectCommands: number;
        errors: string[];
      };
      const sseRows: SseRow[] = [];

      async function sseRun(viewers: number): Promise<SseRow> {
        const stream = `bench-sse-${viewers}-${Date.now()}`;
        await api("POST", "/api/streams/create", { streamName: stream });
        const workers = viewerWorkers;
        const groups = Array.from({ length: workers }, () => new ViewerGroup());
        const h0 = await liveHeap();
        const m0 = await procSnap(service.pid);
        const r0 = await redisSnap();
        const opened = await Promise.all(groups.map((g, i) =>
          g.open({
            port,
            stream,
            apiKey,
            count: Math.floor(viewers / workers) + (i < viewers % workers ? 1 : 0),
            messages,
          })
        ));
        const r1 = await redisSnap();
        const connected = opened.reduce((n, o) => n + o.connected, 0);
        const failed = opened.reduce((n, o) => n + o.failed, 0);
        const errors = opened.flatMap((o) => o.errors);

        await redisWindow(`${viewers} viewer(s) of 1 stream, idle`, 1, viewers, windowSeconds);
        const h1 = await liveHeap(); // first: after its GC, the RSS is closer to what stays
        const m1 = await procSnap(service.pid);

        // Post the messages at a steady rate; every message carries its send time (`timestamp`).
        const a = await redisSnap();
        const c0 = await cpuSnap();
        const p0 = await procSnap(service.pid);
        const post: number[] = [];
        const sent: number[] = [];
        const t0 = performance.now();
        for (let sequence = 0; sequence < messages; sequence++) {
          await sleep(t0 + sequence * messageIntervalMs - performance.now());
          const sentAt = Date.now();
          sent.push(sentAt);
          const t = performance.now();
          await api("POST", `/api/streams/${stream}/messages`, {
            message: telemetryText(sequence, sentAt),
            author: "streams-bench",
          });
          post.push(performance.now() - t);
        }
        // Let the last message arrive everywhere (at most a poll interval plus the fan-out).
        await sleep(1000 + viewers);
        const c1 = await cpuSnap();
        const p1 = await procSnap(service.pid);
        const b = await redisSnap();
        const d = redisDelta(a, b);
        redisRows.push({
          label: `${viewers} viewer(s) of 1 stream, posting 5/s`,
          watched: 1,
          viewers,
          d,
        });

        const reports = await Promise.all(groups.map((g) => g.report()));
        const total = reports.reduce((n, r) => n + r.latencies.length, 0);
        const lat = new Float64Array(total);
        let offset = 0;
        for (const r of reports) {
          lat.set(r.latencies, offset);
          offset += r.latencies.length;
        }
        lat.sort();
        const first: number[] = [];
        const spread: number[] = [];
        sent.forEach((sentAt, sequence) => {
          const earliest = Math.min(...reports.map((r) => r.firstReceived[sequence]));
          const latest = Math.max(...reports.map((r) => r.lastReceived[sequence]));
          if (!Number.isFinite(earliest)) return;
          first.push(earliest - sentAt);
          spread.push(latest - earliest);
        });

        // Deleting the stream must end every viewer with a stream_deleted frame.
        await api("DELETE", `/api/streams/${stream}`);
        const ends = await Promise.all(groups.map((g) => g.waitEnd(5000)));
        for (const g of groups) g.terminate();

        return {
          viewers,
          workers,
          connected,
          failed,
          expected: connected * messages,
          received: total,
          duplicates: reports.reduce((n, r) => n + r.duplicates, 0),
          missing: reports.reduce((n, r) => n + r.missing, 0),
          outOfOrder: reports.reduce((n, r) => n + r.outOfOrder, 0),
          lat,
          first: first.sort((x, y) => x - y),
          spread: spread.sort((x, y) => x - y),
          post: post.sort((x, y) => x - y),
          cpuService: (c1.service - c0.service) * (1000 / ticksPerSecond) / messages,
          cpuServiceUser: (p1.utime - p0.utime) * (1000 / ticksPerSecond) / messages,
          cpuServiceSystem: (p1.stime - p0.stime) * (1000 / ticksPerSecond) / messages,
          cpuBench: (c1.bench - c0.bench) * (1000 / ticksPerSecond) / messages,
          rssBefore: m0.rssKiB,
          rssAfter: m1.rssKiB,
          anonBefore: m0.anonKiB,
          anonAfter: m1.anonKiB,
          heapBefore: h0,
          heapAfter: h1,
          deleted: ends.reduce((n, e) => n + e.deleted, 0),
          ended: ends.reduce((n, e) => n + e.ended, 0),
          connectCommands: redisDelta(r0, r1).total,
          errors,
        };
      }

      const direct = await directRedisLatency(quick ? 100 : 400);
      for (const viewers of [1, 100, 1000]) {
        sseRows.push(await sseRun(viewers));
        await sleep(pollMs * 3); // the hub notices that nobody watches and stops
      }

      // Many streams, each watched: still one XREAD per tick for all of them.
      {
        const streams = Array.from({ length: 10 }, (_, i) => `bench-sse-many-${i}-${Date.now()}`);
        const groups: ViewerGroup[] = [];
        for (const stream of streams) {
          await api("POST", "/api/streams/create", { streamName: stream });
          const g = new ViewerGroup();
          groups.push(g);
          await g.open({ port, stream, apiKey, count: 10, messages: 1 });
        }
        await redisWindow("10 streams × 10 viewers, idle", 10, 100, windowSeconds);
        for (const stream of streams) await api("DELETE", `/api/streams/${stream}`);
        await Promise.all(groups.map((g) => g.waitEnd(5000)));
        for (const g of groups) g.terminate();
      }
      await sleep(pollMs * 3);
      await redisWindow("after every viewer left", 0, 0, windowSeconds);

      console.log(
        `\n## 2. SSE delivery latency: receive time − send time for every viewer × message ` +
          `(${messages} messages at ${
            1000 / messageIntervalMs
          }/s, one stream, raw-TCP viewers in ` +
          `worker threads)`,
      );
      console.log(
        "viewers  connected  delivered/expected  dup  missing  order   p50 ms   p90 ms   p99 ms   " +
          "max ms | POST p50  p99 | 1st viewer p50  p99 | fan-out p50  max | CPU ms/msg svc (user+sys)  " +
          "viewers | " +
          "deleted/ended",
      );
      for (const r of sseRows) {
        console.log(
          `${int(r.viewers, 7)}  ${int(r.connected, 9)}  ${
            `${r.received.toLocaleString("en-US")}/${r.expected.toLocaleString("en-US")}`.padStart(
              18,
            )
          }  ${String(r.duplicates).padStart(3)}  ${String(r.missing).padStart(7)}  ${
            String(r.outOfOrder).padStart(5)
          } ${num(percentile(r.lat, 50))} ${num(percentile(r.lat, 90))} ${
            num(percentile(r.lat, 99))
          } ${num(r.lat.at(-1) ?? NaN)} | ${num(percentile(r.post, 50), 1)} ${
            num(percentile(r.post, 99), 1, 4)
          } | ${num(percentile(r.first, 50), 1, 14)} ${num(percentile(r.first, 99), 1, 4)} | ${
            num(percentile(r.spread, 50), 1, 11)
          } ${num(r.spread.at(-1) ?? NaN, 1, 4)} | ${num(r.cpuService, 1, 14)} ${
            `(${r.cpuServiceUser.toFixed(1)}+${r.cpuServiceSystem.toFixed(1)})`.padStart(11)
          }  ${num(r.cpuBench, 1, 7)} | ${`${r.deleted}/${r.ended}`.padStart(13)}`,
        );
        if (r.failed > 0) console.log(`  ${r.failed} viewers failed: ${r.errors.join("; ")}`);
      }
      console.log(
        `latency = POST until stored + wait for the hub's next poll (every ${pollMs} ms: ` +
          `≈ ${pollMs / 2} ms on average) + XREAD + fan-out + the viewer reading it; ` +
          `target p99 ≤ 250 ms.\n1st viewer = the first viewer to get each message (POST + poll ` +
          `wait + XREAD); fan-out = last − first viewer's receive time of the same message; CPU ms ` +
          `per posted message while posting (10 ms ticks): the service (POST, polls, fan-out), and ` +
          `this process (the viewer threads: ${sseRows.map((r) => r.workers).join("/")} workers).`,
      );
      console.log(
        `floor: one plain Redis client's XADD → another's XREAD BLOCK, ${direct.length} messages ` +
          `(no HTTP, bridge or hub): p50 ${percentile(direct, 50).toFixed(2)} ms, p99 ${
            percentile(direct, 99).toFixed(2)
          } ms.`,
      );

      console.log(
        "\n### Memory per viewer: the service's resident memory (/proc/PID/status) before the " +
          "viewers connected and once every one had (after the idle window)",
      );
      console.log(
        "viewers   VmRSS before → after MiB   per viewer KiB   RssAnon per viewer KiB   " +
          "live JS heap per viewer KiB (--heap)",
      );
      const perViewer = (r: SseRow, before: number, after: number) => (after - before) / r.viewers;
      for (const r of sseRows) {
        console.log(
          `${int(r.viewers, 7)}   ${num(r.rssBefore / 1024, 1, 10)} → ${
            num(r.rssAfter / 1024, 1, 7)
          }   ${num(perViewer(r, r.rssBefore, r.rssAfter), 1, 14)}   ${
            num(perViewer(r, r.anonBefore, r.anonAfter), 1, 22)
          }   ${num(perViewer(r, r.heapBefore / 1024, r.heapAfter / 1024), 1, 34)}`,
        );
      }
      console.log(
        "The RSS delta is mostly Deno.serve's own per-connection state (hyper, tokio: a bare " +
          "Deno.serve SSE server took ~72 KiB per connection on the 2026-12-02 machine) and V8 " +
          "heap headroom grown by the connect phase's garbage; the live heap after a GC (--heap) " +
          "is what the JavaScript objects of a viewer hold. Memory freed by an earlier row is " +
          "reused by the next: read the 1,000-viewer row.",
      );

      console.log(
        `\n## 3. Redis commands per second (INFO total_commands_processed deltas, this bench's INFO ` +
          `excluded; ${windowSeconds} s idle windows)`,
      );
      console.log(
        "window                                     streams  viewers   cmds/s  XREAD/s  readers≈  " +
          "per watched stream  per viewer  commands seen",
      );
      for (const row of redisRows) {
        const xread = (row.d.by.get("xread") ?? 0) / row.d.seconds;
        console.log(
          `${row.label.padEnd(42)} ${String(row.watched).padStart(7)}  ${int(row.viewers, 7)} ${
            num(row.d.perSecond, 2)
          } ${num(xread, 2)} ${num(xread * pollMs / 1000, 1, 9)}  ${
            num(row.watched ? row.d.perSecond / row.watched : NaN, 2, 18)
          } ${num(row.viewers ? row.d.perSecond / row.viewers : NaN, 3, 11)}  ${
            describe(row.d.by, row.d.seconds)
          }`,
        );
      }
      console.log(
        "connect phase (subscribing every viewer): " +
          sseRows.map((r) => `${r.viewers} viewers → ${r.connectCommands} commands`).join(", "),
      );
      console.log(
        "while posting, EVALSHA and the calls inside the post script (HGET, XADD, ZADD, PEXPIRE…) are " +
          "the posts themselves, not the hub.",
      );

      // --- verdicts --------------------------------------------------------------------------------
      console.log("\n## Verdicts");
      const idleRows = redisRows.filter((r) => r.label.includes("idle"));
      const quiet = redisRows.filter((r) => r.viewers === 0);
      const verdict = (ok: boolean) => (ok ? "MET    " : "NOT MET");
      if (at50) {
        console.log(
          `${verdict(at50.rps >= 6000)} POST at 50 senders ≥ 6,000 req/s: ${
            int(at50.rps, 0)
          } req/s (old Express 4,400–5,800)`,
        );
        console.log(
          `${verdict(at50.p99 <= 20)} POST at 50 senders p99 ≤ 20 ms: ${at50.p99.toFixed(2)} ms`,
        );
      }
      const complete = (r: SseRow) =>
        r.received === r.expected && r.failed === 0 && r.duplicates === 0;
      for (const r of sseRows) {
        const p99 = percentile(r.lat, 99);
        console.log(
          `${verdict(p99 <= 250 && complete(r))} SSE p99 ≤ 250 ms with ${r.viewers} viewer(s): ${
            p99.toFixed(1)
          } ms${
            complete(r)
              ? ""
              : ` (delivery incomplete: ${r.received}/${r.expected}, ${r.failed} failed)`
          }`,
        );
      }
      const at1000 = sseRows.find((r) => r.viewers === 1000)!;
      const one = sseRows.find((r) => r.viewers === 1)!;
      const p99At1000 = percentile(at1000.lat, 99);
      const sseMet = p99At1000 <= 30 && complete(at1000);
      console.log(
        `${verdict(sseMet)} SSE p99 ≤ 30 ms with 1,000 viewers (issue 17): ${
          p99At1000.toFixed(1)
        } ms, ${(p99At1000 / percentile(one.lat, 99)).toFixed(2)}× the 1-viewer p99`,
      );
      const memoryPerViewer = (at1000.rssAfter - at1000.rssBefore) / at1000.viewers;
      const heapPerViewer = (at1000.heapAfter - at1000.heapBefore) / 1024 / at1000.viewers;
      console.log(
        `(printed) service memory per viewer at 1,000 viewers: ${
          memoryPerViewer.toFixed(1)
        } KiB RSS${
          Number.isFinite(heapPerViewer)
            ? `, of which ${heapPerViewer.toFixed(1)} KiB live JS heap`
            : " (--heap adds the live JS heap)"
        }`,
      );
      // The revocation feed (src/auth/revocations.ts) polls with one XRANGE every ~250 ms whether
      // or not anyone watches a stream; the hub's own reads are the rest.
      const feedPer = (r: RedisRow) => (r.d.by.get("xrange") ?? 0) / r.d.seconds;
      const hubPer = (r: RedisRow) => r.d.perSecond - feedPer(r);
      const xreadPer = (r: RedisRow) => (r.d.by.get("xread") ?? 0) / r.d.seconds;
      const readers = idleRows.map((r) => xreadPer(r) * pollMs / 1000);
      const maxReaders = Math.max(...readers);
      console.log(
        `${verdict(maxReaders < 1.5)} at most one Redis reader per instance: XREAD/s ${
          idleRows.map((r) => xreadPer(r).toFixed(2)).join(", ")
        } with ${idleRows.map((r) => r.viewers).join(", ")} viewers (one loop = ${
          1000 / pollMs
        }/s)`,
      );
      const worstPerStream = Math.max(...idleRows.map((r) => hubPer(r) / r.watched));
      console.log(
        `${verdict(worstPerStream <= 5)} ≤ 5 hub Redis commands/s per watched stream (idle): ` +
          `worst ${worstPerStream.toFixed(2)}/s (the revocation feed's XRANGE not counted)`,
      );
      const worstQuiet = Math.max(...quiet.map(hubPer));
      console.log(
        `${verdict(worstQuiet < 0.5)} the hub reads nothing without viewers: ${
          quiet.map((r) => `${hubPer(r).toFixed(2)} cmds/s (${r.label})`).join(", ")
        }`,
      );
      const worstQuietAll = Math.max(...quiet.map((r) => r.d.perSecond));
      console.log(
        `${verdict(worstQuietAll < 0.5)} no Redis reads at all without viewers: ${
          quiet.map((r) => `${r.d.perSecond.toFixed(2)} cmds/s`).join(", ")
        }, of which the revocation feed's XRANGE ${
          quiet.map((r) => `${feedPer(r).toFixed(2)}/s`).join(", ")
        } (src/auth/revocations.ts polls every ~250 ms by design; not the hub)`,
      );

      // --- figures for deno task bench ------------------------------------------------------------
      const directP99 = percentile(direct, 99);
      for (const r of sseRows) {
        const floor = r.viewers === 1
          ? { name: "direct XADD → XREAD p99 (one plain Redis client)", value: directP99 }
          : { name: "SSE p99, 1 viewer", value: percentile(one.lat, 99) };
        for (const p of [50, 99]) {
          record({
            bench: "streams",
            cell: `SSE delivery, ${r.viewers.toLocaleString("en-US")} viewer${
              r.viewers > 1 ? "s" : ""
            } of one stream, p${p}`,
            value: percentile(r.lat, p),
            unit: "ms",
            better: "lower",
            floor: p === 99 ? floor : undefined,
            ...(r.viewers === 1000 && p === 99 ? { target: "≤ 30 ms", met: sseMet } : {}),
          });
        }
      }
      record({
        bench: "streams",
        cell: "SSE service memory per viewer (RSS, 1,000 viewers)",
        value: memoryPerViewer,
        unit: "KiB",
        better: "lower",
      });
      if (Number.isFinite(heapPerViewer)) {
        record({
          bench: "streams",
          cell: "SSE service live JS heap per viewer (after GC, 1,000 viewers)",
          value: heapPerViewer,
          unit: "KiB",
          better: "lower",
        });
      }
      record({
        bench: "streams",
        cell: "SSE Redis readers per instance (idle, 1–1,000 viewers)",
        value: maxReaders,
        unit: "readers",
        better: "lower",
        target: "≤ 1",
        met: maxReaders < 1.5,
      });
    }
  }
}

if ((globalThis as { name?: string }).name === VIEWER_WORKER) viewerWorker();
else {
  await main();
  // Part 1's in-process app leaves kept-alive connections open, which would hold the process
  // after the last line (deno task bench waited for it until its timeout).
  Deno.exit(0);
}
