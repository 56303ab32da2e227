import assert from "node:assert/strict";
import { registerRider, startTestApp, type TestApp } from "../support.ts";
import { serveOnFreePort } from "../sse_client.ts";
import {
  assertEnvelope,
  assertHealthy,
  assertTablesIntact,
  okJson,
  rawRequest,
  tableCounts,
} from "./attack_support.ts";

// Bodies built to exhaust the parser, the validator or memory: deep nesting, huge arrays, many
// keys, bodies over the limit (with and without a Content-Length). Each answers 400 or 413 in the
// envelope, and the process keeps serving.

let t: TestApp;
let rider: Awaited<ReturnType<typeof registerRider>>;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
  rider = await registerRider(t);
});
Deno.test.afterAll(() => t.close());

const limit = () => t.deps.config.bodyLimitBytes;

/** Every JSON route with a body, who may call it, and the fields it reads. */
function jsonRoutes(): [
  method: string,
  path: string,
  token: string | undefined,
  fields: string[],
][] {
  return [
    ["POST", "/api/auth/register", undefined, ["email", "password", "displayName"]],
    ["POST", "/api/auth/login", undefined, ["email", "password"]],
    ["POST", "/api/auth/refresh", undefined, ["refreshToken"]],
    ["PATCH", "/api/users/me", rider.accessToken, ["displayName", "avatarUrl", "weightKg"]],
    ["POST", "/api/workouts", rider.accessToken, ["title", "sport", "streamName"]],
    ["POST", "/api/workouts/import", rider.accessToken, ["samples", "title"]],
    ["POST", "/api/streams/create", rider.accessToken, ["streamName"]],
    ["POST", "/api/streams/deep-attack/messages", rider.accessToken, ["author"]],
  ];
}

function nestedArrays(depth: number): string {
  return "[".repeat(depth) + "]".repeat(depth);
}

function nestedObjects(depth: number): string {
  return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

Deno.test("100,000 levels of nesting answer 400 on every JSON route, as the body or inside a field", async () => {
  const before = await tableCounts(t.sql);
  const deepArray = nestedArrays(100_000);
  const deepObject = nestedObjects(100_000);
  for (const [method, path, token, fields] of jsonRoutes()) {
    const whole = await t.request(method, path, { token, body: deepArray });
    await assertEnvelope(whole, 400, { label: `${method} ${path} whole body` });
    for (const field of fields) {
      for (const deep of [deepArray, deepObject]) {
        const body = `{"message":"m","${field}":${deep}}`;
        const res = await t.request(method, path, { token, body });
        await assertEnvelope(res, [400, 422], { label: `${method} ${path} ${field}` });
      }
    }
  }
  await assertTablesIntact(t.sql, before);
  await assertHealthy(t);
});

Deno.test("a deeply nested object message is refused by size, not by a crash", async () => {
  for (const depth of [100_000, 1_000_000]) {
    const body = `{"message":${nestedObjects(depth)}}`;
    assert.ok(body.length < limit(), "the body must fit the limit to reach the handler");
    const res = await t.request("POST", "/api/streams/deep-object/messages", {
      token: rider.accessToken,
      body,
    });
    const envelope = await assertEnvelope(res, 400, { code: "message_too_large" });
    assert.match(envelope.error, /100KB/);
  }
  // Nested deep but small enough (well under 100 KB) is stored as its JSON text.
  const small = JSON.parse(`{"message":${nestedObjects(5_000)}}`);
  const stored = await t.request("POST", "/api/streams/deep-object/messages", {
    token: rider.accessToken,
    body: small,
  });
  const { messageId } = await okJson<{ messageId: string }>(stored);
  const read = await okJson<{ messages: { id: string; data: { message: string } }[] }>(
    await t.request("GET", "/api/streams/deep-object/messages", { token: rider.accessToken }),
  );
  assert.equal(
    read.messages.find((m) => m.id === messageId)?.data.message,
    JSON.stringify(small.message),
  );
  await t.request("DELETE", "/api/streams/deep-object", { token: rider.accessToken });
  await assertHealthy(t);
});

Deno.test("a 10 MB body answers 413 on every route, before authentication or routing", async () => {
  const body = JSON.stringify({ email: "a@example.com", password: "x".repeat(10 * 1024 * 1024) });
  assert.ok(body.length > limit());
  const targets: [string, string, string?][] = [
    ...jsonRoutes().map(([method, path, token]) =>
      [method, path, token] as [string, string, string?]
    ),
    ["POST", "/api/no-such-route"],
    ["PUT", "/health"],
    ["POST", "/api/users/me"],
  ];
  for (const [method, path, token] of targets) {
    const res = await t.request(method, path, { token, body });
    const envelope = await assertEnvelope(res, 413, {
      code: "payload_too_large",
      label: `${method} ${path}`,
    });
    assert.match(envelope.error, new RegExp(`${limit()} bytes`));
  }
  // Without a Content-Length (a stream), the limit still holds.
  const chunk = new TextEncoder().encode("x".repeat(1024 * 1024));
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ >= 10) return controller.close();
      controller.enqueue(chunk);
    },
  });
  const res = await t.app.request("/api/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: stream,
  });
  await assertEnvelope(res, 413, { code: "payload_too_large", label: "streamed body" });
  assert.ok(sent < 11, `the whole body was read (${sent} MB) before answering`);
  await assertHealthy(t);
});

