// TELEMETRY_RETENTION_DAYS: an instance's periodic job drops the telemetry chunks older than the
// retention; the rides stay, every analytics answer stays, and the reads of the dropped samples
// answer 410 telemetry_expired. On a database of its own (the drop is database-wide).

import assert from "node:assert/strict";
import postgres from "postgres";
import { ConfigError, loadConfig } from "../src/core/config.ts";
import { createLogger } from "../src/core/log.ts";
import { dropExpiredTelemetry } from "../src/db/retention.ts";
import { startInstance } from "../src/instance.ts";
import { freePort } from "./local_servers.ts";
import { assertSameAnswers, everyAnswer, upload } from "./rider_answers.ts";
import { registerRider, startTestApp, testConfig, testPrivateKeyPem } from "./support.ts";
import { waitFor } from "./service_process.ts";

const baseUrl = Deno.env.get("DATABASE_URL") ?? "postgres://postgres@127.0.0.1:55433/bpt_test";
const database = `${new URL(baseUrl).pathname.slice(1)}_retention`;
const url = new URL(baseUrl);
url.pathname = `/${database}`;
const adminUrl = new URL(baseUrl);
adminUrl.pathname = "/postgres";

Deno.test("TELEMETRY_RETENTION_DAYS is a whole number of days, 0 (keep forever) by default", () => {
  assert.equal(loadConfig({}).telemetryRetentionDays, 0);
  assert.equal(loadConfig({ TELEMETRY_RETENTION_DAYS: "400" }).telemetryRetentionDays, 400);
  assert.throws(
    () => loadConfig({ TELEMETRY_RETENTION_DAYS: "-1" }),
    (err) => err instanceof ConfigError && /TELEMETRY_RETENTION_DAYS/.test(err.message),
  );
});

Deno.test({
  name: "the retention drops old raw telemetry only: analytics answer the same, samples answer 410",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const admin = postgres(adminUrl.href, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${database} with (force)`);
    await admin.unsafe(`create database ${database}`);
    const t = await startTestApp({ databaseUrl: url.href });
    let instance: Awaited<ReturnType<typeof startInstance>> | undefined;
    try {
      const rider = await registerRider(t);
      await t.request("PATCH", "/api/users/me", {
        token: rider.accessToken,
        body: { ftpWatts: 250, maxHr: 190 },
      });
      for (const name of ["indoor_edge800_trainer.fit", "outdoor_edge810_vector.fit"]) {
        assert.equal(
          (await upload(t, rider.accessToken, name, "application/vnd.ant.fit")).status,
          201,
        );
      }
      // A ride of an hour ago, well inside the retention.
      const created = await t.request("POST", "/api/workouts", {
        token: rider.accessToken,
        body: {},
      });
      const recent = (await created.json()).workout.id as string;
      const start = Date.now() - 3_600_000;
      const samples = Array.from(
        { length: 600 },
        (_, i) => ({ time: start + i * 1000, power: 210 }),
      );
      await t.request("POST", `/api/workouts/${recent}/samples`, {
        token: rider.accessToken,
        body: { samples },
      });
      const done = await t.request("POST", `/api/workouts/${recent}/complete`, {
        token: rider.accessToken,
      });
      assert.equal(done.status, 200);

      const before = await everyAnswer(t, rider.accessToken, { samples: false });
      const recentBefore = await Promise.all(
        ["telemetry?resolution=raw", "telemetry?resolution=10s", "export?format=csv"].map((p) =>
          t.request("GET", `/api/workouts/${recent}/${p}`, { token: rider.accessToken }).then((r) =>
            r.text()
          )
        ),
      );
      const list = before.get("/api/workouts?limit=1000") as { workouts: { id: string }[] };
      const old = list.workouts.map((w) => w.id).filter((id) => id !== recent);
      assert.equal(old.length, 2);

      // An instance with a 30-day retention: its sweeper tick (every second here) runs it.
      const sql = postgres(url.href, { max: 1, onnotice: () => {} });
      const rows = async () => {
        const [r] = await sql`select count(*)::int as n from telemetry`;
        return r.n as number;
      };
      assert.equal(await rows(), 2263 + 4700 + 600);
      instance = await startInstance(
        {
          ...testConfig({ databaseUrl: url.href }),
          host: "127.0.0.1",
          port: freePort(),
          sweepIntervalS: 1,
          telemetryRetentionDays: 30,
        },
        { log: createLogger("silent"), privateKeyPem: await testPrivateKeyPem() },
      );
      let count = -1;
      const poll = setInterval(async () => count = await rows(), 200);
      try {
        await waitFor("the retention to drop the old chunks", () => count === 600, 20_000);
      } finally {
        clearInterval(poll);
      }
      const [chunks] = await sql`select count(*)::int as n from show_chunks('telemetry')`;
      assert.equal(chunks.n, 1, "only the recent ride's chunk is left");
      const [efforts] = await sql`select count(distinct workout_id)::int as n from workout_efforts`;
      assert.equal(efforts.n, 3, "best efforts are kept");
      assert.deepEqual(await dropExpiredTelemetry(sql, 30), [], "a second run drops nothing");
      await sql.end({ timeout: 2 });

      // Analytics, the list and each workout (with its summary) answer as before.
      assertSameAnswers(await everyAnswer(t, rider.accessToken, { samples: false }), before);
      for (const id of old) {
        for (
          const path of [
            "telemetry?resolution=raw",
            "telemetry?resolution=1s",
            "telemetry?resolution=10s",
            "telemetry?resolution=1m",
            "export?format=fit",
            "export?format=csv",
          ]
        ) {
          const res = await t.request("GET", `/api/workouts/${id}/${path}`, {
            token: rider.accessToken,
          });
          assert.equal(res.status, 410, path);
          const body = await res.json();
          assert.equal(body.code, "telemetry_expired");
          assert.match(body.error, /samples were dropped by the telemetry retention/);
        }
        const detail = await t.request("GET", `/api/workouts/${id}?includeTelemetry=true`, {
          token: rider.accessToken,
        });
        assert.deepEqual((await detail.json()).telemetry, []);
      }
      // The recent ride keeps everything.
      const recentAfter = await Promise.all(
        ["telemetry?resolution=raw", "telemetry?resolution=10s", "export?format=csv"].map((p) =>
          t.request("GET", `/api/workouts/${recent}/${p}`, { token: rider.accessToken }).then((r) =>
            r.text()
          )
        ),
      );
      assert.deepEqual(recentAfter, recentBefore);
    } finally {
      await instance?.stop();
      await t.close();
      await admin.unsafe(`drop database if exists ${database} with (force)`);
      await admin.end({ timeout: 2 });
    }
  },
});
