// The restore drill of docs/operations.md: a database with the recorded rides of
// tests/fixtures/rides, imported through the app, is backed up with scripts/backup.ts and
// restored with scripts/restore.ts into a fresh database; the app on the restored database
// answers every analytics route and every workout read exactly as the original, the rollups and
// hypertables work, and new rides are archived into it. Also the scripts' refusals.

import assert from "node:assert/strict";
import postgres from "postgres";
import { registerRider, startTestApp, type TestApp } from "./support.ts";
import { assertSameAnswers, everyAnswer, upload } from "./rider_answers.ts";
import { freePort } from "./local_servers.ts";

const repo = new URL("..", import.meta.url).pathname;
const baseUrl = Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:55433/bpt_test";
const base = new URL(baseUrl).pathname.slice(1);

function dbUrl(name: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.href;
}

const admin = postgres(dbUrl("postgres"), { max: 1, onnotice: () => {} });
const source = `${base}_drill_src`;
const target = `${base}_drill_dst`;
const scratch = await Deno.makeTempDir({ prefix: "bpt-backup-" });

async function recreate(name: string) {
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
}

/** Runs a script of scripts/ as `deno task` would; returns its exit code and output. */
async function runScript(name: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      `scripts/${name}`,
      ...args,
    ],
    cwd: repo,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

