import assert from "node:assert/strict";
import { createApp } from "../../src/app.ts";
import type { Sql } from "../../src/db/client.ts";
import { createLiveStore } from "../../src/live/store.ts";
import { liveServices } from "../../src/wiring.ts";
import { createLogger } from "../../src/core/log.ts";
import { registerRider, startTestApp, type TestApp } from "../support.ts";
import { openSse, serveOnFreePort } from "../sse_client.ts";
import { assertEnvelope } from "./attack_support.ts";

// The security headers the app sets (hono/secure-headers, CORP relaxed for the PWA) must be on
// every class of response: JSON 2xx, each error status, preflight, SSE, the docs and the spec.

let t: TestApp;
let rider: Awaited<ReturnType<typeof registerRider>>;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ bodyLimitBytes: 4096 });
  rider = await registerRider(t);
});
Deno.test.afterAll(() => t.close());

/** The headers every response carries, with their exact values. */
const expected: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "SAMEORIGIN",
  "strict-transport-security": "max-age=15552000; includeSubDomains",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "cross-origin",
  "cross-origin-opener-policy": "same-origin",
  "x-xss-protection": "0",
  "x-permitted-cross-domain-policies": "none",
  "x-dns-prefetch-control": "off",
  "x-download-options": "noopen",
  "origin-agent-cluster": "?1",
};

/** Headers no response may carry (they advertise the stack). */
const forbidden = ["x-powered-by", "server", "x-aspnet-version", "x-runtime"];

function assertSecurityHeaders(res: { headers: Headers }, label: string) {
  for (const [name, value] of Object.entries(expected)) {
    assert.equal(res.headers.get(name), value, `${label}: ${name}`);
  }
  for (const name of forbidden) assert.equal(res.headers.get(name), null, `${label}: ${name}`);
  assert.ok(res.headers.get("x-request-id"), `${label}: x-request-id`);
}

Deno.test("JSON 2xx answers carry the security headers", async () => {
  const cases: [string, string, { token?: string; body?: unknown }, number][] = [
    ["GET", "/health", {}, 200],
    ["GET", "/api/users/me", { token: rider.accessToken }, 200],
    ["POST", "/api/auth/login", { body: { email: rider.email, password: rider.password } }, 200],
    ["POST", "/api/workouts", { token: rider.accessToken, body: { title: "h" } }, 201],
  ];
  for (const [method, path, options, status] of cases) {
    const res = await t.request(method, path, options);
    assert.equal(res.status, status, `${method} ${path}`);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    await res.body?.cancel();
    assertSecurityHeaders(res, `${method} ${path}`);
  }
});

Deno.test("every 4xx class (400, 401, 403, 404, 405, 413, 415, 422, 429) carries them with the envelope", async () => {
  const other = await registerRider(t);
  const stream = `hdr-${crypto.randomUUID().slice(0, 8)}`;
  await t.request("POST", "/api/streams/create", {
    token: rider.accessToken,
    body: { streamName: stream },
  });
  const cases: [
    number,
    string,
    string,
    { token?: string; body?: unknown; headers?: Record<string, string> },
  ][] = [
    [400, "POST", "/api/auth/login", { body: { email: "not an email" } }],
    [400, "POST", "/api/auth/login", { body: "{" }],
    [401, "GET", "/api/users/me", {}],
    [401, "GET", "/api/users/me", { token: "forged.token.value" }],
    [403, "POST", `/api/streams/${stream}/messages`, {
      token: other.accessToken,
      body: { message: "x" },
    }],
    [404, "GET", "/api/no-such-route", {}],
    [404, "GET", `/api/workouts/${crypto.randomUUID()}`, { token: rider.accessToken }],
    [405, "DELETE", "/api/auth/login", {}],
    [413, "POST", "/api/auth/login", {
      body: { email: "a@b.example", password: "x".repeat(8192) },
    }],
    [415, "POST", "/api/auth/login", {
      body: "email=x",
      headers: { "content-type": "text/plain" },
    }],
    [422, "POST", "/api/workouts/import", {
      token: rider.accessToken,
      body: { samples: [{ time: "x" }] },
    }],
  ];
  for (const [status, method, path, options] of cases) {
    const res = await t.request(method, path, options);
    const label = `${status} ${method} ${path}`;
    await assertEnvelope(res, status, { label });
    assertSecurityHeaders(res, label);
  }
  await t.request("DELETE", `/api/streams/${stream}`, { token: rider.accessToken });

  const limited = await startTestApp({ rateLimitPerMinute: 1 });
  try {
    await (await limited.request("GET", "/api/users/me")).body?.cancel();
    const res = await limited.request("GET", "/api/users/me");
    await assertEnvelope(res, 429, { code: "rate_limited" });
    assertSecurityHeaders(res, "429");
    assert.ok(res.headers.get("retry-after"));
  } finally {
    await limited.close();
  }
});

