import assert from "node:assert/strict";
import { createApp } from "../../src/app.ts";
import { registerRider, startTestApp, type TestApp } from "../support.ts";
import { assertEnvelope, okJson, personalKey } from "./attack_support.ts";

// Rider B against rider A's data (DESIGN §6: another user's id answers 404; COMPAT: another
// rider's stream answers 403). B tries with an access token and with a personal API key.

let t: TestApp;
let a: Awaited<ReturnType<typeof registerRider>>;
let b: Awaited<ReturnType<typeof registerRider>>;
let bKey: string;
let completedId: string;
let activeId: string;
let stream: string;

type Workout = { id: string; title: string; status: string; userId: string };

Deno.test.beforeAll(async () => {
  t = await startTestApp();
  a = await registerRider(t);
  b = await registerRider(t);
  bKey = await personalKey(t.sql, b.user.id);
  const start = Date.UTC(2026, 9, 5, 7);
  const samples = Array.from({ length: 1500 }, (_, i) => ({ time: start + i * 1000, power: 250 }));
  const imported = await okJson<{ workout: Workout }>(
    await t.request("POST", "/api/workouts/import", {
      token: a.accessToken,
      body: { title: "A's ride", samples },
    }),
  );
  completedId = imported.workout.id;
  stream = `rider-a-${crypto.randomUUID().slice(0, 8)}`;
  const created = await okJson<{ workoutId: string }>(
    await t.request("POST", "/api/streams/create", {
      token: a.accessToken,
      body: { streamName: stream },
    }),
  );
  activeId = created.workoutId;
  await okJson(
    await t.request("POST", `/api/streams/${stream}/messages`, {
      token: a.accessToken,
      body: { message: JSON.stringify({ power: 200, timestamp: Date.now() }) },
    }),
  );
});
Deno.test.afterAll(async () => {
  await t.request("DELETE", `/api/streams/${stream}`, { token: a.accessToken });
  await t.close();
});

/** B's two credentials. */
function asB(): { label: string; auth: { token?: string; headers?: Record<string, string> } }[] {
  return [
    { label: "B's token", auth: { token: b.accessToken } },
    { label: "B's API key", auth: { headers: { "x-api-key": bKey } } },
  ];
}

/** A snapshot of everything of A's that B might change. */
async function snapshotA() {
  const [workouts] = await Promise.all([
    t.sql`
      select id, title, notes, sport, status, sample_count, end_time from workouts
      where user_id = ${a.user.id} order by id
    `,
  ]);
  const [telemetry] = await t.sql`
    select count(*)::int as n from telemetry where user_id = ${a.user.id}
  `;
  const messages = await okJson<{ messages: unknown[] }>(
    await t.request("GET", `/api/streams/${stream}/messages`, { token: a.accessToken }),
  );
  const live = await okJson<{ samples: unknown[] }>(
    await t.request("GET", `/api/workouts/${activeId}/live`, { token: a.accessToken }),
  );
  return {
    workouts: JSON.stringify(workouts),
    telemetry: telemetry.n,
    messages: messages.messages.length,
    liveSamples: live.samples.length,
  };
}

Deno.test("rider B cannot read rider A's workouts: every read answers 404, like a missing id", async () => {
  const missing = crypto.randomUUID();
  for (const { label, auth } of asB()) {
    for (const id of [completedId, activeId]) {
      for (
        const path of [
          `/api/workouts/${id}`,
          `/api/workouts/${id}?includeTelemetry=true`,
          `/api/workouts/${id}/telemetry`,
          `/api/workouts/${id}/telemetry?resolution=1s`,
          `/api/workouts/${id}/live`,
        ]
      ) {
        const res = await t.request("GET", path, auth);
        const body = await assertEnvelope(res, 404, {
          code: "not_found",
          label: `${label} ${path}`,
        });
        // No existence oracle: A's id answers exactly like an id nobody has.
        const other = await t.request("GET", path.replace(id, missing), auth);
        const otherBody = await assertEnvelope(other, 404, { code: "not_found" });
        assert.equal(body.error, otherBody.error, path);
      }
    }
    const byStream = await t.request("GET", `/api/workouts/by-stream/${stream}`, auth);
    await assertEnvelope(byStream, 404, { code: "not_found", label: `${label} by-stream` });
    const list = await okJson<{ workouts: Workout[]; pagination: { total: number } }>(
      await t.request("GET", "/api/workouts?limit=1000", auth),
    );
    assert.ok(list.workouts.every((w) => w.userId === b.user.id), label);
    assert.equal(list.workouts.some((w) => [completedId, activeId].includes(w.id)), false, label);
    const curve = await okJson<{ curve: { workoutId: string }[] }>(
      await t.request("GET", "/api/analytics/power-curve", auth),
    );
    assert.equal(curve.curve.some((c) => c.workoutId === completedId), false, label);
    const bests = await okJson<{ bests: unknown[] }>(
      await t.request("GET", "/api/analytics/bests?duration=1200", auth),
    );
    assert.deepEqual(bests.bests, [], label);
  }
  // A sees all of it.
  const mine = await okJson<{ curve: { workoutId: string }[] }>(
    await t.request("GET", "/api/analytics/power-curve", { token: a.accessToken }),
  );
  assert.ok(mine.curve.some((c) => c.workoutId === completedId));
});

