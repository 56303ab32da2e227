import assert from "node:assert/strict";
import { pagesRoutes } from "../src/pages/mod.tsx";
import { Validator } from "./deps/openapi_schema_validator.ts";
import { createLiveStore } from "../src/live/store.ts";
import { createApp } from "../src/app.ts";
import { startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

function assertEnvelope(body: Record<string, unknown>, code: string) {
  assert.equal(typeof body.error, "string");
  assert.ok((body.error as string).length > 0);
  assert.equal(body.code, code);
  assert.equal(typeof body.requestId, "string");
}

Deno.test("GET /health answers ok with database, Redis and the TimescaleDB licence", async () => {
  const res = await t.request("GET", "/health");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.equal(body.redis, "connected");
  assert.equal(body.database, "connected");
  assert.match(body.timescaledb.version, /^\d+\.\d+\.\d+/);
  assert.ok(["timescale", "apache"].includes(body.timescaledb.license));
  assert.ok(Math.abs(Date.parse(body.timestamp) - Date.now()) < 60_000);
});

Deno.test("GET /health answers 200 degraded when Redis cannot be reached", async () => {
  const live = createLiveStore({
    url: "http://127.0.0.1:9",
    token: "x",
    prefix: "bpt:",
    retries: 0,
  });
  const app = createApp({ ...t.deps, live });
  const res = await app.request("/health");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.status, "degraded");
  assert.equal(body.redis, "disconnected");
  assert.equal(body.database, "connected");
});

Deno.test("every response carries a request id, echoing the caller's", async () => {
  const mine = await t.request("GET", "/health", { headers: { "x-request-id": "trace-123" } });
  assert.equal(mine.headers.get("x-request-id"), "trace-123");
  const generated = await t.request("GET", "/nope");
  const id = generated.headers.get("x-request-id");
  assert.ok(id && id.length >= 16);
  assert.equal((await generated.json()).requestId, id);
});

Deno.test("an unknown route answers 404 in the error envelope", async () => {
  const res = await t.request("GET", "/api/does-not-exist");
  assert.equal(res.status, 404);
  assertEnvelope(await res.json(), "not_found");
});

Deno.test("a wrong method answers 405 with Allow", async () => {
  const res = await t.request("DELETE", "/api/auth/login");
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "POST, OPTIONS");
  assertEnvelope(await res.json(), "method_not_allowed");
  // A path parameter and a trailing slash (strict: false) find the route's methods too.
  const byId = await t.request("PUT", "/api/workouts/00000000-0000-4000-8000-000000000000/");
  assert.equal(byId.status, 405);
  assert.match(byId.headers.get("allow") ?? "", /^GET, HEAD, .*OPTIONS$/);
  assert.ok(byId.headers.get("x-request-id"));
});

Deno.test("malformed JSON answers 400 and a wrong content type 415", async () => {
  const malformed = await t.request("POST", "/api/auth/login", { body: '{"email": ' });
  assert.equal(malformed.status, 400);
  assertEnvelope(await malformed.json(), "bad_request");

  const text = await t.request("POST", "/api/auth/login", {
    body: "email=a@b.c",
    headers: { "content-type": "text/plain" },
  });
  assert.equal(text.status, 415);
  assertEnvelope(await text.json(), "unsupported_media_type");
});

Deno.test("a body over the limit answers 413", async () => {
  const small = await startTestApp({ bodyLimitBytes: 1024 });
  try {
    const res = await small.request("POST", "/api/auth/login", {
      body: { email: "a@example.com", password: "x".repeat(4096) },
    });
    assert.equal(res.status, 413);
    assertEnvelope(await res.json(), "payload_too_large");
  } finally {
    await small.close();
  }
});

Deno.test("an unexpected exception answers a fixed 500 and logs the details", async () => {
  const lines: string[] = [];
  const { createLogger } = await import("../src/core/log.ts");
  const app = createApp({ ...t.deps, log: createLogger("info", (line) => lines.push(line)) });
  app.get("/boom", () => {
    throw new Error("secret internal detail");
  });
  const res = await app.request("/boom");
  assert.equal(res.status, 500);
  const body = await res.json();
  assertEnvelope(body, "internal_error");
  assert.equal(JSON.stringify(body).includes("secret internal detail"), false);
  const logged = lines.map((line) => JSON.parse(line)).find((line) =>
    line.msg === "unhandled error"
  );
  assert.equal(logged.requestId, body.requestId);
  assert.match(logged.err, /secret internal detail/);
  const access = lines.map((line) => JSON.parse(line)).find((line) => line.msg === "request");
  assert.deepEqual(
    [access.method, access.path, access.status, typeof access.ms, access.requestId],
    ["GET", "/boom", 500, "number", body.requestId],
  );
});

