/**
 * `/health` latency while riders sign in: the real process (src/main.ts) with the shipped
 * password cost (Argon2id, 19 MiB, 2 passes), once hashing on the event loop (PASSWORD_WORKERS=0,
 * as before the worker pool) and once on the worker pool (PASSWORD_WORKERS unset: the cores but
 * one).
 * Both processes run side by side on the same database and are measured in alternating rounds:
 * in each, 10 clients log in back to back while one client polls `/health` one request at a time;
 * the floor is `/health` with no logins, in the same rounds.
 *
 * `--all-cores` adds a third process with one worker per core (PASSWORD_WORKERS=cores), to compare
 * with the default (the cores but one).
 *
 * Run with the test services up (database `bpt_login_health_bench` on `BENCH_DATABASE_ADMIN_URL`,
 * default the test cluster, recreated; the services migrate it at start):
 *
 *   deno run --allow-net --allow-env --allow-read --allow-run bench/login_health_bench.ts \
 *     [--rounds 4] [--seconds 4] [--logins 10] [--all-cores]
 */
import { benchConfig } from "./bench_app.ts";
import { loadConfig } from "../src/core/config.ts";
import { percentile, record } from "./report.ts";
import { delay, freePort } from "../tests/local_servers.ts";

const arg = (name: string, fallback: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
};
const rounds = arg("--rounds", 4);
const seconds = arg("--seconds", 4);
const logins = arg("--logins", 10);

const config = await benchConfig("bpt_login_health_bench", "bptlhb:");
const shipped = loadConfig({}).passwordCost; // the services get no PASSWORD_* variables

type Variant = {
  name: string;
  base: string;
  child: Deno.ChildProcess;
  idle: number[];
  loaded: number[];
  logins: number;
  loginMs: number;
  failures: number;
  /** CPU seconds of the process's main thread (the event loop) during the login phases. */
  mainCpuS: number;
};

/** CPU seconds (user + system) of the main thread of process `pid` (/proc, Linux). */
function mainThreadCpuS(pid: number): number {
  // Through cat: Deno asks for --allow-all to read another process's /proc entries.
  const out = new Deno.Command("cat", { args: [`/proc/${pid}/task/${pid}/stat`] }).outputSync();
  const stat = new TextDecoder().decode(out.stdout);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
}

async function start(name: string, env: Record<string, string>): Promise<Variant> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
    env: {
      DATABASE_URL: config.databaseUrl,
      UPSTASH_REDIS_REST_URL: config.redisRestUrl,
      UPSTASH_REDIS_REST_TOKEN: config.redisRestToken,
      REDIS_KEY_PREFIX: config.redisKeyPrefix,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "error",
      SWEEP_INTERVAL_S: "0",
      RATE_LIMIT_PER_MINUTE: "0",
      AUTH_ACCOUNT_FAILURES: "0",
      AUTH_CLIENT_ATTEMPTS: "0",
      NO_COLOR: "1",
      ...env,
    },
    stdout: "inherit", // error lines only (LOG_LEVEL=error)
    stderr: "inherit",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  let exited = false;
  child.status.then(() => exited = true);
  for (const until = Date.now() + 30_000; Date.now() < until; await delay(100)) {
    // Exited: the port was taken (freePort races with other processes), or start-up failed.
    if (exited) throw new Error(`${name}: the service exited on start`);
    const up = await fetch(`${base}/health`).then(async (res) => {
      await res.body?.cancel();
      return res.ok;
    }).catch(() => false);
    if (up) {
      return {
        name,
        base,
        child,
        idle: [],
        loaded: [],
        logins: 0,
        loginMs: 0,
        failures: 0,
        mainCpuS: 0,
      };
    }
  }
  throw new Error(`${name}: the service did not start`);
}

