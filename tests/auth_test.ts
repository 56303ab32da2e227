import assert from "node:assert/strict";
import { importPKCS8, SignJWT, UnsecuredJWT } from "jose";
import { hashSecret } from "../src/core/secrets.ts";
import { createTokenIssuer, generatePrivateKeyPem } from "../src/auth/tokens.ts";
import {
  registerRider,
  startTestApp,
  type TestApp,
  testPrivateKeyPem,
  uniqueEmail,
} from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

Deno.test("POST /api/auth/register creates an account and signs it in", async () => {
  const email = uniqueEmail();
  const res = await t.request("POST", "/api/auth/register", {
    body: { email, password: "long enough secret", displayName: "Ada" },
  });
  assert.equal(res.status, 201);
  const body = await res.json();
  assert.equal(body.user.email, email);
  assert.equal(body.user.displayName, "Ada");
  assert.equal(body.tokenType, "Bearer");
  assert.equal(body.expiresIn, 900);
  assert.match(body.accessToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.ok(body.refreshToken.length >= 40);
  assert.equal("passwordHash" in body.user, false);

  const [row] = await t.sql`select password_hash from users where id = ${body.user.id}`;
  assert.match(row.passwordHash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
  assert.equal(row.passwordHash.includes("long enough secret"), false);
});

Deno.test("POST /api/auth/register refuses a taken email in any case with 409", async () => {
  const rider = await registerRider(t);
  const res = await t.request("POST", "/api/auth/register", {
    body: { email: rider.email.toUpperCase(), password: "another password" },
  });
  assert.equal(res.status, 409);
  assert.equal((await res.json()).code, "email_taken");
});

Deno.test("POST /api/auth/register validates email and password length", async () => {
  const res = await t.request("POST", "/api/auth/register", {
    body: { email: "not-an-email", password: "short" },
  });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.code, "validation_failed");
  assert.match(body.error, /email: must be a valid email address/);
  assert.match(body.error, /password: must be at least 8 characters/);
});

Deno.test("POST /api/auth/login answers the same 401 for unknown email and wrong password", async () => {
  const rider = await registerRider(t);
  const wrong = await t.request("POST", "/api/auth/login", {
    body: { email: rider.email, password: "not the password" },
  });
  const unknown = await t.request("POST", "/api/auth/login", {
    body: { email: uniqueEmail("nobody"), password: "not the password" },
  });
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, 401);
  const [a, b] = [await wrong.json(), await unknown.json()];
  assert.equal(a.error, "Invalid email or password");
  assert.deepEqual({ ...a, requestId: "" }, { ...b, requestId: "" });

  const ok = await t.request("POST", "/api/auth/login", {
    body: { email: rider.email.toUpperCase(), password: rider.password },
  });
  assert.equal(ok.status, 200);
  const session = await ok.json();
  assert.equal(session.user.id, rider.user.id);
  assert.ok(session.user.lastLoginAt);
});

Deno.test("GET and PATCH /api/users/me read and change the signed-in rider's profile", async () => {
  const rider = await registerRider(t);
  const me = await t.request("GET", "/api/users/me", { token: rider.accessToken });
  assert.equal(me.status, 200);
  assert.equal((await me.json()).id, rider.user.id);

  const patched = await t.request("PATCH", "/api/users/me", {
    token: rider.accessToken,
    body: { displayName: "Eddy", weightKg: 72.5, ftpWatts: 280, maxHr: 188 },
  });
  assert.equal(patched.status, 200);
  const body = await patched.json();
  assert.deepEqual(
    [body.displayName, body.weightKg, body.ftpWatts, body.maxHr],
    ["Eddy", 72.5, 280, 188],
  );

  const cleared = await t.request("PATCH", "/api/users/me", {
    token: rider.accessToken,
    body: { weightKg: null },
  });
  assert.equal((await cleared.json()).weightKg, null);

  const bad = await t.request("PATCH", "/api/users/me", {
    token: rider.accessToken,
    body: { ftpWatts: 5000, isAdmin: true },
  });
  assert.equal(bad.status, 400);
  const after = await (await t.request("GET", "/api/users/me", { token: rider.accessToken }))
    .json();
  assert.equal(after.ftpWatts, 280);
});

Deno.test("GET /api/users/me without credentials answers 401 with WWW-Authenticate", async () => {
  const res = await t.request("GET", "/api/users/me");
  assert.equal(res.status, 401);
  assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer /);
  assert.equal((await res.json()).code, "unauthorized");
});

Deno.test("POST /api/auth/refresh rotates the token and a reused one revokes the family", async () => {
  const rider = await registerRider(t);
  const first = await t.request("POST", "/api/auth/refresh", {
    body: { refreshToken: rider.refreshToken },
  });
  assert.equal(first.status, 200);
  const rotated = await first.json();
  assert.notEqual(rotated.refreshToken, rider.refreshToken);
  const me = await t.request("GET", "/api/users/me", { token: rotated.accessToken });
  assert.equal(me.status, 200);

  const reuse = await t.request("POST", "/api/auth/refresh", {
    body: { refreshToken: rider.refreshToken },
  });
  assert.equal(reuse.status, 401);
  assert.match((await reuse.json()).error, /already used/);

  const familyMember = await t.request("POST", "/api/auth/refresh", {
    body: { refreshToken: rotated.refreshToken },
  });
  assert.equal(familyMember.status, 401);
  const revokedAccess = await t.request("GET", "/api/users/me", { token: rotated.accessToken });
  assert.equal(revokedAccess.status, 401);
  assert.equal((await revokedAccess.json()).code, "invalid_token");
});

