/**
 * Every route that takes an id is scoped to its owner: another rider's id answers 404 (never 403,
 * which would confirm the id exists) and changes nothing.
 *
 * The routes come from the app's own /openapi.json, so a route added later with a `{param}` in
 * its path fails the first test until it gets a line in `cases` (or in `notOwnerScoped`, with a
 * reason).
 */
import assert from "node:assert/strict";
import { hashSecret } from "../src/core/secrets.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

/** Rider A's resources that rider B tries to reach. */
type Fixture = {
  /** A's user id. */
  userId: string;
  /** A's completed and active workout ids. */
  workouts: string[];
  completed: string;
  active: string;
  /** The stream name of A's active workout. */
  streamName: string;
  /** The id of A's personal API key. */
  apiKeyId: string;
  /** The id of A's webhook. */
  webhookId: string;
  /** The id of A's zip import job. */
  importJobId: string;
};

/**
 * One request rider B sends; `body` is JSON. `tokenOnly`: the route takes no API key at all (it
 * answers 403 to any key before looking at the id), so only B's access token is tried.
 */
type Attempt = { path: string; body?: unknown; tokenOnly?: boolean };

const samples = [{ time: Date.UTC(2026, 10, 1, 7), power: 999 }];

/**
 * Per "METHOD /openapi/path": the requests that aim at rider A's resources. Each must answer 404.
 * Adding a route: add one line here.
 */
const cases: Record<string, (f: Fixture) => Attempt[]> = {
  "GET /api/workouts/{id}": (f) =>
    f.workouts.map((id) => ({ path: `/api/workouts/${id}?includeTelemetry=true` })),
  "PATCH /api/workouts/{id}": (f) =>
    f.workouts.map((id) => ({ path: `/api/workouts/${id}`, body: { title: "Mine now" } })),
  "DELETE /api/workouts/{id}": (f) => f.workouts.map((id) => ({ path: `/api/workouts/${id}` })),
  "POST /api/workouts/{id}/complete": (f) =>
    f.workouts.map((id) => ({ path: `/api/workouts/${id}/complete`, body: {} })),
  "POST /api/workouts/{id}/samples": (f) =>
    f.workouts.map((id) => ({ path: `/api/workouts/${id}/samples`, body: { samples } })),
  "GET /api/workouts/{id}/live": (f) =>
    f.workouts.map((id) => ({ path: `/api/workouts/${id}/live` })),
  "GET /api/workouts/{id}/telemetry": (f) =>
    f.workouts.flatMap((id) =>
      ["raw", "1s", "10s", "1m"].map((r) => ({
        path: `/api/workouts/${id}/telemetry?resolution=${r}`,
      }))
    ),
  "GET /api/workouts/{id}/laps": (f) =>
    f.workouts.map((id) => ({ path: `/api/workouts/${id}/laps` })),
  "GET /api/workouts/by-stream/{streamName}": (f) => [
    { path: `/api/workouts/by-stream/${f.streamName}` },
  ],
  "GET /api/workouts/{id}/export": (f) =>
    f.workouts.map((id) => ({ path: `/api/workouts/${id}/export?format=csv` })),
  "GET /api/users/{id}": (f) => [{ path: `/api/users/${f.userId}` }],
  "PUT /api/users/{id}/ftp": (f) => [{ path: `/api/users/${f.userId}/ftp`, body: { ftp: 999 } }],
  "GET /api/users/{id}/ftp-history": (f) => [{ path: `/api/users/${f.userId}/ftp-history` }],
  "GET /api/users/{id}/stats": (f) => [{ path: `/api/users/${f.userId}/stats` }],
  "PUT /api/users/{id}/weight": (f) => [
    { path: `/api/users/${f.userId}/weight`, body: { weightKg: 99 } },
  ],
  "GET /api/users/{id}/weight-history": (f) => [{ path: `/api/users/${f.userId}/weight-history` }],
  "PUT /api/users/{id}/critical-power": (f) => [
    { path: `/api/users/${f.userId}/critical-power`, body: { cp: 400, wPrime: 30000 } },
  ],
  "GET /api/users/{id}/critical-power-history": (f) => [
    { path: `/api/users/${f.userId}/critical-power-history` },
  ],
  "DELETE /api/users/me/api-keys/{id}": (f) => [
    { path: `/api/users/me/api-keys/${f.apiKeyId}`, tokenOnly: true },
  ],
  "GET /api/webhooks/{id}": (f) => [{ path: `/api/webhooks/${f.webhookId}` }],
  "PATCH /api/webhooks/{id}": (f) => [
    { path: `/api/webhooks/${f.webhookId}`, body: { events: ["workout.deleted"] } },
  ],
  "DELETE /api/webhooks/{id}": (f) => [{ path: `/api/webhooks/${f.webhookId}` }],
  "GET /api/webhooks/{id}/deliveries": (f) => [{ path: `/api/webhooks/${f.webhookId}/deliveries` }],
  // A's completed ride here is a JSON import (no file); files_duplicates_test.ts asks for the
  // original of an uploaded file as another rider.
  "GET /api/workouts/{id}/original": (f) => [{ path: `/api/workouts/${f.completed}/original` }],
  "GET /api/workouts/import-jobs/{id}": (f) => [
    { path: `/api/workouts/import-jobs/${f.importJobId}` },
  ],
  "GET /api/workouts/import-jobs/{id}/events": (f) => [
    { path: `/api/workouts/import-jobs/${f.importJobId}/events` },
  ],
};