Deno.test("a 500 from a failing dependency or a throwing route carries them and hides the cause", async () => {
  // A database client that fails like a bug would (not a connection error: that is a 503).
  const broken = new Proxy(t.sql, {
    apply() {
      throw new Error("injected failure: secret detail");
    },
  }) as Sql;
  const app = createApp({ ...t.deps, sql: broken });
  const viaDep = await app.request("/api/users/me", {
    headers: { authorization: `Bearer ${rider.accessToken}` },
  });
  const body = await assertEnvelope(viaDep, 500, { code: "internal_error", label: "failing dep" });
  assert.equal(JSON.stringify(body).includes("secret detail"), false);
  assertSecurityHeaders(viaDep, "500 from a dependency");

  const withRoute = createApp(t.deps);
  withRoute.get("/test-only/boom", () => {
    throw new Error("secret detail");
  });
  const viaRoute = await withRoute.request("/test-only/boom");
  await assertEnvelope(viaRoute, 500, { code: "internal_error", label: "throwing route" });
  assertSecurityHeaders(viaRoute, "500 from a route");
});

Deno.test("a 503 (Redis unreachable) carries them", async () => {
  const live = createLiveStore({
    url: "http://127.0.0.1:9",
    token: "x",
    prefix: "sec:",
    retries: 0,
  });
  const services = liveServices(live, t.deps.config, createLogger("silent"));
  const app = createApp({ ...t.deps, live, ...services });
  try {
    const res = await app.request(`/api/streams/hdr-down/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${rider.accessToken}`, "content-type": "application/json" },
      body: JSON.stringify({ message: "x" }),
    });
    await assertEnvelope(res, 503, { code: "service_unavailable" });
    assertSecurityHeaders(res, "503");
  } finally {
    services.hub.close();
  }
});

Deno.test("a CORS preflight carries them", async () => {
  const res = await t.request("OPTIONS", "/api/workouts", {
    headers: { origin: "https://pwa.example", "access-control-request-method": "POST" },
  });
  // 200 like both old services (upstream tests check it), not Hono's 204.
  assert.equal(res.status, 200);
  assertSecurityHeaders(res, "preflight");
});

Deno.test("SSE answers (/listen and /listenAll) carry them", async () => {
  const name = `hdr-sse-${crypto.randomUUID().slice(0, 8)}`;
  const auth = { authorization: `Bearer ${rider.accessToken}` };
  for (const path of [`/api/streams/${name}/listen`, "/api/streams/listenAll"]) {
    const sse = await openSse((req) => t.app.fetch(req), `http://localhost${path}`, auth);
    assert.equal(sse.status, 200, sse.errorBody);
    assert.match(sse.headers.get("content-type") ?? "", /^text\/event-stream/);
    await sse.waitForCount(1);
    assertSecurityHeaders(sse, path);
    await sse.close();
  }
  const refused = await openSse(
    (req) => t.app.fetch(req),
    `http://localhost/api/streams/${name}/listen`,
  );
  assert.equal(refused.status, 401);
  assertSecurityHeaders(refused, "refused SSE");
});

Deno.test("/docs, its assets and /openapi.json carry them", async () => {
  for (
    const path of ["/docs", "/docs/", "/docs/init.js", "/docs/swagger-ui.css", "/openapi.json"]
  ) {
    const res = await t.request("GET", path);
    assert.equal(res.status, 200, path);
    await res.body?.cancel();
    assertSecurityHeaders(res, path);
  }
});

Deno.test("over a real socket the runtime adds no Server or X-Powered-By header", async () => {
  const server = serveOnFreePort((request) => t.app.fetch(request));
  try {
    for (const path of ["/health", "/nope", "/docs", "/openapi.json"]) {
      const res = await fetch(`${server.url}${path}`);
      await res.body?.cancel();
      assertSecurityHeaders(res, `socket ${path}`);
    }
    const sse = await openSse(fetch, `${server.url}/api/streams/listenAll`, {
      authorization: `Bearer ${rider.accessToken}`,
    });
    assert.equal(sse.status, 200);
    await sse.waitForCount(1);
    assertSecurityHeaders(sse, "socket SSE");
    await sse.close();
  } finally {
    await server.close();
  }
});

Deno.test("a caller's X-Request-Id is echoed only when it is short and plain", async () => {
  const plain = "trace-0123456789abcdef";
  const mine = await t.request("GET", "/nope", { headers: { "x-request-id": plain } });
  assert.equal(mine.headers.get("x-request-id"), plain);
  assert.equal((await assertEnvelope(mine, 404)).requestId, plain);
  for (const hostile of ["<script>alert(1)</script>", "a b", "x".repeat(300), '"},"admin":true']) {
    const res = await t.request("GET", "/nope", { headers: { "x-request-id": hostile } });
    const id = res.headers.get("x-request-id") ?? "";
    assert.notEqual(id, hostile);
    assert.match(id, /^[\w-]{16,64}$/);
    const body = await assertEnvelope(res, 404);
    assert.equal(body.requestId, id);
    assertSecurityHeaders(res, `request id ${hostile.slice(0, 20)}`);
  }
});