async function timeHealth(base: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${base}/health`);
  await res.body?.cancel();
  return performance.now() - t;
}

// Sequential start: the first one migrates the fresh database.
const inline = await start("inline (PASSWORD_WORKERS=0)", { PASSWORD_WORKERS: "0" });
const workers = loadConfig({}).passwordPool.workers;
const pooled = await start(`worker pool (default, ${workers})`, {});
const variants = [inline, pooled];
if (Deno.args.includes("--all-cores")) {
  const cores = String(navigator.hardwareConcurrency);
  variants.push(await start(`worker pool (${cores}, the cores)`, { PASSWORD_WORKERS: cores }));
}

const email = `login-health-${crypto.randomUUID()}@example.com`;
const password = "a long enough password";
const registered = await fetch(`${inline.base}/api/auth/register`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email, password }),
});
if (registered.status !== 201) throw new Error(`register: ${registered.status}`);
await registered.body?.cancel();

async function loginLoop(v: Variant, until: number): Promise<void> {
  while (performance.now() < until) {
    const t = performance.now();
    const res = await fetch(`${v.base}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    await res.body?.cancel();
    if (res.status === 200) {
      v.logins++;
      v.loginMs += performance.now() - t;
    } else v.failures++;
  }
}

async function round(v: Variant): Promise<void> {
  // Floor: /health alone, for a second.
  for (const until = performance.now() + 1000; performance.now() < until;) {
    v.idle.push(await timeHealth(v.base));
  }
  const cpuBefore = mainThreadCpuS(v.child.pid);
  const until = performance.now() + seconds * 1000;
  const loops = Array.from({ length: logins }, () => loginLoop(v, until));
  await delay(200); // let every client have a login in flight
  while (performance.now() < until - 200) {
    v.loaded.push(await timeHealth(v.base));
    await delay(5);
  }
  await Promise.all(loops);
  v.mainCpuS += mainThreadCpuS(v.child.pid) - cpuBefore;
}

for (let r = 0; r < rounds; r++) {
  for (const v of r % 2 === 0 ? variants : [...variants].reverse()) await round(v);
}

const fmt = (n: number) => n.toFixed(1).padStart(7);
console.log(
  `/health latency (ms) during ${logins} concurrent logins, shipped cost ` +
    `(${shipped.memoryKib} KiB, ${shipped.iterations} passes), ${rounds} rounds × ${seconds} s`,
);
console.log(
  "variant                          idle p50  idle p99  load p50  load p99  logins/s  " +
    "event-loop CPU ms/login",
);
for (const v of variants) {
  console.log(
    `${v.name.padEnd(32)} ${fmt(percentile(v.idle, 50))}   ${fmt(percentile(v.idle, 99))}   ` +
      `${fmt(percentile(v.loaded, 50))}   ${fmt(percentile(v.loaded, 99))}   ` +
      `${(v.logins / (rounds * seconds)).toFixed(1).padStart(6)}    ` +
      `${(v.mainCpuS * 1000 / v.logins).toFixed(1).padStart(6)}` +
      (v.failures ? `  (${v.failures} failed logins)` : ""),
  );
}
const ratio = percentile(pooled.loaded, 99) / percentile(inline.loaded, 99);
console.log(`pool / inline, /health p99 under logins: ${ratio.toFixed(3)}×`);

const floor = { name: "/health p99, no logins", value: percentile(pooled.idle, 99) };
record({
  bench: "login_health",
  cell: `/health p99 during ${logins} concurrent logins, worker pool`,
  value: percentile(pooled.loaded, 99),
  unit: "ms",
  better: "lower",
  floor,
  target: "≤ 20 ms",
  met: percentile(pooled.loaded, 99) <= 20,
});
record({
  bench: "login_health",
  cell: `/health p50 during ${logins} concurrent logins, worker pool`,
  value: percentile(pooled.loaded, 50),
  unit: "ms",
  better: "lower",
  floor: { name: "/health p50, no logins", value: percentile(pooled.idle, 50) },
});
record({
  bench: "login_health",
  cell: "event-loop CPU per login, worker pool",
  value: pooled.mainCpuS * 1000 / pooled.logins,
  unit: "ms",
  better: "lower",
  floor: { name: "hashing inline (before)", value: inline.mainCpuS * 1000 / inline.logins },
});
record({
  bench: "login_health",
  cell: `/health p99 during ${logins} concurrent logins, hashing inline (before)`,
  value: percentile(inline.loaded, 99),
  unit: "ms",
  better: "lower",
  floor: { name: "/health p99, no logins", value: percentile(inline.idle, 99) },
});

for (const v of variants) {
  v.child.kill("SIGTERM");
  await v.child.status;
}