/** What TimescaleDB holds: hypertables, their chunks, rollups, sequences, applied migrations. */
async function timescaleState(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const hypertables = await sql`
      select hypertable_name as name, num_chunks::int as chunks
      from timescaledb_information.hypertables order by 1
    `;
    const caggs = await sql`
      select view_name from timescaledb_information.continuous_aggregates order by 1
    `;
    const rollups = await sql`
      select 'telemetry_10s' as name, count(*)::int as rows, sum(samples)::bigint as samples
      from telemetry_10s
      union all
      select 'telemetry_1m', count(*)::int, sum(samples)::bigint from telemetry_1m
      union all
      select 'workout_efforts_daily', count(*)::int, sum(watts)::bigint from workout_efforts_daily
    `;
    const sequences = await sql`
      select schemaname || '.' || sequencename as name, last_value::bigint as last
      from pg_sequences where schemaname = 'public' order by 1
    `;
    const migrations = await sql`select version, name, checksum from schema_migrations order by 1`;
    return {
      hypertables: [...hypertables],
      caggs: [...caggs],
      rollups: [...rollups],
      sequences: [...sequences],
      migrations: [...migrations],
    };
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** A live ride through start, samples and complete: `n` seconds from `start`. */
async function liveRide(t: TestApp, token: string, start: number, n: number) {
  const res = await t.request("POST", "/api/workouts", { token, body: { title: "Drill ride" } });
  assert.equal(res.status, 201);
  const { workout } = await res.json();
  const samples = Array.from({ length: n }, (_, i) => ({
    time: start + i * 1000,
    power: 180 + (i % 60),
    cadence: 88,
    heartRate: 130 + (i % 20),
  }));
  for (let i = 0; i < n; i += 500) {
    const r = await t.request("POST", `/api/workouts/${workout.id}/samples`, {
      token,
      body: { samples: samples.slice(i, i + 500) },
    });
    assert.equal(r.status, 202);
  }
  const done = await t.request("POST", `/api/workouts/${workout.id}/complete`, { token });
  assert.equal(done.status, 200);
  return workout.id as string;
}

Deno.test({
  name:
    "a backup of a database with the recorded rides restores to a database that answers the same",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await recreate(source);
    await admin.unsafe(`drop database if exists ${target} with (force)`);
    const original = await startTestApp({ databaseUrl: dbUrl(source) });
    let restoredApp: TestApp | undefined;
    try {
      // A rider with an FTP and max HR (so TSS and zones are stored), the recorded rides, a
      // second rider and a live ride.
      const rider = await registerRider(original);
      const patch = await original.request("PATCH", "/api/users/me", {
        token: rider.accessToken,
        body: { ftpWatts: 250, maxHr: 190 },
      });
      assert.equal(patch.status, 200);
      for (
        const [file, type] of [
          ["outdoor_edge1000_zpider.fit", "application/vnd.ant.fit"],
          ["outdoor_elemnt_autopause.fit", "application/vnd.ant.fit"],
          ["indoor_edge800_trainer.fit", "application/vnd.ant.fit"],
          ["outdoor_edge810_vector.fit", "application/vnd.ant.fit"],
          ["outdoor_edge1000_zpider.strava.gpx", "application/gpx+xml"],
        ]
      ) {
        // The Strava GPX of the Edge 1000 ride is kept as a workout of its own, on purpose.
        const keep = file.endsWith(".strava.gpx") ? "?duplicate=keep" : "";
        const res = await upload(original, rider.accessToken, file, type, keep);
        assert.equal(res.status, 201, `${file}: ${await res.clone().text()}`);
      }
      await liveRide(original, rider.accessToken, Date.UTC(2026, 10, 20, 7), 1800);
      const other = await registerRider(original);
      assert.equal(
        (await upload(original, other.accessToken, "outdoor_edge810_vector.csv", "text/csv"))
          .status,
        201,
      );
      const before = await everyAnswer(original, rider.accessToken);
      const beforeOther = await everyAnswer(original, other.accessToken);

      // Every analytics route of the app is in the answers compared.
      const spec = await (await original.request("GET", "/openapi.json")).json();
      const analyticsPaths = Object.keys(spec.paths).filter((p) => p.startsWith("/api/analytics"));
      assert.ok(analyticsPaths.length >= 7);
      for (const path of analyticsPaths) {
        assert.ok(
          [...before.keys()].some((k) => k.startsWith(path + "?") || k === path),
          `the drill does not compare ${path}`,
        );
      }

      const file = `${scratch}/drill.dump`;
      const backup = await runScript("backup.ts", ["--out", file, "--database-url", dbUrl(source)]);
      assert.equal(backup.code, 0, backup.text);
      assert.match(backup.text, /Wrote .*drill\.dump \([\d.]+ (KiB|MiB)\) and .* in [\d.]+ s/);
      const manifest = JSON.parse(await Deno.readTextFile(`${file}.json`));
      assert.equal(manifest.counts.workouts, 7);
      assert.equal(manifest.counts.telemetry, 8357 * 2 + 13471 + 2263 + 4700 * 2 + 1800);

      const restore = await runScript("restore.ts", [file, "--database-url", dbUrl(target)]);
      assert.equal(restore.code, 0, restore.text);
      assert.match(restore.text, /timescaledb_pre_restore\(\) done/);
      assert.match(restore.text, /timescaledb_post_restore\(\) done/);
      assert.match(restore.text, /row counts match the backup/);

      // The schema is the same, with the same migrations, chunks, rollups and sequences.
      const sourceState = await timescaleState(dbUrl(source));
      assert.deepEqual(await timescaleState(dbUrl(target)), sourceState);
      const restoring = await admin`
        select count(*)::int as n from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase
        where d.datname = ${target} and array_to_string(s.setconfig, ',') like '%timescaledb.restoring%'
      `;
      assert.equal(restoring[0].n, 0, "timescaledb.restoring is left set");

      // The app on the restored database (its start-up migration run finds nothing to do)
      // accepts the same tokens and gives every answer equal.
      restoredApp = await startTestApp({ databaseUrl: dbUrl(target) });
      assertSameAnswers(await everyAnswer(restoredApp, rider.accessToken), before);
      assertSameAnswers(await everyAnswer(restoredApp, other.accessToken), beforeOther);

      // New rides archive into the restored database: a live ride in a week no chunk covers yet,
      // an import, and a new rider (whose row and session use the restored sequences/ids).
      const newcomer = await registerRider(restoredApp);
      await liveRide(restoredApp, rider.accessToken, Date.UTC(2026, 9, 1, 6), 600);
      const imported = await upload(
        restoredApp,
        newcomer.accessToken,
        "indoor_edge800_trainer.fit",
        "application/vnd.ant.fit",
      );
      assert.equal(imported.status, 201);
      const state = await timescaleState(dbUrl(target));
      const chunks = (s: typeof state) => s.hypertables.find((h) => h.name === "telemetry")!.chunks;
      assert.equal(chunks(state), chunks(sourceState) + 1);
      const totals = await restoredApp.request(
        "GET",
        "/api/analytics/totals?period=year&from=2026-01-01&to=2026-12-31",
        { token: rider.accessToken },
      );
      assert.equal((await totals.json()).totals[0].rides, 2);
      const tele10s = state.rollups.find((r) => r.name === "telemetry_10s")!;
      assert.equal(
        Number(tele10s.samples),
        Number(sourceState.rollups.find((r) => r.name === "telemetry_10s")!.samples) + 600 + 2263,
      );
    } finally {
      await restoredApp?.close();
      await original.close();
    }
  },
});

