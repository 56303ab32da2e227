/**
 * Postgres cut at random moments of a long archive, against the real process (src/main.ts).
 *
 * The service talks to Postgres through a TCP proxy that this harness cuts (every connection
 * closed, new ones refused) or whose backends it terminates (`pg_terminate_backend` from an admin
 * connection). Each round starts a ride, ingests it, completes it while Postgres goes away at a
 * random moment, brings Postgres back and retries the complete until it succeeds. A crash of the
 * process is counted and the process restarted, so one run shows how often the driver's crash
 * happens and that nothing is lost either way.
 */
import postgres from "postgres";
import { generatePrivateKeyPem } from "../src/auth/tokens.ts";
import { delay, freePort, startTcpProxy } from "./local_servers.ts";

/** What a run measured. */
export type CutStats = {
  rounds: number;
  stops: number;
  crashes: number;
  crashMessages: string[];
  completeAttempts: number;
  samplesAccepted: number;
  samplesArchived: number;
  lostRides: number;
  /** Answers of the complete attempts, by status (and code for errors). */
  answers: Record<string, number>;
  /** With `outageProbes`: how long requests took to answer while Postgres was cut, and how. */
  outage: { ms: number; status: number }[];
};

type Service = {
  child: Deno.ChildProcess;
  exited: boolean;
  status: Promise<Deno.CommandStatus>;
  stderr: Promise<string>;
  lines: Record<string, unknown>[];
};

function spawnService(env: Record<string, string>): Service {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const service: Service = {
    child,
    exited: false,
    status: child.status,
    stderr: new Response(child.stderr).text(),
    lines: [],
  };
  service.status.then(() => service.exited = true);
  (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of child.stdout) {
      rest += decoder.decode(chunk, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const part of parts) {
        try {
          if (part.trim()) service.lines.push(JSON.parse(part));
        } catch {
          // not a log line
        }
      }
    }
  })();
  return service;
}

