import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import { ConfigError, loadConfig } from "../src/core/config.ts";
import { delay } from "./local_servers.ts";
import { registerRider, startTestApp, type TestApp, uniqueEmail } from "./support.ts";

// A single-rider deployment: the old PWA sends only the shared key, as it always did.
const sharedKey = "the-old-shared-key";
const riderEmail = uniqueEmail("solo");
let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ apiKey: sharedKey, apiKeyRider: riderEmail });
});
Deno.test.afterAll(() => t.close());

const pwa = { "x-api-key": sharedKey };

Deno.test("API_KEY_RIDER must be an email and needs API_KEY", () => {
  assert.throws(
    () => loadConfig({ API_KEY: "k", API_KEY_RIDER: "not-an-email" }),
    (err: Error) =>
      err instanceof ConfigError && /API_KEY_RIDER: must be the email/.test(err.message),
  );
  assert.throws(
    () => loadConfig({ API_KEY_RIDER: "rider@example.com" }),
    (err: Error) => err instanceof ConfigError && /API_KEY_RIDER: needs API_KEY/.test(err.message),
  );
  assert.equal(
    loadConfig({ API_KEY: "k", API_KEY_RIDER: "rider@example.com" }).apiKeyRider,
    "rider@example.com",
  );
});

Deno.test("the shared key acts as API_KEY_RIDER for the old PWA's history, sync and FTP calls", async (s) => {
  await s.step(
    "before the rider registers: 409 telling the operator to register them",
    async () => {
      const res = await t.request("GET", "/api/workouts?limit=1000", { headers: pwa });
      assert.equal(res.status, 409);
      const body = await res.json();
      assert.equal(body.code, "rider_not_registered");
      assert.match(body.error, /API_KEY_RIDER.*register/);
    },
  );

  // /api/auth/* needs no shared key, as with the old service.
  const rider = await registerRider(t, { email: riderEmail });
  const id = rider.user.id;

  await s.step(
    "once registered, the shared key is that rider (asked again within ~1 s)",
    async () => {
      const deadline = Date.now() + 3000;
      let res = await t.request("GET", "/api/workouts?limit=1000", { headers: pwa });
      while (res.status === 409 && Date.now() < deadline) {
        await res.body?.cancel();
        await delay(100);
        res = await t.request("GET", "/api/workouts?limit=1000", { headers: pwa });
      }
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.deepEqual(body.workouts, []);
      assert.equal(body.pagination.limit, 1000);
    },
  );

  await s.step("sync: POST /api/workouts saves a workout owned by the rider", async () => {
    const res = await t.request("POST", "/api/workouts", {
      headers: pwa,
      body: { streamName: `workout-${Date.now()}`, title: "Morning ride" },
    });
    assert.equal(res.status, 201);
    const { workout } = await res.json();
    assert.equal(workout.userId, id);
    assert.equal(workout.title, "Morning ride");
    // The rider sees it with a Bearer token too: one account, two ways in.
    const mine = await t.request("GET", "/api/workouts?limit=1000", { token: rider.accessToken });
    assert.deepEqual((await mine.json()).workouts.map((w: { id: string }) => w.id), [workout.id]);
    const listed = await t.request("GET", "/api/workouts?limit=1000", { headers: pwa });
    assert.equal((await listed.json()).pagination.total, 1);
  });

  await s.step("FTP: PUT /api/users/:id/ftp and GET /api/users/:id/ftp-history", async () => {
    const put = await t.request("PUT", `/api/users/${id}/ftp`, {
      headers: pwa,
      body: { ftp: 265 },
    });
    assert.equal(put.status, 200);
    assert.deepEqual(await put.json(), { ftp: 265 });
    const history = await t.request("GET", `/api/users/${id}/ftp-history`, { headers: pwa });
    assert.equal(history.status, 200);
    const rows = await history.json();
    assert.equal(rows[0].ftp, 265);
    assert.equal(rows[0].userId, id);
    const profile = await t.request("GET", `/api/users/${id}`, { headers: pwa });
    assert.equal(profile.status, 200);
    assert.equal((await profile.json()).ftpWatts, 265);
    const stats = await t.request("GET", `/api/users/${id}/stats`, { headers: pwa });
    assert.equal(stats.status, 200);
    await stats.body?.cancel();
  });

  await s.step("analytics answer for the rider too", async () => {
    const res = await t.request("GET", "/api/analytics/records", { headers: pwa });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });

  await s.step("another rider's id answers 404; a wrong key still 401", async () => {
    const other = await registerRider(t);
    const res = await t.request("GET", `/api/users/${other.user.id}/ftp-history`, {
      headers: pwa,
    });
    assert.equal(res.status, 404);
    await res.body?.cancel();
    const wrong = await t.request("GET", "/api/workouts", { headers: { "x-api-key": "nope" } });
    assert.equal(wrong.status, 401);
    assert.equal((await wrong.json()).error, "Unauthorized: Invalid API Key");
  });

  await s.step("the shared key cannot mint API keys or delete the account", async () => {
    const keys = await t.request("POST", "/api/users/me/api-keys", {
      headers: pwa,
      body: { name: "sneaky" },
    });
    assert.equal(keys.status, 403);
    await keys.body?.cancel();
    const deleted = await t.request("DELETE", "/api/users/me", { headers: pwa });
    assert.equal(deleted.status, 403);
    await deleted.body?.cancel();
    const [{ n }] = await t.sql`select count(*)::int as n from users where id = ${id}`;
    assert.equal(n, 1);
  });

  await s.step("shared-key streams stay shared: a stream creates no workout", async () => {
    const res = await t.request("POST", "/api/streams/create", {
      headers: pwa,
      body: { streamName: `workout-shared-${Date.now()}` },
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).workoutId, undefined);
  });

  await s.step("the rider id is resolved once, not read from Postgres per request", async () => {
    let queries = 0;
    const sql = new Proxy(t.sql, {
      apply(target, self, args) {
        queries++;
        return Reflect.apply(target, self, args);
      },
    });
    const app = createApp({ ...t.deps, sql });
    const count = async (headers: Record<string, string>) => {
      queries = 0;
      for (let i = 0; i < 5; i++) {
        const res = await app.request(`/api/workouts/by-stream/unknown-${i}`, { headers });
        assert.equal(res.status, 404);
        await res.body?.cancel();
      }
      return queries;
    };
    // A known Bearer session needs no query to authenticate (the revocation feed is fresh): the
    // shared key costs exactly as many queries, i.e. only the route's own.
    const login = await t.request("POST", "/api/auth/login", {
      body: { email: riderEmail, password: "a long enough password" },
    });
    const { accessToken } = await login.json();
    assert.ok(t.deps.revocations.fresh());
    await count({ authorization: `Bearer ${accessToken}` }); // an instance checks a new session once
    const byToken = await count({ authorization: `Bearer ${accessToken}` });
    assert.ok(byToken > 0);
    assert.equal(await count(pwa), byToken);
  });
});

Deno.test("without API_KEY_RIDER the shared key is no rider: the rider routes answer 401", async () => {
  const plain = await startTestApp({ apiKey: sharedKey });
  try {
    const res = await plain.request("GET", "/api/workouts?limit=1000", { headers: pwa });
    assert.equal(res.status, 401);
    await res.body?.cancel();
  } finally {
    await plain.close();
  }
});