Deno.test({
  name: "restore refuses a database that holds tables unless --force, and says why",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const file = `${scratch}/drill.dump`;
    if (!(await Deno.stat(file).catch(() => null))) {
      const made = await runScript("backup.ts", ["--out", file, "--database-url", dbUrl(source)]);
      assert.equal(made.code, 0, made.text);
    }
    const fresh = dbUrl(`${base}_drill_force`);
    await admin.unsafe(`drop database if exists ${base}_drill_force with (force)`);
    const first = await runScript("restore.ts", [file, "--database-url", fresh]);
    assert.equal(first.code, 0, first.text);
    const refused = await runScript("restore.ts", [file, "--database-url", fresh]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.text,
      /restore: error: Database \S+_drill_force is not empty \(public\.\w+.*\); restore into a new database, or pass --force/,
    );
    const forced = await runScript("restore.ts", [
      file,
      "--force",
      "--database-url",
      dbUrl(target),
    ]);
    assert.equal(forced.code, 0, forced.text);
    assert.match(forced.text, /--force: dropping database/);
    assert.match(forced.text, /row counts match the backup/);
  },
});

Deno.test({
  name: "backup and restore say clearly when the server is unreachable or the versions differ",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const closed = `postgres://postgres@127.0.0.1:${freePort()}/bpt`;
    const unreachable = await runScript("backup.ts", [
      "--out",
      `${scratch}/x.dump`,
      "--database-url",
      closed,
    ]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.text, /backup: error: Cannot reach PostgreSQL at 127\.0\.0\.1:\d+/);

    // An archive whose manifest names a TimescaleDB version this server does not have.
    const file = `${scratch}/drill.dump`;
    const other = `${scratch}/other.dump`;
    await Deno.copyFile(file, other);
    const manifest = JSON.parse(await Deno.readTextFile(`${file}.json`));
    await Deno.writeTextFile(
      `${other}.json`,
      JSON.stringify({ ...manifest, timescaledb: "2.99.0" }),
    );
    const version = await runScript("restore.ts", [
      other,
      "--database-url",
      dbUrl(`${base}_drill_none`),
    ]);
    assert.equal(version.code, 1);
    assert.match(
      version.text,
      /The backup is from TimescaleDB 2\.99\.0; this server offers [\d., ]+\. Restore into a server with TimescaleDB 2\.99\.0/,
    );
    const [exists] =
      await admin`select count(*)::int as n from pg_database where datname = ${`${base}_drill_none`}`;
    assert.equal(exists.n, 0, "a refused restore creates nothing");

    // Not an archive.
    await Deno.writeTextFile(`${scratch}/text.dump`, "select 1;\n");
    const bad = await runScript("restore.ts", [
      `${scratch}/text.dump`,
      "--database-url",
      dbUrl(`${base}_drill_none`),
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.text, /is not a pg_dump custom-format archive/);
  },
});

Deno.test.afterAll(async () => {
  await admin.unsafe(`drop database if exists ${source} with (force)`);
  await admin.unsafe(`drop database if exists ${target} with (force)`);
  await admin.unsafe(`drop database if exists ${base}_drill_force with (force)`);
  await admin.end({ timeout: 2 });
  await Deno.remove(scratch, { recursive: true });
});