/** Parameterised routes that are not scoped to one owner, and why. */
const notOwnerScoped: Record<string, string> = {
  // Live streams are named channels (COMPAT): another rider gets 403, not 404, on each of these;
  // tests/streams_privacy_test.ts checks them for every kind of caller.
  "POST /api/streams/{name}/messages": "a named channel: another owner's stream answers 403",
  "GET /api/streams/{name}/messages": "a named channel: another rider's private stream answers 403",
  "DELETE /api/streams/{name}": "a named channel: another owner's stream answers 403",
  "GET /api/streams/{name}/listen": "a named channel: another rider's private stream answers 403",
  "POST /api/streams/{name}/shares": "a named channel: another owner's stream answers 403",
  "GET /api/streams/{name}/shares": "lists only the caller's own links (empty for anyone else)",
  "DELETE /api/streams/{name}/shares/{id}": "revokes only the caller's own links (404 otherwise)",
  "PUT /api/streams/{name}/visibility": "a named channel: another owner's stream answers 403",
};

const methods = ["get", "put", "post", "patch", "delete"];

/** "METHOD /path" of every operation in /openapi.json whose path has a `{param}`. */
async function parameterisedRoutes(): Promise<string[]> {
  const res = await t.request("GET", "/openapi.json");
  assert.equal(res.status, 200);
  const doc = await res.json() as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths)
    .filter(([path]) => path.includes("{"))
    .flatMap(([path, operations]) =>
      Object.keys(operations)
        .filter((method) => methods.includes(method))
        .map((method) => `${method.toUpperCase()} ${path}`)
    );
}

Deno.test("every parameterised route in /openapi.json has an ownership case or a reason it has none", async () => {
  const routes = await parameterisedRoutes();
  assert.ok(routes.length >= Object.keys(cases).length);
  const missing = routes.filter((route) => !(route in cases) && !(route in notOwnerScoped));
  assert.deepEqual(missing, [], "add these routes to `cases` in tests/ownership_test.ts");
  const stale = [...Object.keys(cases), ...Object.keys(notOwnerScoped)].filter((route) =>
    !routes.includes(route)
  );
  assert.deepEqual(stale, [], "these cases name routes that /openapi.json no longer has");
  for (const route of Object.keys(cases)) assert.ok(!(route in notOwnerScoped), route);
});

