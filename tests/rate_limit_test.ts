import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import type { Logger } from "../src/core/log.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

// The counts live in Redis for up to two minutes: every app here gets a key prefix of its own,
// and instances of one deployment share theirs.
function ownPrefix(): string {
  return `${Deno.env.get("REDIS_KEY_PREFIX") ?? "bpt:"}rl-${crypto.randomUUID().slice(0, 8)}:`;
}

/**
 * Waits for the next minute when less than 15 s of this one are left: the exact counts below hold
 * within one window (across a boundary the previous minute's count fades, letting a few more in).
 */
async function awayFromMinuteEnd(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 15_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ rateLimitPerMinute: 150, redisKeyPrefix: ownPrefix() });
});
Deno.test.afterAll(() => t.close());

Deno.test("a rider posting 2 messages a second and browsing is never limited", async () => {
  const rider = await registerRider(t);
  const name = `rate-${crypto.randomUUID().slice(0, 8)}`;
  await t.request("POST", "/api/streams/create", {
    token: rider.accessToken,
    body: { streamName: name },
  });
  // One minute of a rider: 120 messages plus 25 history requests, all within the window.
  for (let i = 0; i < 120; i++) {
    const res = await t.request("POST", `/api/streams/${name}/messages`, {
      token: rider.accessToken,
      body: { message: `m${i}` },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    if (i % 5 === 0) {
      const list = await t.request("GET", "/api/workouts?limit=1000", { token: rider.accessToken });
      assert.equal(list.status, 200);
      await list.body?.cancel();
    }
  }
});

Deno.test("beyond the limit a caller gets 429 with Retry-After, others are unaffected", async () => {
  const greedy = await registerRider(t);
  const calm = await registerRider(t);
  let limited: Response | undefined;
  for (let i = 0; i < 200 && !limited; i++) {
    const res = await t.request("GET", "/api/users/me", { token: greedy.accessToken });
    if (res.status === 429) limited = res;
    else await res.body?.cancel();
  }
  assert.ok(limited, "expected a 429 within 200 requests");
  const retryAfter = Number(limited.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60);
  assert.equal((await limited.json()).code, "rate_limited");
  const other = await t.request("GET", "/api/users/me", { token: calm.accessToken });
  assert.equal(other.status, 200);
  await other.body?.cancel();
});

Deno.test("a client cannot dodge the limit by writing its own X-Forwarded-For", async () => {
  let limited = false;
  for (let i = 0; i < 200 && !limited; i++) {
    const res = await t.request("GET", "/api/streams", {
      headers: { "x-forwarded-for": `10.0.${i >> 8}.${i & 255}` },
    });
    limited = res.status === 429;
    await res.body?.cancel();
  }
  assert.ok(limited, "rotating X-Forwarded-For values escaped the per-client limit");
});

Deno.test("behind a trusted proxy, the address the proxy appended is the client", async () => {
  const proxied = await startTestApp({
    rateLimitPerMinute: 5,
    trustedProxyHops: 1,
    redisKeyPrefix: ownPrefix(),
  });
  try {
    const from = (client: string) =>
      proxied.request("GET", "/api/streams", {
        // The client's own claim first, then the address our proxy saw.
        headers: { "x-forwarded-for": `203.0.113.9, ${client}` },
      });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await from("198.51.100.1")).status);
    assert.equal(statuses.at(-1), 429);
    assert.notEqual((await from("198.51.100.2")).status, 429, "another client was limited too");
  } finally {
    await proxied.close();
  }
});

/** Sends `count` requests, alternating between the apps, and returns the statuses. */
async function alternate(apps: TestApp[], count: number, token: string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await apps[i % apps.length].request("GET", "/api/users/me", { token });
    statuses.push(res.status);
    await res.body?.cancel();
  }
  return statuses;
}

