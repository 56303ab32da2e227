import assert from "node:assert/strict";
import {
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  importPKCS8,
  SignJWT,
} from "jose";
import { createApp } from "../../src/app.ts";
import { createTokenIssuer } from "../../src/auth/tokens.ts";
import { registerRider, startTestApp, type TestApp, testPrivateKeyPem } from "../support.ts";
import { serveOnFreePort } from "../sse_client.ts";
import {
  assertEnvelope,
  base64url,
  decodeSegment,
  personalKey,
  rawRequest,
  sessionOf,
} from "./attack_support.ts";

// Attacks on the access and refresh tokens (DESIGN §6). Every forged or misused credential must
// answer 401 in the error envelope and change nothing.

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

type Rider = Awaited<ReturnType<typeof registerRider>>;

/** Claims the service itself would sign for this rider, as a starting point for forgeries. */
async function claimsOf(rider: Rider) {
  return {
    sub: rider.user.id,
    sid: await sessionOf(t.sql, rider.refreshToken),
    iss: t.deps.config.jwt.issuer,
    aud: t.deps.config.jwt.audience,
  };
}

/** Signs with the service's own private key, with whatever header and claims a test wants. */
async function signWithServiceKey(
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: "ES256", typ: "at+jwt" },
): Promise<string> {
  const key = await importPKCS8(await testPrivateKeyPem(), "ES256");
  return await new SignJWT(claims).setProtectedHeader({ alg: "ES256", ...header }).sign(key);
}

/** The service's public key, derived from the test issuer's private PEM as an attacker sees it. */
async function servicePublicKey() {
  const privateKey = await importPKCS8(await testPrivateKeyPem(), "ES256", { extractable: true });
  const { d: _d, ...jwk } = await exportJWK(privateKey);
  const publicKey = await importJWK(jwk, "ES256", { extractable: true }) as CryptoKey;
  const spkiPem = await exportSPKI(publicKey);
  const der = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", publicKey));
  return { jwk, spkiPem, der, raw };
}

/** Asserts that GET /api/users/me with this token answers 401 invalid_token. */
async function assertRejected(token: string, label: string) {
  const res = await t.request("GET", "/api/users/me", { token });
  const body = await assertEnvelope(res, 401, { code: "invalid_token", label });
  assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer .*error="invalid_token"/, label);
  assert.equal(JSON.stringify(body).includes("passwordHash"), false, label);
}

async function assertAccepted(token: string, rider: Rider, label: string) {
  const res = await t.request("GET", "/api/users/me", { token });
  assert.equal(res.status, 200, `${label}: ${await res.clone().text()}`);
  assert.equal((await res.json()).id, rider.user.id, label);
}

const now = () => Math.floor(Date.now() / 1000);

Deno.test("a genuine access token is accepted (the baseline every forgery is compared with)", async () => {
  const rider = await registerRider(t);
  await assertAccepted(rider.accessToken, rider, "issued token");
  const claims = await claimsOf(rider);
  await assertAccepted(
    await signWithServiceKey({ ...claims, iat: now(), exp: now() + 300 }),
    rider,
    "hand-made token with the service key",
  );
});

Deno.test("an alg none token is refused with 401, in every spelling and signature", async () => {
  const rider = await registerRider(t);
  const claims = { ...await claimsOf(rider), iat: now(), exp: now() + 300 };
  const payload = base64url(JSON.stringify(claims));
  const signature = rider.accessToken.split(".")[2];
  for (const alg of ["none", "None", "NONE", "nOnE"]) {
    for (const typ of ["at+jwt", undefined]) {
      const header = base64url(JSON.stringify({ alg, ...(typ ? { typ } : {}) }));
      await assertRejected(`${header}.${payload}.`, `alg ${alg} empty signature`);
      await assertRejected(`${header}.${payload}.${signature}`, `alg ${alg} real signature`);
    }
  }
});