Deno.test("rider B cannot change, complete, feed or delete rider A's workouts: 404 and nothing changes", async () => {
  const before = await snapshotA();
  for (const { label, auth } of asB()) {
    const attempts: [string, string, unknown?][] = [
      ["PATCH", `/api/workouts/${completedId}`, { title: "pwned", description: "pwned" }],
      ["PATCH", `/api/workouts/${activeId}`, { sport: "pwned" }],
      ["DELETE", `/api/workouts/${completedId}`],
      ["DELETE", `/api/workouts/${activeId}`],
      ["POST", `/api/workouts/${activeId}/complete`, {}],
      ["POST", `/api/workouts/${completedId}/complete`, {}],
      ["POST", `/api/workouts/${activeId}/samples`, { samples: [{ time: Date.now(), power: 9 }] }],
    ];
    for (const [method, path, body] of attempts) {
      const res = await t.request(method, path, { ...auth, body });
      await assertEnvelope(res, 404, { code: "not_found", label: `${label} ${method} ${path}` });
    }
  }
  assert.deepEqual(await snapshotA(), before);
  const still = await okJson<Workout>(
    await t.request("GET", `/api/workouts/${completedId}`, { token: a.accessToken }),
  );
  assert.equal(still.title, "A's ride");
  const active = await okJson<Workout>(
    await t.request("GET", `/api/workouts/${activeId}`, { token: a.accessToken }),
  );
  assert.equal(active.status, "active");
});

Deno.test("rider B cannot post to, take over or delete rider A's stream: 403 and nothing changes", async () => {
  const before = await snapshotA();
  for (const { label, auth } of asB()) {
    const post = await t.request("POST", `/api/streams/${stream}/messages`, {
      ...auth,
      body: { message: JSON.stringify({ power: 2000 }), author: "A" },
    });
    await assertEnvelope(post, 403, { code: "forbidden", label: `${label} post` });
    const create = await t.request("POST", "/api/streams/create", {
      ...auth,
      body: { streamName: stream },
    });
    await assertEnvelope(create, 403, { code: "forbidden", label: `${label} create` });
    const del = await t.request("DELETE", `/api/streams/${stream}`, auth);
    await assertEnvelope(del, 403, { code: "forbidden", label: `${label} delete` });
  }
  // Nor can an old client holding the deployment's shared key.
  const keyed = createApp({ ...t.deps, config: { ...t.deps.config, apiKey: "shared-secret" } });
  const headers = { "x-api-key": "shared-secret", "content-type": "application/json" };
  const legacyPost = await keyed.request(`/api/streams/${stream}/messages`, {
    method: "POST",
    headers,
    body: JSON.stringify({ message: "x" }),
  });
  await assertEnvelope(legacyPost, 403, { code: "forbidden", label: "shared key post" });
  const legacyDelete = await keyed.request(`/api/streams/${stream}`, { method: "DELETE", headers });
  await assertEnvelope(legacyDelete, 403, { code: "forbidden", label: "shared key delete" });

  assert.deepEqual(await snapshotA(), before);
  const meta = await t.deps.streams.meta(stream);
  assert.equal(meta?.owner, `user:${a.user.id}`);
  assert.equal(meta?.workout, activeId);
  // A still can.
  await okJson(
    await t.request("POST", `/api/streams/${stream}/messages`, {
      token: a.accessToken,
      body: { message: "still mine" },
    }),
  );
});

Deno.test("ids come from the credential: A's id in the query, a header or the body changes nothing", async () => {
  const res = await t.request("GET", `/api/workouts?userId=${a.user.id}&user_id=${a.user.id}`, {
    headers: { "x-api-key": bKey, "x-user-id": a.user.id },
  });
  const list = await okJson<{ workouts: Workout[] }>(res);
  assert.ok(list.workouts.every((w) => w.userId === b.user.id));
  const patched = await t.request("PATCH", "/api/users/me", {
    headers: { "x-api-key": bKey },
    body: { id: a.user.id, displayName: "B" },
  });
  await assertEnvelope(patched, 400, { code: "validation_failed" });
  const me = await okJson<{ id: string }>(
    await t.request("GET", "/api/users/me", { token: a.accessToken }),
  );
  assert.equal(me.id, a.user.id);
});