Deno.test("CORS answers preflight and allows the methods and headers clients use", async () => {
  const res = await t.request("OPTIONS", "/api/users/me", {
    headers: {
      origin: "https://pwa.example",
      "access-control-request-method": "PATCH",
      "access-control-request-headers": "content-type, x-api-key",
    },
  });
  assert.equal(res.status, 200); // as both old services answered (Hono's own answer is 204)
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
  const methods = res.headers.get("access-control-allow-methods") ?? "";
  for (const m of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
    assert.match(methods, new RegExp(m));
  }
  const headers = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
  for (const h of ["content-type", "authorization", "x-api-key"]) {
    assert.match(headers, new RegExp(h));
  }
});

Deno.test("CORS with a list of origins answers only those", async () => {
  const listed = await startTestApp({ corsOrigins: ["https://a.example", "https://b.example"] });
  try {
    const ok = await listed.request("GET", "/health", { headers: { origin: "https://b.example" } });
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://b.example");
    const other = await listed.request("GET", "/health", {
      headers: { origin: "https://evil.example" },
    });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
  } finally {
    await listed.close();
  }
});

Deno.test("security headers are set on JSON, error and docs responses", async () => {
  for (const path of ["/health", "/nope", "/docs", "/openapi.json"]) {
    const res = await t.request("GET", path);
    await res.body?.cancel();
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    assert.ok(res.headers.get("strict-transport-security"), path);
    assert.ok(res.headers.get("x-frame-options"), path);
  }
});

Deno.test("with API_KEY set, /api routes need the shared key and answer the old 401", async () => {
  const keyed = await startTestApp({ apiKey: "shared-secret" });
  try {
    const missing = await keyed.request("GET", "/api/users/me");
    assert.equal(missing.status, 401);
    assert.deepEqual(
      { ...(await missing.json()), requestId: "" },
      {
        error: "Unauthorized: Invalid API Key",
        hint: "Use the X-API-Key header for authentication",
        code: "invalid_api_key",
        requestId: "",
      },
    );
    const wrong = await keyed.request("GET", "/api/users/me", { headers: { "x-api-key": "nope" } });
    assert.equal(wrong.status, 401);
    const legacy = await keyed.request("GET", "/api/users/me", {
      headers: { "x-api-key": "shared-secret" },
    });
    assert.equal(legacy.status, 401);
    assert.equal((await legacy.json()).code, "unauthorized");
    const health = await keyed.request("GET", "/health");
    assert.equal(health.status, 200);
    await health.body?.cancel();
  } finally {
    await keyed.close();
  }
});

Deno.test("GET /openapi.json is an OpenAPI 3.1 document listing every route", async () => {
  const res = await t.request("GET", "/openapi.json");
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.equal(doc.openapi, "3.1.0");
  const validator = new Validator();
  assert.deepEqual(await validator.validate(structuredClone(doc)), { valid: true });
  assert.equal(validator.version, "3.1");
  const listed = new Set(
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${path}`)
    ),
  );
  // The rider's pages (src/pages) are HTML, not API operations.
  const pages = new Set(pagesRoutes(t.deps).routes.map((r) => `${r.method} ${r.path}`));
  const served = t.app.routes
    .filter((r) => r.method !== "ALL" && r.path !== "/openapi.json" && !r.path.startsWith("/docs"))
    .filter((r) => !pages.has(`${r.method} ${r.path}`))
    .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
  assert.ok(served.length >= 7);
  for (const route of served) assert.ok(listed.has(route), `${route} is missing from the document`);
  assert.ok(doc.components.securitySchemes.bearerAuth);
});

Deno.test("GET /docs serves Swagger UI for /openapi.json from this server, not a CDN", async () => {
  const res = await t.request("GET", "/docs");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/html/);
  const html = await res.text();
  assert.match(html, /data-spec="\/openapi\.json"/);
  assert.doesNotMatch(html, /https?:\/\//);
  for (const src of html.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)) {
    const asset = await t.request("GET", src[1]);
    assert.equal(asset.status, 200, src[1]);
    assert.ok((await asset.arrayBuffer()).byteLength > 100, src[1]);
  }
  const bundle = await t.request("GET", "/docs/swagger-ui-bundle.js");
  assert.match(bundle.headers.get("content-type") ?? "", /javascript/);
  assert.match(await bundle.text(), /SwaggerUIBundle/);
});
