/** Webhooks end to end: registration, the outbox, signed deliveries, retries and ownership. */
import assert from "node:assert/strict";
import { createLogger } from "../src/core/log.ts";
import { startDeliveryWorker } from "../src/webhooks/worker.ts";
import { freePort } from "./local_servers.ts";
import { registerRider, startTestApp, type TestApp, testConfig } from "./support.ts";
import { documentedVerifier, startReceiver } from "./webhook_receiver.ts";

const fast = {
  ...testConfig().webhooks,
  allowPrivate: true, // the receiver is on loopback
  pollMs: 0, // the test drives the worker with runOnce()
  backoffBaseMs: 50,
  backoffMaxMs: 200,
  timeoutMs: 2000,
};
let t: TestApp;
let strict: TestApp; // the default: private addresses refused

Deno.test.beforeAll(async () => {
  t = await startTestApp({ webhooks: fast });
  strict = await startTestApp();
});
Deno.test.afterAll(async () => {
  await t.close();
  await strict.close();
});

function worker() {
  return startDeliveryWorker({ sql: t.sql, log: createLogger("silent"), config: t.deps.config });
}

/** Runs delivery passes until `done()` (each due delivery is sent once per pass). */
async function deliverUntil(what: string, done: () => boolean | Promise<boolean>) {
  const w = worker();
  try {
    const until = Date.now() + 15_000;
    while (!(await done())) {
      if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
      await w.runOnce();
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    await w.stop();
  }
}

async function createHook(token: string, url: string, events?: string[]) {
  const res = await t.request("POST", "/api/webhooks", {
    token,
    body: { url, events: events ?? ["workout.completed", "workout.updated", "workout.deleted"] },
  });
  assert.equal(res.status, 201, await res.clone().text());
  return await res.json() as { id: string; secret: string; url: string; events: string[] };
}

const t0 = Date.parse("2026-11-02T08:00:00Z");

/** Starts a workout, posts a minute of samples and completes it; answers the completed workout. */
async function ride(token: string, title = "Hook ride") {
  const started = await t.request("POST", "/api/workouts", { token, body: { title } });
  assert.equal(started.status, 201);
  const { workout } = await started.json();
  const samples = Array.from({ length: 60 }, (_, i) => ({ time: t0 + i * 1000, power: 200 + i }));
  const posted = await t.request("POST", `/api/workouts/${workout.id}/samples`, {
    token,
    body: { samples },
  });
  assert.equal(posted.status, 202, await posted.clone().text());
  const done = await t.request("POST", `/api/workouts/${workout.id}/complete`, { token });
  assert.equal(done.status, 200, await done.clone().text());
  return (await done.json()).workout as { id: string; title: string; summary: unknown };
}

async function deliveries(token: string, hookId: string) {
  const res = await t.request("GET", `/api/webhooks/${hookId}/deliveries`, { token });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).deliveries as {
    eventId: string;
    eventType: string;
    status: string;
    attempts: number;
    lastStatusCode: number | null;
    lastError: string | null;
    responseExcerpt: string | null;
    nextAttemptAt: string | null;
  }[];
}

Deno.test("a completed ride is delivered once, signed, and verifies with the documented snippet", async () => {
  const verify = await documentedVerifier();
  const receiver = startReceiver();
  try {
    const rider = await registerRider(t);
    const hook = await createHook(rider.accessToken, receiver.url);
    assert.match(hook.secret, /^whsec_/);
    // The secret is shown once: never in the list or the hook.
    const listed = await (await t.request("GET", "/api/webhooks", { token: rider.accessToken }))
      .json();
    assert.deepEqual(listed.webhooks.map((h: { id: string }) => h.id), [hook.id]);
    assert.equal(JSON.stringify(listed).includes(hook.secret), false);

    const workout = await ride(rider.accessToken);
    await deliverUntil("the delivery", () => receiver.received.length >= 1);
    assert.equal(receiver.received.length, 1);
    const got = receiver.received[0];
    assert.equal(await verify(hook.secret, got.signature, got.body), true);
    // Another secret, a changed body or a stale timestamp do not verify.
    assert.equal(await verify(`${hook.secret}x`, got.signature, got.body), false);
    assert.equal(await verify(hook.secret, got.signature, got.body.replace("Hook", "Hack")), false);
    const stale = got.signature!.replace(/t=(\d+)/, (_, s) => `t=${Number(s) - 301}`);
    assert.equal(await verify(hook.secret, stale, got.body), false);

    const event = JSON.parse(got.body);
    assert.equal(event.type, "workout.completed");
    assert.equal(event.id, got.id);
    assert.ok(Date.parse(event.occurredAt) > Date.now() - 60_000);
    assert.equal(event.data.workout.id, workout.id);
    assert.equal(event.data.workout.status, "completed");
    assert.deepEqual(event.data.workout.summary, workout.summary);

    const log = await deliveries(rider.accessToken, hook.id);
    assert.equal(log.length, 1);
    assert.equal(log[0].status, "delivered");
    assert.equal(log[0].attempts, 1);
    assert.equal(log[0].lastStatusCode, 200);
    assert.equal(log[0].eventId, got.id);
    assert.equal(log[0].nextAttemptAt, null);
  } finally {
    await receiver.close();
  }
});