Deno.test("an HS256 token signed with the service's public key (key confusion) is refused with 401", async () => {
  const rider = await registerRider(t);
  const claims = { ...await claimsOf(rider), iat: now(), exp: now() + 300 };
  const { jwk, spkiPem, der, raw } = await servicePublicKey();
  const secrets: Record<string, Uint8Array> = {
    "SPKI PEM": new TextEncoder().encode(spkiPem),
    "SPKI PEM with newline": new TextEncoder().encode(`${spkiPem}\n`),
    "SPKI DER": der,
    "raw point": raw,
    "JWK JSON": new TextEncoder().encode(JSON.stringify(jwk)),
    "published JWK": new TextEncoder().encode(JSON.stringify(t.deps.tokens.publicJwk)),
  };
  for (const [name, secret] of Object.entries(secrets)) {
    for (const alg of ["HS256", "HS384", "HS512"]) {
      const token = await new SignJWT(claims).setProtectedHeader({ alg, typ: "at+jwt" }).sign(
        secret,
      );
      await assertRejected(token, `${alg} with ${name}`);
    }
  }
});

Deno.test("a token signed by a different ES256 key is refused, even with that key embedded", async () => {
  const rider = await registerRider(t);
  const claims = { ...await claimsOf(rider), iat: now(), exp: now() + 300 };
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const attackerJwk = await exportJWK(publicKey);
  const header = { alg: "ES256", typ: "at+jwt" };
  const cases: Record<string, string> = {
    "other key": await new SignJWT(claims).setProtectedHeader(header).sign(privateKey),
    "embedded jwk": await new SignJWT(claims).setProtectedHeader({ ...header, jwk: attackerJwk })
      .sign(privateKey),
    "jku to the attacker": await new SignJWT(claims)
      .setProtectedHeader({ ...header, jku: "https://attacker.example/jwks.json", kid: "x" })
      .sign(privateKey),
    "kid path traversal": await new SignJWT(claims)
      .setProtectedHeader({ ...header, kid: "../../../../dev/null" }).sign(privateKey),
  };
  for (const [name, token] of Object.entries(cases)) await assertRejected(token, name);

  // Another issuer built with its own key but the same issuer and audience names.
  const { generatePrivateKeyPem } = await import("../../src/auth/tokens.ts");
  const impostor = await createTokenIssuer({
    privateKeyPem: await generatePrivateKeyPem(),
    issuer: t.deps.config.jwt.issuer,
    audience: t.deps.config.jwt.audience,
    ttlS: 900,
  });
  await assertRejected(
    await impostor.sign({ userId: rider.user.id, sessionId: claims.sid }),
    "another issuer instance",
  );
});

Deno.test("a token with the wrong issuer, audience or typ is refused with 401", async () => {
  const rider = await registerRider(t);
  const claims = { ...await claimsOf(rider), iat: now(), exp: now() + 300 };
  const cases: [string, Record<string, unknown>, Record<string, unknown>?][] = [
    ["wrong issuer", { ...claims, iss: "someone-else" }],
    ["missing issuer", { ...claims, iss: undefined }],
    ["wrong audience", { ...claims, aud: "another-api" }],
    ["audience list without ours", { ...claims, aud: ["another-api", "third-api"] }],
    ["missing audience", { ...claims, aud: undefined }],
    ["typ JWT", claims, { typ: "JWT" }],
    ["typ of an ID token", claims, { typ: "id+jwt" }],
    ["missing typ", claims, { typ: undefined }],
  ];
  for (const [name, payload, header] of cases) {
    await assertRejected(
      await signWithServiceKey(payload, { alg: "ES256", typ: "at+jwt", ...header }),
      name,
    );
  }
});

