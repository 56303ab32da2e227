import assert from "node:assert/strict";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(async () => {
  await t.close();
});

/** A signed-in rider's cookies as a browser would send them, and the session's CSRF token. */
async function browserRider() {
  const rider = await registerRider(t);
  const { sessionId } = await t.deps.tokens.verify(rider.accessToken);
  return {
    ...rider,
    cookie: `bpt_access=${rider.accessToken}; bpt_refresh=${rider.refreshToken}`,
    csrf: await t.deps.tokens.csrfToken(sessionId),
  };
}

Deno.test("a session cookie reads the rider's own data without a Bearer header", async () => {
  const rider = await browserRider();
  const res = await t.request("GET", "/api/users/me", { headers: { cookie: rider.cookie } });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).email, rider.email);
});

Deno.test("a cookie alone changes nothing: a state change needs the session's CSRF token", async () => {
  const rider = await browserRider();
  const refused = await t.request("PATCH", "/api/users/me", {
    headers: { cookie: rider.cookie },
    body: { displayName: "Forged" },
  });
  assert.equal(refused.status, 403);
  assert.equal((await refused.json()).code, "forbidden");
  const wrong = await t.request("PATCH", "/api/users/me", {
    headers: { cookie: rider.cookie, "x-csrf-token": "not-the-token" },
    body: { displayName: "Forged" },
  });
  assert.equal(wrong.status, 403);
  const other = await browserRider();
  const foreign = await t.request("PATCH", "/api/users/me", {
    headers: { cookie: rider.cookie, "x-csrf-token": other.csrf },
    body: { displayName: "Forged" },
  });
  assert.equal(foreign.status, 403, "another session's token does not fit");
  const me = await t.request("GET", "/api/users/me", { token: rider.accessToken });
  assert.equal((await me.json()).displayName, null);

  const ok = await t.request("PATCH", "/api/users/me", {
    headers: { cookie: rider.cookie, "x-csrf-token": rider.csrf },
    body: { displayName: "Real" },
  });
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).displayName, "Real");
});

Deno.test("Bearer tokens work as before beside a cookie, which is then ignored", async () => {
  const rider = await browserRider();
  const other = await browserRider();
  const res = await t.request("PATCH", "/api/users/me", {
    token: other.accessToken,
    headers: { cookie: rider.cookie },
    body: { displayName: "Bearer wins" },
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).email, other.email);
});

Deno.test("an expired access cookie is refreshed from the refresh cookie, with Lax HttpOnly cookies", async () => {
  const rider = await browserRider();
  const res = await t.request("GET", "/api/users/me", {
    headers: { cookie: `bpt_access=expired.or.forged; bpt_refresh=${rider.refreshToken}` },
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).email, rider.email);
  const cookies = res.headers.getSetCookie();
  const access = cookies.find((c) => c.startsWith("bpt_access="));
  const refresh = cookies.find((c) => c.startsWith("bpt_refresh="));
  assert.ok(access && refresh, `both cookies are renewed: ${cookies}`);
  for (const cookie of [access, refresh]) {
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.match(cookie, /Path=\//);
    assert.doesNotMatch(cookie, /Secure/, "plain http on loopback: no Secure flag");
  }
  // A parallel request that still carried the old refresh cookie is not a reuse attack.
  const again = await t.request("GET", "/api/users/me", {
    headers: { cookie: `bpt_refresh=${rider.refreshToken}` },
  });
  assert.equal(again.status, 200);
  // The API's own refresh keeps its strict rotation: a used token is refused there.
  const api = await t.request("POST", "/api/auth/refresh", {
    body: { refreshToken: rider.refreshToken },
  });
  assert.equal(api.status, 401);
});

Deno.test("cookies served over HTTPS carry the Secure flag", async () => {
  const rider = await browserRider();
  const res = await t.app.request("https://bpt.example/api/users/me", {
    headers: { cookie: `bpt_refresh=${rider.refreshToken}` },
  });
  assert.equal(res.status, 200);
  for (const cookie of res.headers.getSetCookie()) assert.match(cookie, /; Secure/);
});

Deno.test("GET /api/workouts?title= finds the rider's rides by title, no one else's", async () => {
  const rider = await browserRider();
  const other = await browserRider();
  const sample = (i: number) => ({ time: Date.UTC(2026, 0, 5, 8) + i * 1000, power: 200 });
  for (
    const [who, title] of [[rider, "Hill repeats 100%"], [rider, "Easy spin"], [
      other,
      "Hill",
    ]] as const
  ) {
    const res = await t.request("POST", "/api/workouts/import", {
      token: who.accessToken,
      body: { title, samples: Array.from({ length: 60 }, (_, i) => sample(i)) },
    });
    assert.equal(res.status, 201);
  }
  const res = await t.request("GET", "/api/workouts?title=hill", { token: rider.accessToken });
  assert.deepEqual((await res.json()).workouts.map((w: { title: string }) => w.title), [
    "Hill repeats 100%",
  ]);
  const percent = await t.request("GET", "/api/workouts?title=%25", { token: rider.accessToken });
  assert.equal((await percent.json()).workouts.length, 1, "% is matched literally");
});