Deno.test("a receiver that is down, then fails, then recovers gets the event after retries", async () => {
  const rider = await registerRider(t);
  const port = freePort(); // nothing listens here yet
  const hook = await createHook(rider.accessToken, `http://127.0.0.1:${port}/hook`, [
    "workout.completed",
  ]);
  await ride(rider.accessToken);
  const w = worker();
  await w.runOnce(); // connection refused
  await w.stop();
  let log = await deliveries(rider.accessToken, hook.id);
  assert.equal(log[0].status, "pending");
  assert.equal(log[0].attempts, 1);
  assert.equal(log[0].lastStatusCode, null);
  assert.ok(log[0].lastError);
  assert.ok(log[0].nextAttemptAt);

  const receiver = startReceiver(port);
  let failures = 2;
  receiver.answer = () => failures-- > 0 ? 500 : 204;
  try {
    await deliverUntil(
      "the delivery after retries",
      async () => (await deliveries(rider.accessToken, hook.id))[0].status === "delivered",
    );
    assert.equal(receiver.received.length, 3); // two 500s, then the 204
    assert.equal(new Set(receiver.received.map((r) => r.id)).size, 1); // one event id throughout
    assert.equal(new Set(receiver.received.map((r) => r.body)).size, 1); // the same body
    log = await deliveries(rider.accessToken, hook.id);
    assert.equal(log[0].attempts, 4);
    assert.equal(log[0].lastStatusCode, 204);
  } finally {
    await receiver.close();
  }
});