Deno.test("POST /api/auth/logout ends the session for refresh and access tokens", async () => {
  const rider = await registerRider(t);
  const out = await t.request("POST", "/api/auth/logout", {
    body: { refreshToken: rider.refreshToken },
  });
  assert.equal(out.status, 200);
  assert.equal(
    (await t.request("POST", "/api/auth/refresh", { body: { refreshToken: rider.refreshToken } }))
      .status,
    401,
  );
  assert.equal((await t.request("GET", "/api/users/me", { token: rider.accessToken })).status, 401);

  const other = await registerRider(t);
  const byBearer = await t.request("POST", "/api/auth/logout", { token: other.accessToken });
  assert.equal(byBearer.status, 200);
  assert.equal((await t.request("GET", "/api/users/me", { token: other.accessToken })).status, 401);
});

Deno.test("bad access tokens answer 401: expired, tampered, wrong issuer, alg none, other key", async () => {
  const rider = await registerRider(t);
  const { config } = t.deps;
  const claims = { sid: await sessionOf(rider.refreshToken) };
  const otherKey = await createTokenIssuer({
    privateKeyPem: await generatePrivateKeyPem(),
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlS: 900,
  });
  const [header, payload, signature] = rider.accessToken.split(".");
  const tamperedPayload = btoa(
    JSON.stringify({
      ...JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))),
      sub: crypto.randomUUID(),
    }),
  ).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  const hmacKey = new TextEncoder().encode(JSON.stringify(t.deps.tokens.publicJwk));
  const cases: Record<string, string> = {
    tampered: `${header}.${tamperedPayload}.${signature}`,
    "alg none": new UnsecuredJWT(claims).setSubject(rider.user.id).setIssuer(config.jwt.issuer)
      .setAudience(config.jwt.audience).setExpirationTime("5m").setIssuedAt().encode(),
    "HS256 with the public key": await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt" }).setSubject(rider.user.id)
      .setIssuer(config.jwt.issuer).setAudience(config.jwt.audience).setIssuedAt()
      .setExpirationTime("5m").sign(hmacKey),
    "another key": await otherKey.sign({ userId: rider.user.id, sessionId: claims.sid }),
    "wrong issuer": await signWith({ issuer: "someone-else" }),
    "wrong audience": await signWith({ audience: "another-api" }),
    "wrong typ": await signWith({ typ: "JWT" }),
    expired: await signWith({ exp: Math.floor(Date.now() / 1000) - 60 }),
    "not yet valid": await signWith({ nbf: Math.floor(Date.now() / 1000) + 3600 }),
    garbage: "not.a.jwt",
  };
  for (const [name, token] of Object.entries(cases)) {
    const res = await t.request("GET", "/api/users/me", { token });
    assert.equal(res.status, 401, name);
    assert.equal((await res.json()).code, "invalid_token", name);
  }

  async function signWith(
    o: { issuer?: string; audience?: string; typ?: string; exp?: number; nbf?: number },
  ) {
    const key = await importPKCS8(await testPrivateKeyPem(), "ES256");
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", typ: o.typ ?? "at+jwt" })
      .setSubject(rider.user.id)
      .setIssuer(o.issuer ?? config.jwt.issuer)
      .setAudience(o.audience ?? config.jwt.audience)
      .setIssuedAt()
      .setExpirationTime(o.exp ?? "5m");
    if (o.nbf) jwt.setNotBefore(o.nbf);
    return jwt.sign(key);
  }
});

Deno.test("a personal API key in X-API-Key acts as its owner until revoked", async () => {
  const rider = await registerRider(t);
  const secret = `bpt_${crypto.randomUUID().replaceAll("-", "")}`;
  const [key] = await t.sql`
    insert into api_keys (user_id, name, prefix, key_hash)
    values (${rider.user.id}, 'bike computer', ${secret.slice(0, 12)}, ${await hashSecret(secret)})
    returning id
  `;
  const me = await t.request("GET", "/api/users/me", { headers: { "x-api-key": secret } });
  assert.equal(me.status, 200);
  assert.equal((await me.json()).id, rider.user.id);

  await t.sql`update api_keys set revoked_at = now() where id = ${key.id}`;
  // As every revocation site does after its commit: cached keys are checked against the feed.
  await t.deps.revocations.publish({ kind: "api_key", id: key.id });
  const revoked = await t.request("GET", "/api/users/me", { headers: { "x-api-key": secret } });
  assert.equal(revoked.status, 401);
  assert.equal((await revoked.json()).error, "Unauthorized: Invalid API Key");
});

async function sessionOf(refreshToken: string): Promise<string> {
  const [row] = await t.sql`
    select session_id from refresh_tokens where token_hash = ${await hashSecret(refreshToken)}
  `;
  return row.sessionId;
}