async function waitListening(service: Service, base: string): Promise<void> {
  const until = Date.now() + 30_000;
  while (Date.now() < until) {
    if (service.exited) throw new Error(`Service exited on start: ${await service.stderr}`);
    try {
      const res = await fetch(`${base}/health`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not yet
    }
    await delay(50);
  }
  throw new Error("Service did not start");
}

/** Runs `rounds` rides of `samples` 1 Hz samples, each archived while Postgres is cut once. */
export async function archiveUnderCuts(options: {
  databaseUrl: string;
  redisRestUrl: string;
  redisRestToken: string;
  rounds: number;
  samples: number;
  seed?: number;
  /** After the rounds: requests timed while Postgres is cut (proxy down). */
  outageProbes?: number;
  log?: (line: string) => void;
}): Promise<CutStats> {
  let seed = options.seed ?? 1;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const db = new URL(options.databaseUrl);
  const proxy = startTcpProxy({ hostname: db.hostname, port: Number(db.port || 5432) });
  const viaProxy = new URL(db.href);
  viaProxy.port = String(proxy.port);
  const admin = postgres(options.databaseUrl, { max: 2, onnotice: () => {} });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    DATABASE_URL: viaProxy.href,
    UPSTASH_REDIS_REST_URL: options.redisRestUrl,
    UPSTASH_REDIS_REST_TOKEN: options.redisRestToken,
    REDIS_KEY_PREFIX: Deno.env.get("REDIS_KEY_PREFIX") ?? "",
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    SWEEP_INTERVAL_S: "0",
    PASSWORD_MEMORY_KIB: "1024",
    PASSWORD_ITERATIONS: "1",
    // One key across restarts, so the rider stays signed in after a crash.
    JWT_PRIVATE_KEY: await generatePrivateKeyPem(),
  };
  const stats: CutStats = {
    rounds: 0,
    stops: 0,
    crashes: 0,
    crashMessages: [],
    completeAttempts: 0,
    samplesAccepted: 0,
    samplesArchived: 0,
    lostRides: 0,
    answers: {},
    outage: [],
  };
  let service = spawnService(env);
  const ensureAlive = async () => {
    if (!service.exited) return;
    stats.crashes++;
    const stderr = await service.stderr;
    const line = stderr.split("\n").find((l) => /error/i.test(l)) ?? stderr.slice(0, 200);
    stats.crashMessages.push(line.trim());
    options.log?.(`  process crashed: ${line.trim()}`);
    proxy.up();
    service = spawnService(env);
    await waitListening(service, base);
  };
  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    for (let attempt = 0;; attempt++) {
      try {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body ? { "content-type": "application/json" } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : null };
      } catch (err) {
        // The process died under the request, or is restarting.
        await delay(100);
        await ensureAlive();
        if (attempt > 50) throw err;
      }
    }
  };
  const retryUntil = async (
    what: string,
    run: () => ReturnType<typeof call>,
    done: (r: Awaited<ReturnType<typeof call>>) => boolean,
  ) => {
    for (let attempt = 0; attempt < 200; attempt++) {
      const res = await run();
      if (done(res)) return res;
      await delay(100);
      await ensureAlive();
    }
    throw new Error(`${what} never succeeded`);
  };

  try {
    await waitListening(service, base);
    const registered = await call("POST", "/api/auth/register", undefined, {
      email: `cuts-${crypto.randomUUID()}@example.com`,
      password: "correct horse battery staple",
    });
    if (registered.status !== 201) throw new Error(`register: ${JSON.stringify(registered)}`);
    const token = registered.body.accessToken as string;
    const t0 = Date.UTC(2026, 5, 1, 6, 0, 0);

    for (let round = 0; round < options.rounds; round++) {
      stats.rounds++;
      const started = await retryUntil(
        "start",
        () => call("POST", "/api/workouts", token, {}),
        (r) => r.status === 201,
      );
      const id = started.body.workout.id as string;
      const start = t0 + round * 86_400_000;
      for (let i = 0; i < options.samples; i += 3600) {
        const n = Math.min(3600, options.samples - i);
        const samples = Array.from({ length: n }, (_, k) => ({
          time: start + (i + k) * 1000,
          power: 150 + ((i + k) * 7919) % 250,
          heartRate: 120 + (i + k) % 50,
          cadence: 85,
        }));
        await retryUntil(
          "ingest",
          () => call("POST", `/api/workouts/${id}/samples`, token, { samples }),
          (r) => r.status === 202,
        );
        stats.samplesAccepted += n;
      }

      // One cut at a random moment of the complete: the proxy goes down (every connection
      // closed, new ones refused) or the service's backends are terminated.
      const cutAfterMs = random() * 400;
      const terminate = round % 2 === 1;
      const outageMs = 50 + random() * 400;
      const cutting = (async () => {
        await delay(cutAfterMs);
        stats.stops++;
        if (terminate) {
          await admin`
            select pg_terminate_backend(pid) from pg_stat_activity
            where application_name = 'bike-power-tracker' and datname = current_database()
              and pid <> pg_backend_pid()
          `.catch(() => {});
        } else {
          proxy.down();
          await delay(outageMs);
          proxy.up();
        }
      })();
      const complete = () => {
        stats.completeAttempts++;
        return call("POST", `/api/workouts/${id}/complete`, token);
      };
      const count = (r: Awaited<ReturnType<typeof call>>) => {
        const key = r.status === 200 ? "200" : `${r.status} ${r.body?.code ?? ""}`;
        stats.answers[key] = (stats.answers[key] ?? 0) + 1;
      };
      const first = await complete();
      count(first);
      await cutting;
      await delay(50);
      await ensureAlive();
      let finished = first.status === 200 || first.body?.code === "workout_already_completed";
      for (let attempt = 0; !finished && attempt < 200; attempt++) {
        await delay(100);
        await ensureAlive();
        const res = await complete();
        count(res);
        finished = res.status === 200 || res.body?.code === "workout_already_completed";
      }
      const [row] = await admin<{ n: number; status: string }[]>`
        select (select count(*)::int from telemetry where workout_id = w.id) as n, w.status
        from workouts w where w.id = ${id}
      `;
      stats.samplesArchived += row?.n ?? 0;
      if (row?.status !== "completed" || row.n !== options.samples) stats.lostRides++;
      options.log?.(
        `round ${round + 1}: cut (${terminate ? "terminate" : "proxy down"}) at ` +
          `${cutAfterMs.toFixed(0)} ms, ${row?.n ?? 0}/${options.samples} archived, ` +
          `crashes so far ${stats.crashes}`,
      );
    }
    await ensureAlive();
    if (options.outageProbes) {
      proxy.down();
      for (let i = 0; i < options.outageProbes; i++) {
        const began = performance.now();
        const res = await call("GET", "/api/workouts", token);
        stats.outage.push({ ms: performance.now() - began, status: res.status });
      }
      proxy.up();
      await ensureAlive();
    }
    return stats;
  } finally {
    try {
      service.child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await service.status;
    await service.stderr;
    await admin.end({ timeout: 1 });
    await proxy.close();
  }
}
