import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import { type Config, ConfigError, loadConfig } from "../src/core/config.ts";
import type { Logger } from "../src/core/log.ts";
import { assertEnvelope } from "./security/attack_support.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

// Rejected credentials per client address (AUTH_FAILURES_PER_CLIENT), counted in Redis so that
// every instance refuses a guessing client. Behind one trusted proxy (the client is the last
// X-Forwarded-For entry), each test with an address of its own.

const sharedKey = "the-shared-key-of-this-test";
const failures: Config["credentialFailures"] = { perClient: 5, windowS: 60 };

/** A Redis key prefix of its own: the counts outlive the test by a minute. */
function ownPrefix(): string {
  return `${Deno.env.get("REDIS_KEY_PREFIX") ?? "bpt:"}cred-${crypto.randomUUID().slice(0, 8)}:`;
}

function instance(overrides: Partial<Config> = {}): Promise<TestApp> {
  return startTestApp({
    apiKey: sharedKey,
    credentialFailures: failures,
    trustedProxyHops: 1,
    allowAnonymousStreams: false,
    ...overrides,
  });
}

let t: TestApp;
let rider: Awaited<ReturnType<typeof registerRider>>;
Deno.test.beforeAll(async () => {
  t = await instance({ redisKeyPrefix: ownPrefix() });
  rider = await registerRider(t);
});
Deno.test.afterAll(() => t.close());

/** A client address of its own for each test (documentation range; only ever a header value). */
function newClient(): string {
  return `2001:db8::${crypto.randomUUID().slice(0, 4)}:${crypto.randomUUID().slice(0, 4)}`;
}

function from(
  app: TestApp,
  client: string,
  headers: Record<string, string>,
  path = "/api/streams",
) {
  return app.request("GET", path, {
    headers: { "x-forwarded-for": `203.0.113.9, ${client}`, ...headers },
  });
}

const wrongKey = (i: number) => ({ "x-api-key": `guess-${i}` });
const rightKey = { "x-api-key": sharedKey };

Deno.test("120 wrong keys in a minute: the first 30 answer 401, the rest 429 with Retry-After", async () => {
  // The default setting (30 per 60 s), as the attacker met it.
  const defaults = await instance({
    redisKeyPrefix: ownPrefix(),
    credentialFailures: { perClient: 30, windowS: 60 },
  });
  try {
    const client = newClient();
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 120; i++) {
      const res = await from(defaults, client, wrongKey(i));
      statuses.push(res.status);
      if (res.status === 429 && !limited) limited = res;
      else await res.body?.cancel();
    }
    assert.deepEqual(statuses.slice(0, 30), Array(30).fill(401));
    assert.deepEqual(statuses.slice(30), Array(90).fill(429));
    assert.ok(limited);
    const retryAfter = Number(limited.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    const body = await assertEnvelope(limited, 429, { code: "too_many_attempts" });
    assert.equal(body.retryAfter, retryAfter);
  } finally {
    await defaults.close();
  }
});

Deno.test("a blocked client is refused before its credential is checked: the right key gets 429 too", async () => {
  const client = newClient();
  for (let i = 0; i < failures.perClient; i++) {
    const res = await from(t, client, wrongKey(i));
    await assertEnvelope(res, 401, { code: "invalid_api_key" });
  }
  // A right guess must not be told from a wrong one, or the block would still be an oracle.
  const right = await from(t, client, rightKey);
  await assertEnvelope(right, 429, { code: "too_many_attempts" });
  const token = await from(
    t,
    client,
    { authorization: `Bearer ${rider.accessToken}` },
    "/api/users/me",
  );
  await assertEnvelope(token, 429, { code: "too_many_attempts" });
  // Another address is not affected, and neither is this one's request without a credential.
  const other = await from(t, newClient(), rightKey);
  assert.equal(other.status, 200);
  await other.body?.cancel();
  const anonymous = await from(t, client, {});
  await assertEnvelope(anonymous, 401, { code: "invalid_api_key" });
});

Deno.test("bad Bearer tokens and bad personal keys count; a valid key refused by a route does not", async () => {
  const client = newClient();
  // The shared key is valid but /api/users/me needs a rider: 401 from the route, not a failure.
  for (let i = 0; i < 2 * failures.perClient; i++) {
    const res = await from(t, client, rightKey, "/api/users/me");
    await assertEnvelope(res, 401, { code: "unauthorized" });
  }
  const bad: Record<string, string>[] = [
    { authorization: "Bearer forged.token.value" },
    { authorization: "Basic dXNlcjpwYXNz" },
    { "x-api-key": `bpt_${"0".repeat(40)}` },
    { authorization: `Bearer ${rider.accessToken}x` },
    { "x-api-key": "guess" },
  ];
  for (const headers of bad) {
    const res = await from(t, client, headers, "/api/users/me");
    assert.equal(res.status, 401, JSON.stringify(headers));
    await res.body?.cancel();
  }
  const res = await from(
    t,
    client,
    { authorization: `Bearer ${rider.accessToken}` },
    "/api/users/me",
  );
  await assertEnvelope(res, 429, { code: "too_many_attempts" });
});