Deno.test("a token missing sub, sid, exp or iat, or with a non-UUID subject, is refused with 401", async () => {
  const rider = await registerRider(t);
  const claims = { ...await claimsOf(rider), iat: now(), exp: now() + 300 };
  const cases: Record<string, Record<string, unknown>> = {
    "no sub": { ...claims, sub: undefined },
    "no sid": { ...claims, sid: undefined },
    "no exp": { ...claims, exp: undefined },
    "no iat": { ...claims, iat: undefined },
    "numeric sub": { ...claims, sub: 1 },
    "sub injection": { ...claims, sub: "' or 1=1 --" },
    "sid injection": { ...claims, sid: "' or 1=1 --" },
    "unknown session": { ...claims, sid: crypto.randomUUID() },
  };
  for (const [name, payload] of Object.entries(cases)) {
    await assertRejected(await signWithServiceKey(payload), name);
  }
});

Deno.test("an expired or not yet valid token (nbf or iat in the future) is refused with 401", async () => {
  const rider = await registerRider(t);
  const claims = await claimsOf(rider);
  const cases: Record<string, Record<string, unknown>> = {
    "expired a minute ago": { ...claims, iat: now() - 960, exp: now() - 60 },
    "expired this second": { ...claims, iat: now() - 900, exp: now() },
    "nbf in an hour": { ...claims, iat: now(), nbf: now() + 3600, exp: now() + 7200 },
    "iat in an hour": { ...claims, iat: now() + 3600, exp: now() + 3900 },
    "iat in a minute": { ...claims, iat: now() + 60, exp: now() + 600 },
  };
  for (const [name, payload] of Object.entries(cases)) {
    await assertRejected(await signWithServiceKey(payload), name);
  }
});

Deno.test("an access token is refused once it expires, even after it was accepted", async () => {
  const rider = await registerRider(t);
  // A one-second lifetime (below what config allows) so expiry happens within the test.
  const shortLived = await createTokenIssuer({
    privateKeyPem: await testPrivateKeyPem(),
    issuer: t.deps.config.jwt.issuer,
    audience: t.deps.config.jwt.audience,
    ttlS: 1,
  });
  const app = createApp({ ...t.deps, tokens: shortLived });
  const token = await shortLived.sign({
    userId: rider.user.id,
    sessionId: await sessionOf(t.sql, rider.refreshToken),
  });
  const me = () => app.request("/api/users/me", { headers: { authorization: `Bearer ${token}` } });
  assert.equal((await me()).status, 200);
  const exp = decodeSegment(token.split(".")[1]).exp as number;
  await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50));
  await assertEnvelope(await me(), 401, { code: "invalid_token", label: "after expiry" });
});

Deno.test("a tampered payload (sub changed to another rider) is refused with 401", async () => {
  const victim = await registerRider(t);
  const attacker = await registerRider(t);
  const [header, payload, signature] = attacker.accessToken.split(".");
  const claims = decodeSegment(payload);
  const variants: Record<string, Record<string, unknown>> = {
    "victim sub": { ...claims, sub: victim.user.id },
    "victim sub and sid": {
      ...claims,
      sub: victim.user.id,
      sid: await sessionOf(t.sql, victim.refreshToken),
    },
    "longer expiry": { ...claims, exp: (claims.exp as number) + 86_400 },
  };
  for (const [name, changed] of Object.entries(variants)) {
    await assertRejected(`${header}.${base64url(JSON.stringify(changed))}.${signature}`, name);
  }
  // The header swapped for another token's header, and the signature bit-flipped.
  const flipped = signature.slice(0, -2) + (signature.endsWith("AA") ? "AB" : "AA");
  await assertRejected(`${header}.${payload}.${flipped}`, "flipped signature");
  await assertRejected(`${header}.${payload}`, "no signature segment");
  await assertRejected(`${header}.${payload}.${signature}.extra`, "extra segment");
  // The attacker's own token still works: nothing was revoked by the attempts.
  await assertAccepted(attacker.accessToken, attacker, "attacker's genuine token");
});

