import assert from "node:assert/strict";
import { hashSecret } from "../src/core/secrets.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

// A deployment with the old shared key set, as the PWA's X-API-Key setting expects.
const sharedKey = "shared-deployment-key";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ apiKey: sharedKey });
});
Deno.test.afterAll(() => t.close());

type Created = {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  key: string;
};

async function createKey(token: string, name = "bike computer"): Promise<Created> {
  const res = await t.request("POST", "/api/users/me/api-keys", { token, body: { name } });
  assert.equal(res.status, 201, await res.clone().text());
  return await res.json();
}

async function listKeys(token: string) {
  const res = await t.request("GET", "/api/users/me/api-keys", { token });
  assert.equal(res.status, 200);
  return (await res.json()).apiKeys as Omit<Created, "key">[];
}

Deno.test("POST /api/users/me/api-keys shows the secret once and stores only its hash", async () => {
  const rider = await registerRider(t);
  const created = await createKey(rider.accessToken, "  Garage trainer ");
  assert.match(created.key, /^bpt_[A-Za-z0-9_-]{43}$/);
  assert.equal(created.prefix, created.key.slice(0, 12));
  assert.equal(created.name, "Garage trainer");
  assert.equal(created.lastUsedAt, null);
  assert.ok(!Number.isNaN(Date.parse(created.createdAt)));

  const [row] = await t.sql`
    select user_id, name, prefix, key_hash from api_keys where id = ${created.id}
  `;
  assert.equal(row.userId, rider.user.id);
  assert.deepEqual(new Uint8Array(row.keyHash), await hashSecret(created.key));
  assert.equal(JSON.stringify(row).includes(created.key.slice(12)), false);

  const listed = await listKeys(rider.accessToken);
  assert.deepEqual(listed, [{
    id: created.id,
    name: "Garage trainer",
    prefix: created.prefix,
    createdAt: created.createdAt,
    lastUsedAt: null,
  }]);
  const second = await createKey(rider.accessToken, "phone");
  assert.notEqual(second.key, created.key);
  assert.deepEqual((await listKeys(rider.accessToken)).map((k) => k.name), [
    "phone",
    "Garage trainer",
  ]);
});

Deno.test("a created key works in X-API-Key on /api/streams and /api/workouts and records its use", async () => {
  const rider = await registerRider(t);
  const { id, key } = await createKey(rider.accessToken);
  const headers = { "x-api-key": key };
  const name = `workout-key-${crypto.randomUUID().slice(0, 8)}`;

  const stream = await t.request("POST", "/api/streams/create", {
    headers,
    body: { streamName: name },
  });
  assert.equal(stream.status, 200, await stream.clone().text());
  assert.equal((await stream.json()).streamName, name);
  const message = await t.request("POST", `/api/streams/${name}/messages`, {
    headers,
    body: { message: JSON.stringify({ power: 210, dataType: "workout_metrics" }) },
  });
  assert.equal(message.status, 200);
  await message.body?.cancel();

  const started = await t.request("POST", "/api/workouts", { headers, body: { title: "By key" } });
  assert.equal(started.status, 201, await started.clone().text());
  assert.equal((await started.json()).workout.userId, rider.user.id);
  const history = await t.request("GET", "/api/workouts?limit=1000", { headers });
  assert.equal(history.status, 200);
  const titles = (await history.json()).workouts.map((w: { title: string }) => w.title);
  assert.ok(titles.includes("By key"));

  const me = await t.request("GET", "/api/users/me", { headers });
  assert.equal((await me.json()).id, rider.user.id);

  const [listed] = await listKeys(rider.accessToken);
  assert.equal(listed.id, id);
  assert.ok(listed.lastUsedAt, "lastUsedAt is set after the key was used");
  assert.ok(Date.now() - Date.parse(listed.lastUsedAt) < 60_000);
});

Deno.test("DELETE /api/users/me/api-keys/:id revokes the key; it answers 401 afterwards", async () => {
  const rider = await registerRider(t);
  const kept = await createKey(rider.accessToken, "kept");
  const gone = await createKey(rider.accessToken, "gone");
  const before = await t.request("GET", "/api/workouts", { headers: { "x-api-key": gone.key } });
  assert.equal(before.status, 200);
  await before.body?.cancel();

  const res = await t.request("DELETE", `/api/users/me/api-keys/${gone.id}`, {
    token: rider.accessToken,
  });
  assert.equal(res.status, 204);
  assert.equal(await res.text(), "");

  const after = await t.request("GET", "/api/workouts", { headers: { "x-api-key": gone.key } });
  assert.equal(after.status, 401);
  assert.equal((await after.json()).error, "Unauthorized: Invalid API Key");
  const stream = await t.request("POST", "/api/streams/create", {
    headers: { "x-api-key": gone.key },
    body: { streamName: "workout-revoked" },
  });
  assert.equal(stream.status, 401);
  await stream.body?.cancel();
  assert.deepEqual((await listKeys(rider.accessToken)).map((k) => k.id), [kept.id]);

  const again = await t.request("DELETE", `/api/users/me/api-keys/${gone.id}`, {
    token: rider.accessToken,
  });
  assert.equal(again.status, 404);
  assert.equal((await again.json()).code, "not_found");
  const stillWorks = await t.request("GET", "/api/workouts", {
    headers: { "x-api-key": kept.key },
  });
  assert.equal(stillWorks.status, 200);
  await stillWorks.body?.cancel();
});