/** A 10 MB body in 256 KB chunks of chunked transfer encoding. */
async function* chunkedTenMegabytes() {
  const piece = new TextEncoder().encode("x".repeat(256 * 1024));
  const head = new TextEncoder().encode(`${piece.length.toString(16)}\r\n`);
  const tail = new TextEncoder().encode("\r\n");
  for (let i = 0; i < 40; i++) {
    yield head;
    yield piece;
    yield tail;
  }
  yield new TextEncoder().encode("0\r\n\r\n");
}

Deno.test("over a real socket, a declared or chunked 10 MB body answers 413 and the server keeps serving", async () => {
  const server = serveOnFreePort((request) => t.app.fetch(request));
  try {
    const declared = await rawRequest(
      server.url,
      "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        `Content-Length: ${10 * 1024 * 1024}\r\nConnection: close\r\n\r\n`,
      new TextEncoder().encode('{"email":"'),
    );
    assert.equal(declared.status, 413, declared.body);
    assert.equal(JSON.parse(declared.body).code, "payload_too_large");
    assert.equal(declared.headers.get("x-content-type-options"), "nosniff");

    const chunked = await rawRequest(
      server.url,
      "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
      chunkedTenMegabytes(),
    );
    assert.equal(chunked.status, 413, chunked.body);
    assert.equal(JSON.parse(chunked.body).code, "payload_too_large");

    const health = await rawRequest(
      server.url,
      "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.equal(health.status, 200);
  } finally {
    await server.close();
  }
});

Deno.test("huge arrays and strings under the limit answer 400 or 422 quickly and store nothing", async () => {
  const before = await tableCounts(t.sql);
  const [{ n: workoutsBefore }] = await t.sql`
    select count(*)::int as n from workouts where user_id = ${rider.user.id}
  `;
  const start = Date.UTC(2026, 9, 1, 7);
  const cases: [string, string, string][] = [
    [
      "200,000 samples",
      "/api/workouts/import",
      JSON.stringify({
        samples: Array.from({ length: 200_000 }, (_, i) => ({ time: start + i * 1000 })),
      }),
    ],
    ["2,000,000 numbers", "/api/workouts/import", `{"samples":[${"1,".repeat(2_000_000)}1]}`],
    [
      "1,000,000 empty objects",
      "/api/workouts/import",
      `{"samples":[${"{},".repeat(1_000_000)}{}]}`,
    ],
    ["7 MB title", "/api/workouts", JSON.stringify({ title: "x".repeat(7 * 1024 * 1024) })],
    ["array as title", "/api/workouts", `{"title":[${"1,".repeat(1_000_000)}1]}`],
    [
      "100,000-digit number",
      "/api/workouts/import",
      `{"samples":[{"time":${"9".repeat(100_000)}}]}`,
    ],
  ];
  for (const [name, path, body] of cases) {
    assert.ok(body.length < limit(), `${name} must fit the limit`);
    const res = await t.request("POST", path, { token: rider.accessToken, body });
    const envelope = await assertEnvelope(res, [400, 422], { label: name });
    // The answer names the problem; it does not echo the attacker's megabytes back.
    assert.ok(JSON.stringify(envelope).length < 64 * 1024, `${name}: answer is too large`);
  }
  const [{ n: workoutsAfter }] = await t.sql`
    select count(*)::int as n from workouts where user_id = ${rider.user.id}
  `;
  assert.equal(workoutsAfter, workoutsBefore);
  await assertTablesIntact(t.sql, before);
  await assertHealthy(t);
});

Deno.test("a body with 300,000 unknown keys answers 400 without echoing them all back", async () => {
  const keys = Array.from({ length: 300_000 }, (_, i) => `"k${i}":1`).join(",");
  const res = await t.request("PATCH", "/api/users/me", {
    token: rider.accessToken,
    body: `{${keys}}`,
  });
  const text = await res.clone().text();
  await assertEnvelope(res, 400, { code: "validation_failed" });
  assert.ok(text.length < 64 * 1024, `the 400 answer is ${text.length} bytes`);
  await assertHealthy(t);
});

Deno.test("__proto__ and constructor keys neither pollute prototypes nor change the profile", async () => {
  const bodies = [
    '{"__proto__":{"polluted":true,"ftpWatts":9999}}',
    '{"constructor":{"prototype":{"polluted":true}}}',
    '{"displayName":"ok","__proto__":{"isAdmin":true}}',
  ];
  for (const body of bodies) {
    const res = await t.request("PATCH", "/api/users/me", { token: rider.accessToken, body });
    if (res.status === 200) await res.body?.cancel();
    else await assertEnvelope(res, 400, { code: "validation_failed", label: body });
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
  const me = await okJson<Record<string, unknown>>(
    await t.request("GET", "/api/users/me", { token: rider.accessToken }),
  );
  assert.equal(me.ftpWatts, null);
  assert.equal("isAdmin" in me, false);
  assert.equal("polluted" in me, false);
});

Deno.test("over a real socket, Content-Length with Transfer-Encoding (request smuggling) is refused", async () => {
  const server = serveOnFreePort((request) => t.app.fetch(request));
  try {
    // A front end reading Content-Length and a back end reading chunked would disagree on where
    // the next request starts; the server refuses the ambiguous message outright.
    const smuggled = await rawRequest(
      server.url,
      "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
        "DELETE /api/streams/cleanup HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert.equal(smuggled.status, 400);
    const health = await rawRequest(
      server.url,
      "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.equal(health.status, 200);
  } finally {
    await server.close();
  }
});
