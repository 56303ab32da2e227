import assert from "node:assert/strict";
import { prng } from "./analytics_reference.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ bodyLimitBytes: 64 * 1024 });
});
Deno.test.afterAll(() => t.close());

Deno.test("thousands of malformed requests never answer 500 and always use the envelope", async () => {
  const rider = await registerRider(t);
  const random = prng(20261126);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const paths = [
    "/api/auth/register",
    "/api/auth/login",
    "/api/auth/refresh",
    "/api/auth/logout",
    "/api/users/me",
    "/api/users/me/",
    "/api/../etc/passwd",
    "/api/users/%00",
    "/api/unknown/" + "x".repeat(300),
    "/health?x=%ZZ",
    "/openapi.json",
  ] as const;
  const routes = [
    ["POST", "/api/auth/register"],
    ["POST", "/api/auth/login"],
    ["POST", "/api/auth/refresh"],
    ["POST", "/api/auth/logout"],
    ["PATCH", "/api/users/me"],
  ] as const;
  const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] as const;
  const values: unknown[] = [
    null,
    true,
    0,
    -1,
    1e309,
    "",
    " ",
    "x".repeat(5000),
    "' or 1=1; drop table users; --",
    "\u0000\u202e",
    [],
    {},
    [[[[[]]]]],
    { $gt: "" },
    "not-an-email",
    "a@b.c",
    12.5,
  ];
  const keys = [
    "email",
    "password",
    "refreshToken",
    "displayName",
    "weightKg",
    "ftpWatts",
    "maxHr",
    "__proto__",
    "avatarUrl",
  ];
  const bodies = [
    () => "",
    () => "{",
    () => "[1,2",
    () => "null",
    () => '"just a string"',
    () => "{".repeat(2000) + "}".repeat(2000),
    () => JSON.stringify({ a: "x".repeat(70 * 1024) }),
    () => "\xff\xfe garbage",
    () => {
      const fields = Array.from(
        { length: 1 + Math.floor(random() * 4) },
        () => `${JSON.stringify(pick(keys))}:${JSON.stringify(pick(values))}`,
      );
      return `{${fields.join(",")}}`;
    },
  ];
  const contentTypes = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    undefined,
  ];

  const statuses = new Map<number, number>();
  for (let i = 0; i < 3000; i++) {
    // Most requests hit a real route with a JSON content type, so validation is what answers.
    const targeted = random() < 0.6;
    const [method, path] = targeted ? pick(routes) : [pick(methods), pick(paths)];
    const headers: Record<string, string> = {};
    const type = targeted ? "application/json" : pick(contentTypes);
    if (type) headers["content-type"] = type;
    if (random() < 0.3) {
      headers.authorization = pick([
        `Bearer ${rider.accessToken}`,
        "Bearer x.y.z",
        "Basic abc",
        "Bearer",
      ]);
    }
    if (random() < 0.1) headers["x-api-key"] = pick(["bpt_nope", "", "' or 1=1"]);
    const body = method === "GET" || method === "HEAD" ? undefined : pick(bodies)();
    const res = await t.app.request(path, { method, headers, body });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const label = `#${i} ${method} ${path} ${type} ${body?.slice(0, 80)}`;
    const text = await res.text();
    assert.ok(res.status < 500, `${label} answered ${res.status}: ${text}`);
    if (res.status >= 400 && method !== "HEAD") {
      const payload = JSON.parse(text);
      assert.equal(typeof payload.error, "string", label);
      assert.equal(typeof payload.code, "string", label);
      assert.equal(typeof payload.requestId, "string", label);
    }
  }
  assert.ok((statuses.get(400) ?? 0) > 100, `too few 400s: ${JSON.stringify([...statuses])}`);
  const [row] = await t.sql`select count(*)::int as n from users where email = 'a@b.c'`;
  assert.ok(row.n <= 1);
});