Deno.test("another rider's key id answers 404 and the key keeps working", async () => {
  const owner = await registerRider(t);
  const other = await registerRider(t);
  const key = await createKey(owner.accessToken);
  const res = await t.request("DELETE", `/api/users/me/api-keys/${key.id}`, {
    token: other.accessToken,
  });
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error, "API key not found");
  assert.deepEqual(await listKeys(other.accessToken), []);
  const works = await t.request("GET", "/api/users/me", { headers: { "x-api-key": key.key } });
  assert.equal(works.status, 200);
  assert.equal((await works.json()).id, owner.user.id);
});

Deno.test("API keys are managed only from a Bearer session, never with a key or the shared key", async () => {
  const rider = await registerRider(t);
  const { id, key } = await createKey(rider.accessToken);
  const headers = { "x-api-key": key };
  const made = await t.request("POST", "/api/users/me/api-keys", {
    headers,
    body: { name: "x" },
  });
  assert.equal(made.status, 403);
  assert.equal((await made.json()).code, "session_required");
  const listed = await t.request("GET", "/api/users/me/api-keys", { headers });
  assert.equal(listed.status, 403);
  await listed.body?.cancel();
  const revoked = await t.request("DELETE", `/api/users/me/api-keys/${id}`, { headers });
  assert.equal(revoked.status, 403);
  await revoked.body?.cancel();
  const shared = await t.request("POST", "/api/users/me/api-keys", {
    headers: { "x-api-key": sharedKey },
    body: { name: "x" },
  });
  assert.equal(shared.status, 401);
  assert.equal((await shared.json()).code, "unauthorized");
  const anonymous = await t.request("GET", "/api/users/me/api-keys");
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  assert.equal((await listKeys(rider.accessToken)).length, 1);
});

Deno.test("a rider holds at most 50 active keys; the next answers 409 until one is revoked", async () => {
  const rider = await registerRider(t);
  const made: Created[] = [];
  for (let i = 0; i < 50; i++) made.push(await createKey(rider.accessToken, `key ${i}`));
  const over = await t.request("POST", "/api/users/me/api-keys", {
    token: rider.accessToken,
    body: { name: "one too many" },
  });
  assert.equal(over.status, 409);
  const body = await over.json();
  assert.equal(body.code, "too_many_api_keys");
  assert.match(body.error, /already have 50 API keys/);
  assert.equal((await listKeys(rider.accessToken)).length, 50);

  const revoked = await t.request("DELETE", `/api/users/me/api-keys/${made[0].id}`, {
    token: rider.accessToken,
  });
  assert.equal(revoked.status, 204);
  await createKey(rider.accessToken, "replacement");
});

Deno.test("bad API key input answers 400 and stores nothing", async () => {
  const rider = await registerRider(t);
  for (const body of [{}, { name: "   " }, { name: "x".repeat(101) }, { name: "ok", extra: 1 }]) {
    const res = await t.request("POST", "/api/users/me/api-keys", {
      token: rider.accessToken,
      body,
    });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal((await res.json()).code, "validation_failed");
  }
  const badId = await t.request("DELETE", "/api/users/me/api-keys/not-a-uuid", {
    token: rider.accessToken,
  });
  assert.equal(badId.status, 400);
  await badId.body?.cancel();
  assert.deepEqual(await listKeys(rider.accessToken), []);
});

Deno.test("concurrent creations never exceed the cap of 50 active keys", async () => {
  const rider = await registerRider(t);
  const answers = await Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      t.request("POST", "/api/users/me/api-keys", {
        token: rider.accessToken,
        body: { name: `burst ${i}` },
      })),
  );
  const statuses = answers.map((res) => res.status);
  await Promise.all(answers.map((res) => res.body?.cancel()));
  assert.equal(statuses.filter((s) => s === 201).length, 50);
  assert.equal(statuses.filter((s) => s === 409).length, 10);
  assert.equal((await listKeys(rider.accessToken)).length, 50);
});
