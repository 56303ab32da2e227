import assert from "node:assert/strict";
import { SignJWT, UnsecuredJWT } from "jose";
import { loadConfig } from "../src/core/config.ts";
import { closedLoopbackUrl, startIssuer, type TestIssuer } from "./oidc_issuer.ts";
import { registerRider, startTestApp, type TestApp, uniqueEmail } from "./support.ts";

const clientId = "bpt-test-client";

let t: TestApp;
let issuer: TestIssuer;
Deno.test.beforeAll(async () => {
  issuer = await startIssuer({ clientId });
  t = await startTestApp({
    oidc: {
      providers: [
        { name: "local", issuer: issuer.url, clientIds: [clientId, "bpt-ios-client"] },
        { name: "down", issuer: await closedLoopbackUrl(), clientIds: [clientId] },
      ],
      httpTimeoutMs: 2000,
      jwksCooldownS: 0,
    },
  });
});
Deno.test.afterAll(async () => {
  await t.close();
  await issuer.close();
});

function signIn(body: Record<string, unknown>) {
  return t.request("POST", "/api/auth/oidc", { body: { provider: "local", ...body } });
}

async function identitiesOf(subject: string) {
  const rows = await t.sql<{ userId: string; provider: string }[]>`
    select user_id, provider from user_identities where subject = ${subject}
  `;
  return [...rows];
}

Deno.test("POST /api/auth/oidc creates a rider for a new subject and signs them in", async () => {
  const email = uniqueEmail("oidc");
  const sub = crypto.randomUUID();
  const idToken = await issuer.sign({ sub, email, email_verified: true, name: "Marianne" });
  const res = await signIn({ idToken });
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json();
  assert.equal(body.user.email, email);
  assert.equal(body.user.displayName, "Marianne");
  assert.equal(body.tokenType, "Bearer");
  assert.ok(body.refreshToken.length >= 40);

  const me = await t.request("GET", "/api/users/me", { token: body.accessToken });
  assert.equal(me.status, 200);
  assert.equal((await me.json()).id, body.user.id);
  const refreshed = await t.request("POST", "/api/auth/refresh", {
    body: { refreshToken: body.refreshToken },
  });
  assert.equal(refreshed.status, 200);
  await refreshed.body?.cancel();
  assert.deepEqual(await identitiesOf(sub), [{ userId: body.user.id, provider: "local" }]);
});

Deno.test("the same subject signs in to the same rider every time", async () => {
  const sub = crypto.randomUUID();
  const ids: string[] = [];
  for (const email of [uniqueEmail("first"), uniqueEmail("changed")]) {
    const res = await signIn({ idToken: await issuer.sign({ sub, email, email_verified: true }) });
    assert.equal(res.status, 200);
    ids.push((await res.json()).user.id);
  }
  assert.equal(ids[0], ids[1]);
  assert.equal((await identitiesOf(sub)).length, 1);
  const [{ count }] = await t
    .sql`select count(*)::int as count from users where provider_id = ${sub}`;
  assert.equal(count, 1);
});

Deno.test("a verified email links the subject to the password account with that email", async () => {
  const rider = await registerRider(t);
  const sub = crypto.randomUUID();
  const idToken = await issuer.sign({
    sub,
    email: rider.email.toUpperCase(),
    email_verified: true,
  });
  const res = await signIn({ idToken });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).user.id, rider.user.id);
  assert.deepEqual(await identitiesOf(sub), [{ userId: rider.user.id, provider: "local" }]);

  const again = await signIn({ idToken: await issuer.sign({ sub }) });
  assert.equal((await again.json()).user.id, rider.user.id);
  const password = await t.request("POST", "/api/auth/login", {
    body: { email: rider.email, password: rider.password },
  });
  assert.equal(password.status, 200);
  assert.equal((await password.json()).user.id, rider.user.id);
});

