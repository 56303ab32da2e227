// A rolling upgrade as docs/operations.md#upgrades describes it: an instance of an earlier build
// (a real older commit of this repository, exported with `git archive`) serves a database; two
// instances of this build start at the same time on it, the migration lock lets one apply the
// newer migrations, and old and new serve side by side: a ride started on one is completed
// through the other, both ways. And what an old instance does when it restarts on the newer schema.

import assert from "node:assert/strict";
import postgres from "postgres";
import { generatePrivateKeyPem } from "../src/auth/tokens.ts";
import { readMigrations } from "../src/db/migrate.ts";
import { freePort } from "./local_servers.ts";
import { type ServiceProcess, startService, waitFor } from "./service_process.ts";

const repo = new URL("..", import.meta.url).pathname;
const baseUrl = Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:55433/bpt_test";
const database = `${new URL(baseUrl).pathname.slice(1)}_upgrade`;

function dbUrl(name: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.href;
}

async function git(args: string[]): Promise<string | undefined> {
  const out = await new Deno.Command("git", { args, cwd: repo, stdout: "piped", stderr: "null" })
    .output().catch(() => undefined);
  return out?.code === 0 ? new TextDecoder().decode(out.stdout) : undefined;
}

/** `sql/` of a commit: file name → blob id. */
async function migrationsAt(commit: string): Promise<Map<string, string> | undefined> {
  const text = await git(["ls-tree", commit, "sql/"]);
  if (text === undefined) return undefined;
  const files = new Map<string, string>();
  for (const line of text.trim().split("\n")) {
    const [meta, path] = line.split("\t");
    if (path?.endsWith(".sql")) files.set(path, meta.split(" ")[2]);
  }
  return files;
}

/**
 * The newest earlier commit whose migrations are the first ones of HEAD's, unchanged, with at
 * least one fewer: the previous release as far as the schema goes. Undefined without the history
 * (a shallow clone).
 */
async function previousRelease(): Promise<{ commit: string; missing: string[] } | undefined> {
  const head = await migrationsAt("HEAD");
  const commits = (await git(["rev-list", "--max-count=1000", "HEAD"]))?.trim().split("\n");
  if (!head || !commits) return undefined;
  for (const commit of commits.slice(1)) {
    const files = await migrationsAt(commit);
    if (!files || files.size === 0 || files.size >= head.size) continue;
    if ([...files].every(([path, blob]) => head.get(path) === blob)) {
      return { commit, missing: [...head.keys()].filter((p) => !files.has(p)).sort() };
    }
  }
  return undefined;
}

const previous = await previousRelease();

