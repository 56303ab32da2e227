import assert from "node:assert/strict";
import { registerRider, startTestApp, type TestApp } from "../support.ts";
import { assertEnvelope } from "./attack_support.ts";

// CORS with CORS_ORIGIN restricted to a list: only those exact origins are allowed, on every
// response class; credentials (cookies) are never allowed, since tokens travel in headers.

const allowed = ["https://pwa.example", "https://admin.example"];
let t: TestApp;
let open: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ corsOrigins: allowed });
  open = await startTestApp();
});
Deno.test.afterAll(async () => {
  await t.close();
  await open.close();
});

/** Origins that are not on the list, including look-alikes of the listed ones. */
const disallowed = [
  "https://evil.example",
  "https://pwa.example.evil.example",
  "https://evil-pwa.example",
  "https://evilpwa.example",
  "http://pwa.example",
  "https://pwa.example:8443",
  "https://pwa.example/",
  "https://sub.pwa.example",
  "null",
  "https://pwa.example, https://evil.example",
  "*",
];

function preflight(app: TestApp, origin: string, method = "PATCH") {
  return app.request("OPTIONS", "/api/users/me", {
    headers: {
      origin,
      "access-control-request-method": method,
      "access-control-request-headers": "authorization, content-type",
    },
  });
}

Deno.test("a preflight from a disallowed origin gets no Access-Control-Allow-Origin", async () => {
  for (const origin of disallowed) {
    const res = await preflight(t, origin);
    await res.body?.cancel();
    assert.equal(res.status, 200, origin);
    assert.equal(res.headers.get("access-control-allow-origin"), null, origin);
    assert.equal(res.headers.get("access-control-allow-credentials"), null, origin);
    assert.match(res.headers.get("vary") ?? "", /Origin/i, origin);
  }
});

Deno.test("a preflight from an allowed origin gets exactly that origin, methods and headers", async () => {
  for (const origin of allowed) {
    const res = await preflight(t, origin);
    // 200 with an empty body, as both old services answered (their tests check for 200).
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "");
    assert.equal(res.headers.get("access-control-allow-origin"), origin);
    assert.match(res.headers.get("vary") ?? "", /Origin/i);
    assert.match(res.headers.get("access-control-allow-methods") ?? "", /PATCH/);
    const headers = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const h of ["authorization", "content-type", "x-api-key"]) {
      assert.match(headers, new RegExp(h));
    }
    assert.equal(res.headers.get("access-control-allow-credentials"), null);
  }
});

Deno.test("actual requests get the allowed origin on success and error answers, and nothing for others", async () => {
  const rider = await registerRider(t);
  const requests: [string, string, { token?: string; body?: unknown }, number][] = [
    ["GET", "/health", {}, 200],
    ["GET", "/api/users/me", { token: rider.accessToken }, 200],
    ["GET", "/api/users/me", {}, 401],
    ["GET", "/api/users/me", { token: "forged.token.value" }, 401],
    ["POST", "/api/auth/login", { body: { email: "x" } }, 400],
    ["GET", "/api/nothing-here", {}, 404],
  ];
  for (const [method, path, options, status] of requests) {
    for (const origin of [...allowed, ...disallowed]) {
      const res = await t.request(method, path, { ...options, headers: { origin } });
      const label = `${method} ${path} from ${origin}`;
      if (status >= 400) await assertEnvelope(res, status, { label });
      else {
        assert.equal(res.status, status, label);
        await res.body?.cancel();
      }
      const expected = allowed.includes(origin) ? origin : null;
      assert.equal(res.headers.get("access-control-allow-origin"), expected, label);
      assert.equal(res.headers.get("access-control-allow-credentials"), null, label);
      assert.match(res.headers.get("vary") ?? "", /Origin/i, label);
    }
  }
});

Deno.test("with the default CORS_ORIGIN=* the origin is never reflected and credentials never allowed", async () => {
  for (const origin of ["https://evil.example", "null", "https://pwa.example"]) {
    const pre = await preflight(open, origin);
    await pre.body?.cancel();
    assert.equal(pre.headers.get("access-control-allow-origin"), "*", origin);
    assert.equal(pre.headers.get("access-control-allow-credentials"), null, origin);
    const res = await open.request("GET", "/api/users/me", { headers: { origin } });
    await assertEnvelope(res, 401, { label: origin });
    assert.equal(res.headers.get("access-control-allow-origin"), "*", origin);
    assert.equal(res.headers.get("access-control-allow-credentials"), null, origin);
  }
});

Deno.test("signing in sets no cookie: tokens travel in the body, so CORS never needs credentials", async () => {
  const rider = await registerRider(t);
  const login = await t.request("POST", "/api/auth/login", {
    body: { email: rider.email, password: rider.password },
    headers: { origin: allowed[0] },
  });
  assert.equal(login.status, 200);
  assert.equal(login.headers.get("set-cookie"), null);
  const body = await login.json();
  assert.equal(typeof body.accessToken, "string");
  // A cookie (as a browser would send with credentials) is not a credential here.
  const withCookie = await t.request("GET", "/api/users/me", {
    headers: { origin: allowed[0], cookie: `accessToken=${body.accessToken}` },
  });
  await assertEnvelope(withCookie, 401, { code: "unauthorized" });
});