Deno.test("an unverified email matching an account answers 409 and links nothing", async () => {
  const rider = await registerRider(t);
  for (const verified of [false, "true", undefined]) {
    const sub = crypto.randomUUID();
    const idToken = await issuer.sign({ sub, email: rider.email, email_verified: verified });
    const res = await signIn({ idToken });
    assert.equal(res.status, 409, `email_verified: ${verified}`);
    const body = await res.json();
    assert.equal(body.code, "email_not_verified");
    assert.match(body.error, /not verified/);
    assert.deepEqual(await identitiesOf(sub), []);
    const [{ count }] = await t.sql`
      select count(*)::int as count from users where provider_id = ${sub}
    `;
    assert.equal(count, 0);
  }
  const [{ count }] = await t.sql`
    select count(*)::int as count from user_identities where user_id = ${rider.user.id}
  `;
  assert.equal(count, 0);
});

Deno.test("an unverified email on a new subject creates a rider without that email", async () => {
  const email = uniqueEmail("unverified");
  const res = await signIn({
    idToken: await issuer.sign({ email, email_verified: false }),
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).user.email, null);
  // The address stays free for its real owner.
  const owner = await registerRider(t, { email });
  assert.equal(owner.user.email, email);
});

Deno.test("bad ID tokens answer 401 with a message that says what is wrong", async () => {
  const now = Math.floor(Date.now() / 1000);
  const unpublished = await issuer.newKey();
  const good = await issuer.sign({});
  const [header, payload, signature] = good.split(".");
  const tamperedPayload = btoa(
    JSON.stringify({
      ...JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))),
      sub: "x",
    }),
  ).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  const cases: [string, string, RegExp][] = [
    ["wrong audience", await issuer.sign({ aud: "someone-elses-app" }), /audience/],
    ["wrong issuer", await issuer.sign({ iss: "https://accounts.example" }), /issuer/],
    ["expired", await issuer.sign({ iat: now - 7200, exp: now - 3600 }), /expired/],
    ["key not in the JWKS", await issuer.sign({}, { key: unpublished }), /does not publish/],
    ["tampered", `${header}.${tamperedPayload}.${signature}`, /signature is invalid/],
    [
      "alg none",
      new UnsecuredJWT({ sub: "x" }).setIssuer(issuer.url).setAudience(clientId).setIssuedAt()
        .setExpirationTime("5m").encode(),
      /algorithm that is not accepted/,
    ],
    [
      "HS256",
      await new SignJWT({ sub: "x" }).setProtectedHeader({ alg: "HS256" }).setIssuer(issuer.url)
        .setAudience(clientId).setIssuedAt().setExpirationTime("5m")
        .sign(new TextEncoder().encode("a shared secret that is long enough!")),
      /algorithm/,
    ],
    ["no subject", await issuer.sign({ sub: undefined }), /"sub"/],
    ["no expiry", await issuer.sign({ exp: undefined }), /"exp"/],
    ["another client in azp", await issuer.sign({ aud: [clientId, "x"], azp: "x" }), /azp/],
    ["garbage", "not.a.token", /malformed/],
  ];
  for (const [name, idToken, message] of cases) {
    const res = await signIn({ idToken });
    assert.equal(res.status, 401, name);
    const body = await res.json();
    assert.equal(body.code, "invalid_id_token", name);
    assert.match(body.error, message, name);
  }
  // A second client id of the same provider (say, the iOS app) is accepted.
  const ios = await signIn({ idToken: await issuer.sign({ aud: "bpt-ios-client" }) });
  assert.equal(ios.status, 200);
  await ios.body?.cancel();
});

Deno.test("the nonce must match when sent, and must be sent when the token has one", async () => {
  const nonce = crypto.randomUUID();
  const withNonce = await issuer.sign({ nonce });
  const ok = await signIn({ idToken: withNonce, nonce });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();

  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["wrong nonce", { idToken: withNonce, nonce: `${nonce}x` }, /does not match/],
    ["nonce not sent", { idToken: withNonce }, /send the nonce/],
    ["token without nonce", { idToken: await issuer.sign({}), nonce }, /does not match/],
  ];
  for (const [name, body, message] of cases) {
    const res = await signIn(body);
    assert.equal(res.status, 401, name);
    assert.match((await res.json()).error, message, name);
  }
});