Deno.test("a delivery that keeps failing is marked failed once its retry window is over", async () => {
  const receiver = startReceiver();
  receiver.answer = () => 503;
  const short = await startTestApp({ webhooks: { ...fast, retryHours: 0.0001 } }); // 0.36 s
  try {
    const rider = await registerRider(short);
    const res = await short.request("POST", "/api/webhooks", {
      token: rider.accessToken,
      body: { url: receiver.url, events: ["workout.deleted"] },
    });
    const hook = await res.json();
    const started = await short.request("POST", "/api/workouts", { token: rider.accessToken });
    const { workout } = await started.json();
    await short.request("DELETE", `/api/workouts/${workout.id}`, { token: rider.accessToken });
    const w = startDeliveryWorker({
      sql: short.sql,
      log: createLogger("silent"),
      config: short.deps.config,
    });
    const status = async () => {
      const r = await short.request("GET", `/api/webhooks/${hook.id}/deliveries`, {
        token: rider.accessToken,
      });
      return (await r.json()).deliveries[0];
    };
    const until = Date.now() + 15_000;
    while ((await status()).status !== "failed" && Date.now() < until) {
      await w.runOnce();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await w.stop();
    const last = await status();
    assert.equal(last.status, "failed");
    assert.equal(last.lastStatusCode, 503);
    assert.equal(last.responseExcerpt, "receiver failed on purpose");
    assert.equal(last.nextAttemptAt, null);
    const sent = receiver.received.length;
    assert.ok(sent >= 1);
    await worker().runOnce(); // nothing more is sent
    assert.equal(receiver.received.length, sent);
  } finally {
    await short.close();
    await receiver.close();
  }
});

Deno.test("workout.updated and workout.deleted are delivered, only to hooks that want them", async () => {
  const all = startReceiver();
  const deletesOnly = startReceiver();
  try {
    const rider = await registerRider(t);
    await createHook(rider.accessToken, all.url);
    await createHook(rider.accessToken, deletesOnly.url, ["workout.deleted"]);
    const workout = await ride(rider.accessToken);
    const patched = await t.request("PATCH", `/api/workouts/${workout.id}`, {
      token: rider.accessToken,
      body: { title: "Renamed" },
    });
    assert.equal(patched.status, 200);
    const deleted = await t.request("DELETE", `/api/workouts/${workout.id}`, {
      token: rider.accessToken,
    });
    assert.equal(deleted.status, 200);
    await deliverUntil(
      "three events and one",
      () => all.received.length >= 3 && deletesOnly.received.length >= 1,
    );
    const types = (r: { body: string }[]) =>
      r.map((x) => JSON.parse(x.body)).sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
    const events = types(all.received);
    assert.deepEqual(events.map((e) => e.type), [
      "workout.completed",
      "workout.updated",
      "workout.deleted",
    ]);
    assert.equal(events[1].data.workout.title, "Renamed");
    assert.deepEqual(events[2].data, { workout: { id: workout.id } });
    const only = types(deletesOnly.received);
    assert.deepEqual(only.map((e) => e.type), ["workout.deleted"]);
    // One event, one id, whichever hook it went to.
    assert.equal(only[0].id, events[2].id);
  } finally {
    await all.close();
    await deletesOnly.close();
  }
});

Deno.test("a change that fails writes no event: a PATCH of another rider's workout sends nothing", async () => {
  const receiver = startReceiver();
  try {
    const owner = await registerRider(t);
    const other = await registerRider(t);
    const hook = await createHook(owner.accessToken, receiver.url);
    const started = await t.request("POST", "/api/workouts", { token: owner.accessToken });
    const { workout } = await started.json();
    const res = await t.request("PATCH", `/api/workouts/${workout.id}`, {
      token: other.accessToken,
      body: { title: "Not yours" },
    });
    assert.equal(res.status, 404);
    await worker().runOnce();
    assert.deepEqual(await deliveries(owner.accessToken, hook.id), []);
    assert.equal(receiver.received.length, 0);
  } finally {
    await receiver.close();
  }
});

Deno.test("no rider sees, changes or triggers another rider's hooks", async () => {
  const mine = startReceiver();
  const theirs = startReceiver();
  try {
    const a = await registerRider(t);
    const b = await registerRider(t);
    const hookA = await createHook(a.accessToken, mine.url);
    const hookB = await createHook(b.accessToken, theirs.url);
    await ride(b.accessToken);
    await deliverUntil("b's delivery", () => theirs.received.length >= 1);
    assert.equal(mine.received.length, 0);
    assert.deepEqual(await deliveries(a.accessToken, hookA.id), []);

    const list = await (await t.request("GET", "/api/webhooks", { token: a.accessToken })).json();
    assert.deepEqual(list.webhooks.map((h: { id: string }) => h.id), [hookA.id]);
    for (
      const [method, path, body] of [
        ["GET", `/api/webhooks/${hookB.id}`],
        ["GET", `/api/webhooks/${hookB.id}/deliveries`],
        ["PATCH", `/api/webhooks/${hookB.id}`, { url: mine.url }],
        ["DELETE", `/api/webhooks/${hookB.id}`],
      ] as const
    ) {
      const res = await t.request(method, path, { token: a.accessToken, body });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal((await res.json()).code, "not_found");
    }
    const still = await t.request("GET", `/api/webhooks/${hookB.id}`, { token: b.accessToken });
    assert.equal((await still.json()).url, theirs.url);
  } finally {
    await mine.close();
    await theirs.close();
  }
});

Deno.test("an app with the rider's personal API key manages their hooks; no credential, no hooks", async () => {
  const rider = await registerRider(t);
  const keyRes = await t.request("POST", "/api/users/me/api-keys", {
    token: rider.accessToken,
    body: { name: "hooks app" },
  });
  const { key } = await keyRes.json();
  const receiver = startReceiver();
  try {
    const created = await t.request("POST", "/api/webhooks", {
      headers: { "x-api-key": key },
      body: { url: receiver.url, events: ["workout.completed"] },
    });
    assert.equal(created.status, 201);
    const hook = await created.json();
    const patched = await t.request("PATCH", `/api/webhooks/${hook.id}`, {
      headers: { "x-api-key": key },
      body: { events: ["workout.updated", "workout.updated"] },
    });
    assert.equal(patched.status, 200);
    assert.deepEqual((await patched.json()).events, ["workout.updated"]);
    const list = await (await t.request("GET", "/api/webhooks", { token: rider.accessToken }))
      .json();
    assert.deepEqual(list.webhooks.map((h: { id: string }) => h.id), [hook.id]);
    assert.equal((await t.request("GET", "/api/webhooks")).status, 401);
    const removed = await t.request("DELETE", `/api/webhooks/${hook.id}`, {
      headers: { "x-api-key": key },
    });
    assert.equal(removed.status, 204);
    const gone = await t.request("GET", `/api/webhooks/${hook.id}`, { token: rider.accessToken });
    assert.equal(gone.status, 404);
  } finally {
    await receiver.close();
  }
});

Deno.test("bad URLs and bodies answer 4xx and store nothing; private addresses only when allowed", async () => {
  const rider = await registerRider(strict);
  const refused = [
    "ftp://example.com/hook",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://user:secret@example.com/hook",
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.5/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
  ];
  for (const url of refused) {
    const res = await strict.request("POST", "/api/webhooks", {
      token: rider.accessToken,
      body: { url, events: ["workout.completed"] },
    });
    assert.equal(res.status, 422, url);
    assert.equal((await res.json()).code, "webhook_url_refused", url);
  }
  const invalid: unknown[] = [
    { url: "not a url", events: ["workout.completed"] },
    { url: "https://example.com/hook", events: [] },
    { url: "https://example.com/hook", events: ["workout.started"] },
    { url: "https://example.com/hook" },
    { url: `https://example.com/${"a".repeat(2100)}`, events: ["workout.completed"] },
    { url: "https://example.com/hook", events: ["workout.completed"], secret: "mine" },
  ];
  for (const body of invalid) {
    const res = await strict.request("POST", "/api/webhooks", { token: rider.accessToken, body });
    assert.ok(res.status === 400 || res.status === 422, `${JSON.stringify(body)}: ${res.status}`);
  }
  const list = await (await strict.request("GET", "/api/webhooks", { token: rider.accessToken }))
    .json();
  assert.deepEqual(list.webhooks, []);
  const [{ n }] = await strict.sql<{ n: number }[]>`
    select count(*)::int as n from webhooks where user_id = ${rider.user.id}
  `;
  assert.equal(n, 0);

  // A PATCH to a refused URL changes nothing either. A public address literal is accepted
  // (nothing is sent to it: this rider has no rides).
  const ok = await strict.request("POST", "/api/webhooks", {
    token: rider.accessToken,
    body: { url: "https://93.184.215.14/hook", events: ["workout.completed"] },
  });
  assert.equal(ok.status, 201, await ok.clone().text());
  const hook = await ok.json();
  const bad = await strict.request("PATCH", `/api/webhooks/${hook.id}`, {
    token: rider.accessToken,
    body: { url: "http://127.0.0.1/hook" },
  });
  assert.equal(bad.status, 422);
  const kept = await strict.request("GET", `/api/webhooks/${hook.id}`, {
    token: rider.accessToken,
  });
  assert.equal((await kept.json()).url, "https://93.184.215.14/hook");
});

Deno.test("a rider has at most WEBHOOKS_PER_USER_MAX hooks", async () => {
  const few = await startTestApp({ webhooks: { ...fast, perUserMax: 2 } });
  try {
    const rider = await registerRider(few);
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const res = await few.request("POST", "/api/webhooks", {
        token: rider.accessToken,
        body: { url: `http://127.0.0.1:9/hook${i}`, events: ["workout.completed"] },
      });
      statuses.push(res.status);
      if (i === 2) assert.equal((await res.json()).code, "too_many_webhooks");
      else await res.body?.cancel();
    }
    assert.deepEqual(statuses, [201, 201, 409]);
  } finally {
    await few.close();
  }
});