Deno.test("a client blocked on one instance is refused by another instance of the same deployment", async () => {
  const prefix = ownPrefix();
  const a = await instance({ redisKeyPrefix: prefix });
  const b = await instance({ redisKeyPrefix: prefix });
  try {
    const client = newClient();
    // b has served this client before, so its copy of the blocked set is fresh and empty.
    const before = await from(b, client, rightKey);
    assert.equal(before.status, 200);
    await before.body?.cancel();
    for (let i = 0; i < failures.perClient; i++) {
      const res = await from(a, client, wrongKey(i));
      assert.equal(res.status, 401);
      await res.body?.cancel();
    }
    // b learns of the block from Redis within a fetch interval (200 ms), not by its own failures.
    let status = 0;
    const deadline = Date.now() + 3000;
    while (status !== 429 && Date.now() < deadline) {
      const res = await from(b, client, rightKey);
      status = res.status;
      await res.body?.cancel();
      if (status !== 429) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(status, 429, "the other instance kept checking the blocked client's credentials");
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("the failures on two instances add up to one limit (at most one more checked on the other)", async () => {
  const prefix = ownPrefix();
  const a = await instance({ redisKeyPrefix: prefix });
  const b = await instance({ redisKeyPrefix: prefix });
  try {
    const client = newClient();
    const statuses: number[] = [];
    for (let i = 0; i < 2 * failures.perClient; i++) {
      const res = await from(i % 2 === 0 ? a : b, client, wrongKey(i));
      statuses.push(res.status);
      await res.body?.cancel();
    }
    // The failures reach the limit on a; b may check one more before its copy of the blocked set
    // is refreshed (its own count then answers over the limit): never more than one per instance.
    const checked = statuses.indexOf(429);
    assert.ok(
      checked === failures.perClient || checked === failures.perClient + 1,
      String(statuses),
    );
    assert.deepEqual(statuses.slice(0, checked), Array(checked).fill(401));
    assert.deepEqual(statuses.slice(checked), Array(statuses.length - checked).fill(429));
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("with Redis unreachable the limit fails open: credentials are checked as usual and it is logged", async () => {
  const down = await instance({ redisRestUrl: "http://127.0.0.1:9", redisKeyPrefix: ownPrefix() });
  const lines: string[] = [];
  const log: Logger = {
    debug: () => {},
    info: () => {},
    warn: (msg) => lines.push(msg),
    error: (msg) => lines.push(msg),
  };
  const app = createApp({ ...down.deps, log });
  try {
    const client = newClient();
    for (let i = 0; i < 2 * failures.perClient; i++) {
      const res = await app.request("/api/users/me", {
        headers: { "x-forwarded-for": client, ...wrongKey(i) },
      });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    }
    const res = await app.request("/api/users/me", {
      headers: { "x-forwarded-for": client, authorization: `Bearer ${rider.accessToken}` },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.ok(
      lines.some((line) => line.startsWith("credential failure limit unavailable")),
      String(lines),
    );
  } finally {
    await down.close();
  }
});

Deno.test("a 429 of the limit carries the security headers, the JSON policy and no-store", async () => {
  const client = newClient();
  for (let i = 0; i < failures.perClient; i++) {
    await (await from(t, client, wrongKey(i))).body?.cancel();
  }
  const res = await from(t, client, rightKey);
  assert.equal(res.status, 429);
  await res.body?.cancel();
  assert.equal(
    res.headers.get("content-security-policy"),
    "default-src 'none'; frame-ancestors 'none'",
  );
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
});

Deno.test("AUTH_FAILURES_PER_CLIENT=0 turns the limit off", async () => {
  const off = await instance({
    redisKeyPrefix: ownPrefix(),
    credentialFailures: { perClient: 0, windowS: 60 },
  });
  try {
    const client = newClient();
    for (let i = 0; i < 3 * failures.perClient; i++) {
      const res = await from(off, client, wrongKey(i));
      assert.equal(res.status, 401);
      await res.body?.cancel();
    }
  } finally {
    await off.close();
  }
});

Deno.test("AUTH_FAILURES_PER_CLIENT defaults to 30 per AUTH_FAILURES_WINDOW_S=60 and refuses bad values", () => {
  assert.deepEqual(loadConfig({}).credentialFailures, { perClient: 30, windowS: 60 });
  assert.deepEqual(
    loadConfig({ AUTH_FAILURES_PER_CLIENT: "0", AUTH_FAILURES_WINDOW_S: "300" }).credentialFailures,
    { perClient: 0, windowS: 300 },
  );
  assert.throws(
    () => loadConfig({ AUTH_FAILURES_PER_CLIENT: "-1", AUTH_FAILURES_WINDOW_S: "0" }),
    (err: unknown) =>
      err instanceof ConfigError && /AUTH_FAILURES_PER_CLIENT/.test(err.message) &&
      /AUTH_FAILURES_WINDOW_S/.test(err.message),
  );
});