Deno.test("an access token is refused after logout, though it was accepted (and cached) before", async () => {
  const rider = await registerRider(t);
  await assertAccepted(rider.accessToken, rider, "before logout");
  const out = await t.request("POST", "/api/auth/logout", { token: rider.accessToken });
  assert.equal(out.status, 200);
  assert.deepEqual(await out.json(), { success: true });

  const res = await t.request("GET", "/api/users/me", { token: rider.accessToken });
  const body = await assertEnvelope(res, 401, { code: "invalid_token" });
  assert.match(body.error, /session that has ended/);
  const [session] = await t.sql`
    select revoked_reason from auth_sessions where id = ${await sessionOf(
    t.sql,
    rider.refreshToken,
  )}
  `;
  assert.equal(session.revokedReason, "logout");
  // The refresh token of that session is dead too.
  await assertEnvelope(
    await t.request("POST", "/api/auth/refresh", { body: { refreshToken: rider.refreshToken } }),
    401,
    { code: "invalid_refresh_token" },
  );
  // Another session of the same rider is untouched.
  const again = await t.request("POST", "/api/auth/login", {
    body: { email: rider.email, password: rider.password },
  });
  assert.equal(again.status, 200);
  await assertAccepted((await again.json()).accessToken, rider, "new session");
});

Deno.test("reusing a rotated refresh token answers 401 and revokes the whole family", async () => {
  const rider = await registerRider(t);
  const first = await t.request("POST", "/api/auth/refresh", {
    body: { refreshToken: rider.refreshToken },
  });
  assert.equal(first.status, 200);
  const rotated = await first.json();
  await assertAccepted(rotated.accessToken, rider, "rotated access token");

  const reuse = await t.request("POST", "/api/auth/refresh", {
    body: { refreshToken: rider.refreshToken },
  });
  const reuseBody = await assertEnvelope(reuse, 401, { code: "invalid_refresh_token" });
  assert.match(reuseBody.error, /already used/);

  // The newer refresh token, and both access tokens of the family, are dead.
  const newer = await t.request("POST", "/api/auth/refresh", {
    body: { refreshToken: rotated.refreshToken },
  });
  await assertEnvelope(newer, 401, { code: "invalid_refresh_token" });
  await assertRejected(rotated.accessToken, "newer access token");
  await assertRejected(rider.accessToken, "first access token");
  const [session] = await t.sql`
    select revoked_at, revoked_reason from auth_sessions
    where id = ${await sessionOf(t.sql, rider.refreshToken)}
  `;
  assert.ok(session.revokedAt);
  assert.equal(session.revokedReason, "refresh token reused");
  const [live] = await t.sql`
    select count(*)::int as n from auth_sessions where user_id = ${rider.user.id} and revoked_at is null
  `;
  assert.equal(live.n, 0);
});

Deno.test("two concurrent refreshes with one token: one wins, the other revokes the family", async () => {
  const rider = await registerRider(t);
  const results = await Promise.all(
    [1, 2].map(() =>
      t.request("POST", "/api/auth/refresh", { body: { refreshToken: rider.refreshToken } })
    ),
  );
  const statuses = results.map((res) => res.status).sort();
  assert.deepEqual(statuses, [200, 401]);
  const winner = await results.find((res) => res.status === 200)!.json();
  await assertEnvelope(results.find((res) => res.status === 401)!, 401, {
    code: "invalid_refresh_token",
  });
  // Whoever got the new token cannot keep the session: it was revoked as a reuse.
  await assertEnvelope(
    await t.request("POST", "/api/auth/refresh", { body: { refreshToken: winner.refreshToken } }),
    401,
    { code: "invalid_refresh_token" },
  );
  await assertRejected(winner.accessToken, "winner's access token");
});

Deno.test("an access token is not a refresh token, and a refresh token is not an access token", async () => {
  const rider = await registerRider(t);
  for (const path of ["/api/auth/refresh", "/api/auth/logout"]) {
    const res = await t.request("POST", path, { body: { refreshToken: rider.accessToken } });
    await assertEnvelope(res, [400, 401], { label: `access token to ${path}` });
  }
  await assertRejected(rider.refreshToken, "refresh token as Bearer");
  const asKey = await t.request("GET", "/api/users/me", {
    headers: { "x-api-key": rider.refreshToken },
  });
  await assertEnvelope(asKey, 401, { label: "refresh token as X-API-Key" });
  // None of that ended the session.
  await assertAccepted(rider.accessToken, rider, "access token afterwards");
  const refreshed = await t.request("POST", "/api/auth/refresh", {
    body: { refreshToken: rider.refreshToken },
  });
  assert.equal(refreshed.status, 200);
});