Deno.test({
  name: `an instance of the previous release (${
    previous?.commit.slice(0, 7) ?? "no git history"
  }) and two of this one share a database during a rolling upgrade`,
  // A clone without history (git clone --depth 1) has no earlier commit to run.
  ignore: previous === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { commit, missing } = previous!;
    const oldDir = await Deno.makeTempDir({ prefix: "bpt-previous-release-" });
    const exported = await new Deno.Command("bash", {
      args: ["-c", `git archive ${commit} | tar -x -C '${oldDir}'`],
      cwd: repo,
    }).output();
    assert.equal(exported.code, 0, "git archive of the previous release failed");

    const admin = postgres(dbUrl("postgres"), { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.unsafe(`create database ${database}`);
    const sql = postgres(dbUrl(database), { max: 1, onnotice: () => {} });

    const env = {
      DATABASE_URL: dbUrl(database),
      UPSTASH_REDIS_REST_URL: Deno.env.get("UPSTASH_REDIS_REST_URL")!,
      UPSTASH_REDIS_REST_TOKEN: Deno.env.get("UPSTASH_REDIS_REST_TOKEN")!,
      // Letters, digits and _ then one colon: what every release accepts.
      REDIS_KEY_PREFIX: `${
        (Deno.env.get("REDIS_KEY_PREFIX") ?? "bpt:").replace(/:$/, "")
      }_upgrade:`,
      HOST: "127.0.0.1",
      JWT_PRIVATE_KEY: await generatePrivateKeyPem(),
      LOG_LEVEL: "info",
      SWEEP_INTERVAL_S: "0",
      PASSWORD_MEMORY_KIB: "1024",
      PASSWORD_ITERATIONS: "1",
      RATE_LIMIT_PER_MINUTE: "0",
    };
    const services: ServiceProcess[] = [];
    const start = (port: number, cwd?: string, extra: Record<string, string> = {}) => {
      const service = startService({ ...env, PORT: String(port), ...extra }, cwd);
      services.push(service);
      return service;
    };
    const listening = (s: ServiceProcess) => s.lines.some((l) => l.msg === "listening");
    /** Waits for `what`; on a timeout, says what the process printed. */
    const until = async (what: string, s: ServiceProcess[], check: () => boolean) => {
      try {
        await waitFor(what, check, 60_000);
      } catch (err) {
        for (const one of s) one.child.kill("SIGKILL");
        const printed = await Promise.all(s.map(async (one) => {
          await one.read;
          return JSON.stringify(one.lines.slice(-5)) + (await one.stderr).slice(-2000);
        }));
        throw new Error(`${(err as Error).message}: ${printed.join("\n")}`);
      }
    };
    const stop = async (s: ServiceProcess) => {
      try {
        s.child.kill("SIGTERM");
      } catch { /* exited */ }
      await s.child.status;
      await s.read;
    };

    try {
      // The previous release runs alone and migrates the database to its schema.
      const oldPort = freePort();
      const old = start(oldPort, oldDir);
      await until("the previous release listening", [old], () => listening(old));
      const [{ n: oldSchema }] = await sql`select count(*)::int as n from schema_migrations`;
      const files = await readMigrations(new URL("../sql/", import.meta.url));
      assert.equal(oldSchema, files.length - missing.length);

      const at =
        (port: number) => async (method: string, path: string, token?: string, body?: unknown) => {
          const headers: Record<string, string> = {};
          if (body !== undefined) headers["content-type"] = "application/json";
          if (token) headers.authorization = `Bearer ${token}`;
          const res = await fetch(`http://127.0.0.1:${port}${path}`, {
            method,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          const text = await res.text();
          return { status: res.status, body: text ? JSON.parse(text) : undefined };
        };
      const onOld = at(oldPort);
      const registered = await onOld("POST", "/api/auth/register", undefined, {
        email: `upgrade-${crypto.randomUUID()}@example.com`,
        password: "correct horse battery staple",
      });
      assert.equal(registered.status, 201);
      const token = registered.body.accessToken as string;
      const t0 = Date.UTC(2026, 10, 24, 6);
      const samples = (from: number, n: number) =>
        Array.from(
          { length: n },
          (_, i) => ({ time: t0 + (from + i) * 1000, power: 200 + (i % 7) }),
        );

      // A ride on the previous release, still live when the upgrade starts.
      const first = await onOld("POST", "/api/workouts", token, { title: "Across the upgrade" });
      assert.equal(first.status, 201);
      const firstId = first.body.workout.id as string;
      assert.equal(
        (await onOld("POST", `/api/workouts/${firstId}/samples`, token, {
          samples: samples(0, 300),
        })).status,
        202,
      );

      // Two instances of this build start at once: one applies the newer migrations under the
      // lock, the other waits for it and finds nothing to do.
      const portB = freePort();
      const portC = freePort();
      const b = start(portB);
      const c = start(portC);
      await until("both new instances listening", [b, c], () => listening(b) && listening(c));
      const applied = [...b.lines, ...c.lines]
        .filter((l) => l.msg === "migration applied")
        .map((l) => `sql/${l.file}`)
        .sort();
      assert.deepEqual(applied, missing);
      const rows = await sql`select version from schema_migrations order by version`;
      assert.deepEqual(rows.map((r) => r.version), files.map((f) => f.version));

      // Old and new serve side by side: the old ride goes on through a new instance and is
      // archived there, whole.
      const onB = at(portB);
      const onC = at(portC);
      assert.equal(
        (await onB("POST", `/api/workouts/${firstId}/samples`, token, {
          samples: samples(300, 300),
        })).status,
        202,
      );
      assert.equal(
        (await onOld("POST", `/api/workouts/${firstId}/samples`, token, {
          samples: samples(600, 300),
        })).status,
        202,
      );
      const doneOnNew = await onC("POST", `/api/workouts/${firstId}/complete`, token);
      assert.equal(doneOnNew.status, 200, JSON.stringify(doneOnNew.body));
      assert.equal(doneOnNew.body.archivedMessages, 900);

      // A ride started on a new instance is completed through the previous release.
      const second = await onB("POST", "/api/workouts", token, {
        title: "Started on the new build",
      });
      assert.equal(second.status, 201);
      const secondId = second.body.workout.id as string;
      const later = 3600;
      assert.equal(
        (await onB("POST", `/api/workouts/${secondId}/samples`, token, {
          samples: samples(later, 200),
        })).status,
        202,
      );
      assert.equal(
        (await onOld("POST", `/api/workouts/${secondId}/samples`, token, {
          samples: samples(later + 200, 200),
        })).status,
        202,
      );
      const doneOnOld = await onOld("POST", `/api/workouts/${secondId}/complete`, token);
      assert.equal(doneOnOld.status, 200, JSON.stringify(doneOnOld.body));
      assert.equal(doneOnOld.body.archivedMessages, 400);

      // Every instance reads both rides the same way.
      for (const get of [onOld, onB, onC]) {
        for (const [id, n] of [[firstId, 900], [secondId, 400]] as const) {
          const detail = await get("GET", `/api/workouts/${id}`, token);
          assert.equal(detail.status, 200);
          // The previous release wrapped this answer in {success, workout}; this one answers the
          // bare workout, as the old clients expect (docs/compat.md).
          assert.equal((detail.body.workout ?? detail.body).status, "completed");
          const telemetry = await get("GET", `/api/workouts/${id}/telemetry?fields=power`, token);
          assert.equal(telemetry.status, 200);
          assert.equal(telemetry.body.time.length, n);
        }
        const list = await get("GET", "/api/workouts", token);
        assert.equal(list.body.pagination.total, 2);
      }

      // An old instance that restarts during the roll (a crash, a rescheduled container) with
      // MIGRATE_ON_START=true refuses the schema it does not know, naming the file; with
      // MIGRATE_ON_START=false, as the upgrade section says to run old instances, it serves.
      await stop(old);
      const refused = start(freePort(), oldDir);
      assert.equal((await refused.child.status).code, 1);
      await refused.read;
      const failure = refused.lines.find((l) => l.msg === "migrations failed");
      assert.match(String(failure?.err), /was applied to this database but its file is missing/);
      const restartedPort = freePort();
      const restarted = start(restartedPort, oldDir, { MIGRATE_ON_START: "false" });
      await until("the previous release listening again", [restarted], () => listening(restarted));
      const again = await at(restartedPort)("GET", `/api/workouts/${secondId}`, token);
      assert.equal(again.status, 200);
    } finally {
      for (const service of services) await stop(service);
      await sql.end({ timeout: 2 });
      await admin.unsafe(`drop database if exists ${database} with (force)`);
      await admin.end({ timeout: 2 });
      await Deno.remove(oldDir, { recursive: true });
    }
  },
});