const jsonPolicy = "default-src 'none'; frame-ancestors 'none'";

Deno.test("JSON answers, errors and SSE carry a CSP that lets nothing load or frame them", async () => {
  const cases: [string, string, { token?: string; body?: unknown }, number][] = [
    ["GET", "/health", {}, 200],
    ["GET", "/openapi.json", {}, 200],
    ["GET", "/api/users/me", { token: rider.accessToken }, 200],
    ["GET", "/api/users/me", {}, 401],
    ["GET", "/api/users/me", { token: "forged.token.value" }, 401],
    ["POST", "/api/auth/login", { body: { email: "not an email" } }, 400],
    ["GET", "/no-such-page", {}, 404],
    ["GET", "/docs/swagger-ui.css", {}, 200],
  ];
  for (const [method, path, options, status] of cases) {
    const res = await t.request(method, path, options);
    assert.equal(res.status, status, `${method} ${path}`);
    await res.body?.cancel();
    assert.equal(res.headers.get("content-security-policy"), jsonPolicy, `${method} ${path}`);
  }
  const preflight = await t.request("OPTIONS", "/api/workouts", {
    headers: { origin: "https://pwa.example", "access-control-request-method": "POST" },
  });
  assert.equal(preflight.headers.get("content-security-policy"), jsonPolicy, "preflight");
  const sse = await openSse(
    (req) => t.app.fetch(req),
    "http://localhost/api/streams/listenAll",
    { authorization: `Bearer ${rider.accessToken}` },
  );
  assert.equal(sse.status, 200);
  await sse.waitForCount(1);
  assert.equal(sse.headers.get("content-security-policy"), jsonPolicy, "SSE");
  await sse.close();
});

Deno.test("the /docs page gets a CSP allowing exactly its own scripts, styles, data: images and fetches", async () => {
  for (const path of ["/docs", "/docs/"]) {
    const res = await t.request("GET", path);
    assert.equal(res.status, 200);
    const html = await res.text();
    const policy = res.headers.get("content-security-policy") ?? "";
    const directives = Object.fromEntries(
      policy.split(";").map((d) => d.trim().split(/\s+/)).map(([name, ...v]) => [name, v]),
    );
    assert.deepEqual(directives, {
      "default-src": ["'none'"],
      "script-src": ["'self'"],
      "style-src": ["'self'"],
      "img-src": ["'self'", "data:"],
      "connect-src": ["'self'"],
      "base-uri": ["'none'"],
      "form-action": ["'self'"],
      "frame-ancestors": ["'none'"],
    }, path);
    // Everything the page loads is same-origin and external (no inline script or style).
    assert.doesNotMatch(html, /<script>|<style|style="|https?:\/\//);
    for (const [, src] of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      assert.match(src, /^\/docs\//, src);
    }
    assertSecurityHeaders(res, path);
  }
});

Deno.test("authenticated answers and every /api error say Cache-Control: no-store", async () => {
  const stream = `hdr-cache-${crypto.randomUUID().slice(0, 8)}`;
  const cases: [string, string, { token?: string; body?: unknown }, number][] = [
    ["GET", "/api/users/me", { token: rider.accessToken }, 200],
    ["GET", "/api/workouts", { token: rider.accessToken }, 200],
    [
      "POST",
      "/api/streams/create",
      { token: rider.accessToken, body: { streamName: stream } },
      201,
    ],
    ["POST", "/api/auth/login", { body: { email: rider.email, password: rider.password } }, 200],
    ["GET", "/api/users/me", {}, 401],
    ["GET", "/api/users/me", { token: "forged.token.value" }, 401],
    ["GET", `/api/workouts/${crypto.randomUUID()}`, { token: rider.accessToken }, 404],
    ["GET", "/api/no-such-route", { token: rider.accessToken }, 404],
    ["POST", "/api/workouts", { token: rider.accessToken, body: { title: 7 } }, 400],
  ];
  for (const [method, path, options, status] of cases) {
    const res = await t.request(method, path, options);
    assert.ok(
      res.status === status || (status === 201 && res.status === 200),
      `${method} ${path}: ${res.status}`,
    );
    await res.body?.cancel();
    assert.equal(res.headers.get("cache-control"), "no-store", `${method} ${path}`);
  }
  await t.request("DELETE", `/api/streams/${stream}`, { token: rider.accessToken });
  // SSE keeps its own; the public documents keep theirs.
  const sse = await openSse(
    (req) => t.app.fetch(req),
    "http://localhost/api/streams/listenAll",
    { authorization: `Bearer ${rider.accessToken}` },
  );
  await sse.waitForCount(1);
  assert.equal(sse.headers.get("cache-control"), "no-cache, no-transform");
  await sse.close();
  const asset = await t.request("GET", "/docs/swagger-ui-bundle.js");
  await asset.body?.cancel();
  assert.equal(asset.headers.get("cache-control"), "public, max-age=86400");
});