Deno.test("keys are fetched once and reused; a rotated key is fetched when a token names it", async () => {
  const warm = await signIn({ idToken: await issuer.sign({}) });
  assert.equal(warm.status, 200);
  await warm.body?.cancel();
  const before = { ...issuer.requests };
  for (let i = 0; i < 3; i++) {
    const res = await signIn({ idToken: await issuer.sign({}) });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  assert.deepEqual(issuer.requests, before);
  assert.equal(issuer.requests.discovery, 1);

  const old = await issuer.sign({});
  await issuer.rotate({ dropOld: true });
  const rotated = await signIn({ idToken: await issuer.sign({}) });
  assert.equal(rotated.status, 200, await rotated.clone().text());
  await rotated.body?.cancel();
  assert.equal(issuer.requests.jwks, before.jwks + 1);
  assert.equal(issuer.requests.discovery, 1);

  const retired = await signIn({ idToken: old });
  assert.equal(retired.status, 401);
  assert.match((await retired.json()).error, /does not publish/);
});

Deno.test("an unknown provider answers 400 and an unreachable one 503", async () => {
  const idToken = await issuer.sign({});
  const unknown = await signIn({ provider: "myspace", idToken });
  assert.equal(unknown.status, 400);
  const body = await unknown.json();
  assert.equal(body.code, "unknown_provider");
  assert.match(body.error, /accepts: local, down/);

  const down = await signIn({ provider: "down", idToken });
  assert.equal(down.status, 503);
  assert.equal(down.headers.get("retry-after"), "5");
  assert.equal((await down.json()).code, "provider_unavailable");

  const missing = await t.request("POST", "/api/auth/oidc", { body: { provider: "local" } });
  assert.equal(missing.status, 400);
  assert.match((await missing.json()).error, /idToken/);
});

Deno.test("OIDC_PROVIDERS is validated: JSON, names, https issuers, client ids", () => {
  const config = loadConfig({
    OIDC_PROVIDERS: JSON.stringify([
      { name: "google", issuer: "https://accounts.google.com", clientId: "web" },
      { name: "apple", issuer: "https://appleid.apple.com", clientId: ["ios", "web"] },
    ]),
  });
  assert.deepEqual(config.oidc.providers, [
    { name: "google", issuer: "https://accounts.google.com", clientIds: ["web"] },
    { name: "apple", issuer: "https://appleid.apple.com", clientIds: ["ios", "web"] },
  ]);
  assert.deepEqual(loadConfig({}).oidc.providers, []);
  const bad: [string, RegExp][] = [
    ["not json", /OIDC_PROVIDERS: must be a JSON array of providers/],
    [
      JSON.stringify([{ name: "x", issuer: "http://accounts.example", clientId: "c" }]),
      /issuer: must be https/,
    ],
    [JSON.stringify([{ name: "Bad Name", issuer: "https://a.example", clientId: "c" }]), /name/],
    [JSON.stringify([{ name: "x", issuer: "https://a.example", clientId: [] }]), /clientId/],
    [
      JSON.stringify([
        { name: "x", issuer: "https://a.example", clientId: "c" },
        { name: "x", issuer: "https://b.example", clientId: "c" },
      ]),
      /provider names must be unique/,
    ],
  ];
  for (const [value, message] of bad) {
    assert.throws(() => loadConfig({ OIDC_PROVIDERS: value }), message, value);
  }
});

Deno.test("concurrent first sign-ins of one subject make one rider", async () => {
  const sub = crypto.randomUUID();
  const email = uniqueEmail("race");
  const answers = await Promise.all(
    Array.from(
      { length: 6 },
      async () => signIn({ idToken: await issuer.sign({ sub, email, email_verified: true }) }),
    ),
  );
  const bodies = await Promise.all(answers.map(async (res) => {
    assert.equal(res.status, 200);
    return await res.json();
  }));
  assert.equal(new Set(bodies.map((body) => body.user.id)).size, 1);
  assert.equal((await identitiesOf(sub)).length, 1);
  const [{ count }] = await t.sql`
    select count(*)::int as count from users where lower(email) = lower(${email})
  `;
  assert.equal(count, 1);
});