Deno.test("two instances of one deployment allow the limit once between them, not twice", async () => {
  const limit = 300;
  const prefix = ownPrefix();
  const a = await startTestApp({ rateLimitPerMinute: limit, redisKeyPrefix: prefix });
  const b = await startTestApp({ rateLimitPerMinute: limit, redisKeyPrefix: prefix });
  await awayFromMinuteEnd();
  try {
    const rider = await registerRider(a);
    const statuses = await alternate([a, b], 2 * limit, rider.accessToken);
    const allowed = statuses.filter((s) => s === 200).length;
    assert.equal(allowed + statuses.filter((s) => s === 429).length, statuses.length);
    // Each instance claims a few requests ahead: near the limit at most a handful stay unused.
    assert.ok(allowed <= limit, `${allowed} allowed, more than the limit of ${limit}`);
    assert.ok(allowed >= limit - 12, `${allowed} allowed, far below the limit of ${limit}`);
    assert.equal(statuses.at(-1), 429);
    // Both instances ran out together: neither has its own separate allowance left.
    for (const app of [a, b]) {
      const res = await app.request("GET", "/api/users/me", { token: rider.accessToken });
      assert.equal(res.status, 429);
      await res.body?.cancel();
    }
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("an instance of another deployment (another key prefix) counts on its own", async () => {
  const a = await startTestApp({ rateLimitPerMinute: 10, redisKeyPrefix: ownPrefix() });
  const b = await startTestApp({ rateLimitPerMinute: 10, redisKeyPrefix: ownPrefix() });
  await awayFromMinuteEnd();
  try {
    const rider = await registerRider(a);
    const statuses = await alternate([a, b], 30, rider.accessToken);
    assert.equal(statuses.filter((s) => s === 200).length, 20, String(statuses));
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("concurrent requests of one caller on one instance never pass the limit", async () => {
  const app = await startTestApp({ rateLimitPerMinute: 40, redisKeyPrefix: ownPrefix() });
  await awayFromMinuteEnd();
  try {
    const rider = await registerRider(app);
    const answers = await Promise.all(
      Array.from(
        { length: 100 },
        () => app.request("GET", "/api/users/me", { token: rider.accessToken }),
      ),
    );
    const statuses = answers.map((res) => res.status);
    await Promise.all(answers.map((res) => res.body?.cancel()));
    assert.equal(statuses.filter((s) => s === 200).length, 40, String(statuses));
    assert.equal(statuses.filter((s) => s === 429).length, 60);
  } finally {
    await app.close();
  }
});

Deno.test("answers carry RateLimit headers, a 429 also Retry-After and the error envelope", async () => {
  const app = await startTestApp({ rateLimitPerMinute: 3, redisKeyPrefix: ownPrefix() });
  await awayFromMinuteEnd();
  try {
    const rider = await registerRider(app);
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await app.request("GET", "/api/users/me", { token: rider.accessToken });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      assert.equal(res.headers.get("ratelimit-limit"), "3");
      remaining.push(res.headers.get("ratelimit-remaining") ?? "");
      const reset = Number(res.headers.get("ratelimit-reset"));
      assert.ok(reset >= 1 && reset <= 60, `RateLimit-Reset ${reset}`);
    }
    assert.deepEqual(remaining, ["2", "1", "0"]);
    const limited = await app.request("GET", "/api/users/me", { token: rider.accessToken });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("ratelimit-remaining"), "0");
    assert.equal(limited.headers.get("retry-after"), limited.headers.get("ratelimit-reset"));
    assert.equal(limited.headers.get("cache-control"), "no-store");
    const body = await limited.json();
    assert.deepEqual(Object.keys(body).sort(), ["code", "error", "requestId"]);
    assert.equal(body.code, "rate_limited");
    assert.equal(body.requestId, limited.headers.get("x-request-id"));
  } finally {
    await app.close();
  }
});

Deno.test("with Redis unreachable the request limit fails open and says so in the log", async () => {
  const down = await startTestApp({
    rateLimitPerMinute: 2,
    redisRestUrl: "http://127.0.0.1:9",
    redisKeyPrefix: ownPrefix(),
  });
  const lines: string[] = [];
  const log: Logger = {
    debug: () => {},
    info: () => {},
    warn: (msg) => lines.push(msg),
    error: (msg) => lines.push(msg),
  };
  const app = createApp({ ...down.deps, log });
  try {
    const rider = await registerRider(down);
    for (let i = 0; i < 6; i++) {
      const res = await app.request("/api/users/me", {
        headers: { authorization: `Bearer ${rider.accessToken}` },
      });
      assert.equal(res.status, 200, `request ${i}`);
      await res.body?.cancel();
    }
    assert.ok(
      lines.includes("rate limit unavailable (Redis); letting requests through"),
      String(lines),
    );
  } finally {
    await down.close();
  }
});
