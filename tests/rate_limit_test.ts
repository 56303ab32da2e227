import assert from "node:assert/strict";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ rateLimitPerMinute: 150 });
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
  const proxied = await startTestApp({ rateLimitPerMinute: 5, trustedProxyHops: 1 });
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