/** Rider A with FTP history, a completed ride and an active ride with live samples. */
async function riderA(): Promise<{ token: string; fixture: Fixture }> {
  const a = await registerRider(t);
  const token = a.accessToken;
  assert.equal((await put(token, "/api/users/me/ftp", { ftp: 250 })).status, 200);
  const start = Date.UTC(2026, 10, 2, 7);
  const ride = Array.from({ length: 900 }, (_, i) => ({ time: start + i * 1000, power: 200 }));
  const imported = await t.request("POST", "/api/workouts/import", {
    token,
    body: { title: "A's ride", samples: ride },
  });
  assert.equal(imported.status, 201);
  const completed = (await imported.json()).workout.id;
  const streamName = `ownership-${crypto.randomUUID()}`;
  const started = await t.request("POST", "/api/workouts", { token, body: { streamName } });
  assert.equal(started.status, 201);
  const active = (await started.json()).workout.id;
  const live = await t.request("POST", `/api/workouts/${active}/samples`, {
    token,
    body: { samples: ride.slice(0, 60) },
  });
  assert.equal(live.status, 202);
  const key = await t.request("POST", "/api/users/me/api-keys", { token, body: { name: "A's" } });
  assert.equal(key.status, 201);
  const apiKeyId = (await key.json()).id;
  const hook = await t.request("POST", "/api/webhooks", {
    token,
    body: { url: "https://93.184.215.14/hook", events: ["workout.completed"] },
  });
  assert.equal(hook.status, 201);
  const webhookId = (await hook.json()).id;
  // A zip import job as its upload makes it (tests/files_zip_test.ts posts real archives).
  const [job] = await t.sql<{ id: string }[]>`
    insert into import_jobs (user_id, files_total) values (${a.user.id}::uuid, 0) returning id
  `;
  return {
    token,
    fixture: {
      userId: a.user.id,
      workouts: [completed, active],
      completed,
      active,
      streamName,
      apiKeyId,
      webhookId,
      importJobId: job.id,
    },
  };
}

function put(token: string, path: string, body: unknown) {
  return t.request("PUT", path, { token, body });
}

/** Everything A can see of A's data, to compare before and after B's attempts. */
async function snapshot(token: string, f: Fixture): Promise<Record<string, unknown>> {
  const paths = [
    ...f.workouts.map((id) => `/api/workouts/${id}?includeTelemetry=true`),
    `/api/workouts/${f.active}/live`,
    `/api/workouts/${f.completed}/telemetry?resolution=1m`,
    `/api/workouts/by-stream/${f.streamName}`,
    "/api/workouts?limit=1000",
    "/api/users/me",
    "/api/users/me/ftp-history",
    "/api/users/me/weight-history",
    "/api/users/me/critical-power-history",
    "/api/users/me/stats",
    "/api/users/me/api-keys",
    "/api/webhooks",
    `/api/webhooks/${f.webhookId}/deliveries`,
    "/api/analytics/power-curve",
  ];
  const seen: Record<string, unknown> = {};
  for (const path of paths) {
    const res = await t.request("GET", path, { token });
    assert.equal(res.status, 200, path);
    seen[path] = await res.json();
  }
  const { live } = t.deps;
  seen.liveKeys = await live.redis.exists(
    live.keys.workout(f.active),
    live.keys.workoutSamples(f.active),
  );
  return seen;
}

Deno.test("rider B gets 404 from every id-taking route on rider A's resources, and A's data is unchanged", async () => {
  const { token, fixture } = await riderA();
  const before = await snapshot(token, fixture);
  assert.equal(before.liveKeys, 2);

  const b = await registerRider(t);
  const apiKey = `bpt_${crypto.randomUUID().replaceAll("-", "")}`;
  await t.sql`
    insert into api_keys (user_id, name, prefix, key_hash)
    values (${b.user.id}, 'B''s bike computer', ${apiKey.slice(0, 12)}, ${await hashSecret(apiKey)})
  `;
  const asB: { label: string; headers: Record<string, string> }[] = [
    { label: "B's access token", headers: { authorization: `Bearer ${b.accessToken}` } },
    { label: "B's API key", headers: { "x-api-key": apiKey } },
  ];

  let attempts = 0;
  for (const [route, attemptsOf] of Object.entries(cases)) {
    const method = route.split(" ")[0];
    for (const attempt of attemptsOf(fixture)) {
      for (const credential of asB) {
        if (attempt.tokenOnly && credential.label !== "B's access token") continue;
        const res = await t.request(method, attempt.path, {
          headers: credential.headers,
          body: attempt.body,
        });
        const what = `${route} ${attempt.path} with ${credential.label}`;
        assert.equal(res.status, 404, `${what}: ${(await res.clone().text()).slice(0, 300)}`);
        const body = await res.json();
        assert.equal(body.code, "not_found", what);
        assert.equal(typeof body.error, "string", what);
        attempts++;
      }
    }
  }
  assert.ok(attempts >= Object.keys(cases).length * 2);

  assert.deepEqual(await snapshot(token, fixture), before);
  // B's own data stayed empty too: nothing was moved over.
  const mine = await t.request("GET", "/api/workouts", { token: b.accessToken });
  assert.equal((await mine.json()).pagination.total, 0);
  const history = await t.request("GET", "/api/users/me/ftp-history", { token: b.accessToken });
  assert.deepEqual(await history.json(), []);
});
