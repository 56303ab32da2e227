import assert from "node:assert/strict";
import type { Config } from "../src/core/config.ts";
import { closedLoopbackUrl } from "./oidc_issuer.ts";
import { startTestApp, type TestApp, uniqueEmail } from "./support.ts";

const limits: Config["authLimits"] = {
  accountFailures: 5,
  accountWindowS: 900,
  clientAttempts: 20,
  clientWindowS: 60,
};
const password = "the right password";

// Behind one trusted proxy: the client is the last X-Forwarded-For entry.
let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ authLimits: limits, trustedProxyHops: 1 });
});
Deno.test.afterAll(() => t.close());

/** A client address of its own for each test (documentation range; only ever a header value). */
function newClient(): string {
  return `2001:db8::${crypto.randomUUID().slice(0, 4)}:${crypto.randomUUID().slice(0, 4)}`;
}

function from(app: TestApp, client: string) {
  return (path: string, body: unknown) =>
    app.request("POST", path, { body, headers: { "x-forwarded-for": `203.0.113.9, ${client}` } });
}

async function registerFrom(app: TestApp): Promise<string> {
  const email = uniqueEmail("limits");
  const res = await from(app, newClient())("/api/auth/register", { email, password });
  assert.equal(res.status, 201);
  await res.body?.cancel();
  return email;
}

async function expectStatus(res: Response, status: number, what: string) {
  assert.equal(res.status, status, `${what}: ${await res.clone().text()}`);
  return await res.json();
}

Deno.test("the 6th attempt after 5 wrong passwords answers 429 with Retry-After, even when right", async () => {
  const email = await registerFrom(t);
  const post = from(t, newClient());
  for (let i = 1; i <= 5; i++) {
    const body = await expectStatus(
      await post("/api/auth/login", { email, password: "wrong password" }),
      401,
      `failure ${i}`,
    );
    assert.equal(body.code, "invalid_credentials");
  }
  const limited = await post("/api/auth/login", { email, password });
  assert.equal(limited.status, 429);
  const retryAfter = Number(limited.headers.get("retry-after"));
  assert.ok(retryAfter > 840 && retryAfter <= 900, `Retry-After ${retryAfter}`);
  const body = await limited.json();
  assert.equal(body.code, "too_many_attempts");
  assert.match(body.error, /^Too many failed sign-ins for this account; try again in \d+ s$/);
  assert.equal(typeof body.requestId, "string");

  // The account's limit holds from any address.
  const elsewhere = await from(t, newClient())("/api/auth/login", { email, password });
  assert.equal(elsewhere.status, 429);
  await elsewhere.body?.cancel();
});

Deno.test("another account from the same client signs in until the per-client limit", async () => {
  const victim = await registerFrom(t);
  const other = await registerFrom(t);
  const client = newClient();
  const post = from(t, client);
  for (let i = 0; i < 5; i++) {
    await expectStatus(
      await post("/api/auth/login", { email: victim, password: "x" }),
      401,
      "wrong",
    );
  }
  await expectStatus(await post("/api/auth/login", { email: victim, password }), 429, "account");
  // Attempts 7 to 20 from this client are within its limit of 20 a minute.
  for (let attempt = 7; attempt <= 20; attempt++) {
    await expectStatus(
      await post("/api/auth/login", { email: other, password }),
      200,
      `#${attempt}`,
    );
  }
  const over = await post("/api/auth/login", { email: other, password });
  assert.equal(over.status, 429);
  const retryAfter = Number(over.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  assert.match((await over.json()).error, /^Too many sign-in attempts from this address/);

  // A client address the caller claims to the left of the proxy's entry changes nothing.
  const spoofed = await t.request("POST", "/api/auth/login", {
    body: { email: other, password },
    headers: { "x-forwarded-for": `${newClient()}, ${client}` },
  });
  assert.equal(spoofed.status, 429);
  await spoofed.body?.cancel();
  await expectStatus(
    await from(t, newClient())("/api/auth/login", { email: other, password }),
    200,
    "other client",
  );
});

Deno.test("a successful sign-in resets the account's failure count", async () => {
  const email = await registerFrom(t);
  const post = from(t, newClient());
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 4; i++) {
      await expectStatus(await post("/api/auth/login", { email, password: "nope" }), 401, "wrong");
    }
    await expectStatus(await post("/api/auth/login", { email, password }), 200, `round ${round}`);
  }
});