Deno.test("garbage and oversized Authorization headers answer 401 in the envelope", async () => {
  const rider = await registerRider(t);
  const [h, p] = rider.accessToken.split(".");
  const headers = [
    "Bearer",
    "Bearer ",
    "Bearer  ",
    "bearer",
    "Basic dXNlcjpwYXNzd29yZA==",
    "Token abc",
    `Bearer ${rider.accessToken} ${rider.accessToken}`,
    `Bearer ${rider.accessToken},${rider.accessToken}`,
    `${rider.accessToken}`,
    "Bearer not.a.jwt",
    "Bearer ...",
    "Bearer a.b.c.d.e",
    `Bearer ${h}.${p}.`,
    `Bearer ${"e30".repeat(3)}.${"e30"}.${"e30"}`,
    `Bearer ${base64url('{"alg":"ES256","crit":["b64"],"b64":false}')}.${p}.AAAA`,
    `Bearer ${base64url("[".repeat(50_000) + "]".repeat(50_000))}.${p}.AAAA`,
    `Bearer ${"A".repeat(1_000_000)}`,
    `Bearer ${".".repeat(100_000)}`,
    `Bearer ${h}.${p}.${"A".repeat(500_000)}`,
    "Bearer \u00e9\u00e8",
  ];
  for (const value of headers) {
    const res = await t.request("GET", "/api/users/me", { headers: { authorization: value } });
    const label = `Authorization: ${value.slice(0, 60)}… (${value.length} chars)`;
    await assertEnvelope(res, 401, { code: "invalid_token", label });
    assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer /, label);
  }
  await assertAccepted(rider.accessToken, rider, "still fine");
});

Deno.test("an invalid Bearer token is not rescued by a valid personal API key", async () => {
  const rider = await registerRider(t);
  const key = await personalKey(t.sql, rider.user.id);
  const res = await t.request("GET", "/api/users/me", {
    headers: { authorization: "Bearer not.a.jwt", "x-api-key": key },
  });
  await assertEnvelope(res, 401, { code: "invalid_token" });
  for (const bad of ["bpt_", "bpt_' or 1=1 --", `${key}x`, key.toUpperCase(), "x".repeat(10_000)]) {
    const viaKey = await t.request("GET", "/api/users/me", { headers: { "x-api-key": bad } });
    await assertEnvelope(viaKey, 401, { label: `X-API-Key ${bad.slice(0, 20)}` });
  }
});

Deno.test("over a real socket, a huge Authorization header is refused without reaching a 2xx", async () => {
  const server = serveOnFreePort((request) => t.app.fetch(request));
  try {
    const rider = await registerRider(t);
    const ok = await rawRequest(
      server.url,
      `GET /api/users/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${rider.accessToken}\r\n` +
        "Connection: close\r\n\r\n",
    );
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).id, rider.user.id);

    const huge = await rawRequest(
      server.url,
      `GET /api/users/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${"A".repeat(200_000)}\r\n` +
        "Connection: close\r\n\r\n",
    );
    // The HTTP server refuses the head itself (400 or 431, before the app runs); the app, if it
    // sees the request, answers 401. Never a 2xx, and the server keeps serving.
    assert.ok([400, 401, 431].includes(huge.status), `got ${huge.status} ${huge.body}`);
    if (huge.status === 401) assert.equal(JSON.parse(huge.body).code, "invalid_token");

    const after = await rawRequest(
      server.url,
      "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.equal(after.status, 200);
  } finally {
    await server.close();
  }
});