Deno.test("an unknown email is limited exactly like a real one", async () => {
  const post = from(t, newClient());
  const real = await registerFrom(t);
  const unknown = uniqueEmail("nobody");
  const answers: unknown[] = [];
  for (const email of [real, unknown]) {
    for (let i = 0; i < 5; i++) {
      await expectStatus(await post("/api/auth/login", { email, password: "nope" }), 401, email);
    }
    const res = await post("/api/auth/login", { email, password: "nope" });
    const body = await expectStatus(res, 429, email);
    answers.push({ ...body, requestId: "", error: body.error.replace(/\d+ s$/, "") });
  }
  assert.deepEqual(answers[0], answers[1]);
});

Deno.test("register, refresh and OIDC sign-in count against the per-client limit", async () => {
  const post = from(t, newClient());
  for (let i = 0; i < 7; i++) {
    const res = await post("/api/auth/register", { email: uniqueEmail("burst"), password });
    await expectStatus(res, 201, `register ${i}`);
  }
  for (let i = 0; i < 7; i++) {
    await expectStatus(
      await post("/api/auth/refresh", { refreshToken: `guess-${i}` }),
      401,
      "refresh",
    );
  }
  for (let i = 0; i < 6; i++) {
    await expectStatus(
      await post("/api/auth/oidc", { provider: "none", idToken: "x" }),
      400,
      "oidc",
    );
  }
  for (
    const [path, body] of [
      ["/api/auth/register", { email: uniqueEmail("burst"), password }],
      ["/api/auth/refresh", { refreshToken: "guess" }],
      ["/api/auth/oidc", { provider: "none", idToken: "x" }],
      ["/api/auth/login", { email: uniqueEmail("burst"), password }],
      ["/api/auth/login", { not: "even valid" }],
    ] as const
  ) {
    const res = await post(path, body);
    assert.equal(res.status, 429, path);
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
    await res.body?.cancel();
  }
});

Deno.test("without trusted proxies the connection's peer address is the client", async () => {
  const direct = await startTestApp({
    authLimits: { ...limits, clientAttempts: 3 },
    trustedProxyHops: 0,
  });
  try {
    const peer = (hostname: string) => ({
      remoteAddr: { hostname, port: 40000, transport: "tcp" },
    });
    const login = (hostname: string) =>
      direct.app.request("/api/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": newClient() },
        body: JSON.stringify({ refreshToken: "guess" }),
      }, peer(hostname));
    const address = `2001:db8:1::${crypto.randomUUID().slice(0, 4)}`;
    for (let i = 0; i < 3; i++) assert.equal((await login(address)).status, 401);
    const limited = await login(address);
    assert.equal(limited.status, 429, "a fresh X-Forwarded-For does not help");
    await limited.body?.cancel();
    const other = await login(`2001:db8:2::${crypto.randomUUID().slice(0, 4)}`);
    assert.equal(other.status, 401);
    await other.body?.cancel();
  } finally {
    await direct.close();
  }
});

Deno.test("limits set to 0 are off", async () => {
  const off = await startTestApp({
    authLimits: { ...limits, accountFailures: 0, clientAttempts: 0 },
    trustedProxyHops: 1,
  });
  try {
    const email = await registerFrom(off);
    const post = from(off, newClient());
    for (let i = 0; i < 25; i++) {
      await expectStatus(await post("/api/auth/login", { email, password: "nope" }), 401, `#${i}`);
    }
    await expectStatus(await post("/api/auth/login", { email, password }), 200, "right");
  } finally {
    await off.close();
  }
});

Deno.test("sign-in keeps working when Redis is down (the limits fail open)", async () => {
  const noRedis = await startTestApp({
    authLimits: limits,
    trustedProxyHops: 1,
    redisRestUrl: await closedLoopbackUrl(),
  });
  try {
    const email = await registerFrom(noRedis);
    const post = from(noRedis, newClient());
    for (let i = 0; i < 7; i++) {
      await expectStatus(await post("/api/auth/login", { email, password: "nope" }), 401, `#${i}`);
    }
    await expectStatus(await post("/api/auth/login", { email, password }), 200, "right");
  } finally {
    await noRedis.close();
  }
});
