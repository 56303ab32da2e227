import { createRoute, z } from "@hono/zod-openapi";
import { ApiError } from "../core/errors.ts";
import { createRouter, errors, json, jsonBody } from "../http/openapi.ts";
import { findLogin, getUser, insertUser, touchLogin } from "../users/queries.ts";
import { userJson, UserSchema } from "../users/user_json.ts";
import type { Deps } from "../http/deps.ts";
import { hashPassword, verifyPassword } from "../auth/passwords.ts";
import { hashSecret, randomSecret } from "../auth/secrets.ts";
import { signInWithIdentity } from "../auth/identity_queries.ts";
import { limitAccount, limitClient, resetAccount } from "../http/login_limits.ts";
import { createOidcVerifier, type OidcVerifier } from "../auth/oidc.ts";
import {
  findSessionByRefreshToken,
  insertSession,
  revokeSession,
  rotateRefreshToken,
} from "../auth/session_queries.ts";

const email = z.email("must be a valid email address").max(254).openapi({
  example: "rider@example.com",
});
const password = z
  .string()
  .min(8, "must be at least 8 characters")
  .max(256, "must be at most 256 characters")
  .openapi({ example: "correct horse battery staple" });
const refreshToken = z.string().min(1).max(200).openapi({ example: "Qm9ndXMtcmVmcmVzaC10b2tlbg" });

const TokensSchema = z
  .object({
    tokenType: z.literal("Bearer"),
    accessToken: z.string(),
    expiresIn: z.number().int().openapi({ description: "Access token lifetime in seconds" }),
    refreshToken: z.string().openapi({ description: "Opaque; rotates on every use" }),
  })
  .openapi("Tokens");

const SessionSchema = TokensSchema.extend({ user: UserSchema }).openapi("Session");

const register = createRoute({
  method: "post",
  path: "/register",
  tags: ["Auth"],
  middleware: [limitClient] as const,
  summary: "Create an account with email and password",
  request: {
    body: jsonBody(z.object({
      email,
      password,
      displayName: z.string().trim().min(1).max(100).optional(),
    })),
  },
  responses: {
    201: json(SessionSchema, "Account created and signed in"),
    ...errors("validation_failed", "conflict", "rate_limited"),
  },
});

const login = createRoute({
  method: "post",
  path: "/login",
  tags: ["Auth"],
  middleware: [limitClient] as const,
  summary: "Sign in with email and password",
  request: { body: jsonBody(z.object({ email, password: z.string().min(1).max(256) })) },
  responses: {
    200: json(SessionSchema, "Signed in"),
    ...errors("validation_failed", "unauthorized", "rate_limited"),
  },
});

const refresh = createRoute({
  method: "post",
  path: "/refresh",
  tags: ["Auth"],
  middleware: [limitClient] as const,
  summary: "Exchange a refresh token for new tokens (the old one stops working)",
  request: { body: jsonBody(z.object({ refreshToken })) },
  responses: {
    200: json(TokensSchema, "New tokens"),
    ...errors("validation_failed", "unauthorized", "rate_limited"),
  },
});

const logout = createRoute({
  method: "post",
  path: "/logout",
  tags: ["Auth"],
  summary: "End a session (by refresh token, or the session of the Bearer token)",
  request: {
    body: {
      content: {
        "application/json": { schema: z.object({ refreshToken: refreshToken.optional() }) },
      },
      required: false,
    },
  },
  responses: {
    200: json(z.object({ success: z.literal(true) }), "Session ended"),
    ...errors("validation_failed", "unauthorized"),
  },
});

const oidc = createRoute({
  method: "post",
  path: "/oidc",
  tags: ["Auth"],
  middleware: [limitClient] as const,
  summary: "Sign in with an OpenID Connect ID token (Google, Apple, … as configured)",
  description: "Verifies the ID token with the provider's published keys (issuer, audience = " +
    "this service's client id, expiry, nonce). A new subject creates an account, or links to " +
    "the account with the same email when the provider verified that email. An unverified " +
    "email that matches an account answers 409 and links nothing.",
  request: {
    body: jsonBody(z.object({
      provider: z.string().min(1).max(32).openapi({ example: "google" }),
      idToken: z.string().min(1).max(16_384).openapi({ description: "The provider's ID token" }),
      nonce: z.string().min(1).max(512).optional().openapi({
        description: "The nonce the sign-in request used; required when the token has one",
      }),
    })),
  },
  responses: {
    200: json(SessionSchema, "Signed in"),
    ...errors(
      "validation_failed",
      "unauthorized",
      "conflict",
      "rate_limited",
      "service_unavailable",
    ),
  },
});

/** A hash that no password matches; verified against for unknown emails to equalise timing. */
let decoyHash: Promise<string> | undefined;

async function issueTokens(deps: Deps, userId: string) {
  const refresh = randomSecret();
  const session = await insertSession(deps.sql, {
    userId,
    tokenHash: await hashSecret(refresh),
    ttlDays: deps.config.refreshTokenTtlDays,
  });
  return {
    tokenType: "Bearer" as const,
    accessToken: await deps.tokens.sign({ userId, sessionId: session }),
    expiresIn: deps.tokens.ttlS,
    refreshToken: refresh,
  };
}

function badCredentials(): ApiError {
  return new ApiError("invalid_credentials", "Invalid email or password");
}

/** Routes under /api/auth: register, login, OpenID Connect sign-in, refresh, logout. */
export function authRoutes() {
  const app = createRouter();

  app.openapi(register, async (c) => {
    const deps = c.var.deps;
    const body = c.req.valid("json");
    const passwordHash = await hashPassword(body.password, deps.config.passwordCost);
    const user = await insertUser(deps.sql, {
      email: body.email,
      passwordHash,
      displayName: body.displayName ?? null,
    }).catch((err) => {
      if (err?.code === "23505") {
        throw new ApiError("email_taken", "An account with this email already exists");
      }
      throw err;
    });
    return c.json({ user: userJson(user), ...await issueTokens(deps, user.id) }, 201);
  });

  app.openapi(login, async (c) => {
    const deps = c.var.deps;
    const body = c.req.valid("json");
    await limitAccount(deps, body.email);
    const account = await findLogin(deps.sql, body.email);
    if (!account?.passwordHash) {
      decoyHash ??= hashPassword(randomSecret(), deps.config.passwordCost);
      await verifyPassword(body.password, await decoyHash);
      throw badCredentials();
    }
    if (!(await verifyPassword(body.password, account.passwordHash))) throw badCredentials();
    await resetAccount(deps, body.email);
    await touchLogin(deps.sql, account.id);
    const user = await getUser(deps.sql, account.id);
    if (!user) throw badCredentials();
    return c.json({ user: userJson(user), ...await issueTokens(deps, account.id) }, 200);
  });

  let verifier: OidcVerifier | undefined;
  app.openapi(oidc, async (c) => {
    const deps = c.var.deps;
    const body = c.req.valid("json");
    verifier ??= createOidcVerifier({
      ...deps.config.oidc,
      onUnavailable: (provider, err) =>
        deps.log.warn("sign-in provider unavailable", { provider, err: String(err) }),
    });
    const identity = await verifier.verify(body.provider, body);
    const result = await signInWithIdentity(deps.sql, identity);
    if (!result.ok) {
      throw new ApiError(
        "email_not_verified",
        "An account with this email already exists and the provider has not verified the " +
          "email, so it is not linked; sign in with your password",
      );
    }
    const user = await getUser(deps.sql, result.userId);
    if (!user) throw new ApiError("invalid_id_token", "The account no longer exists");
    return c.json({ user: userJson(user), ...await issueTokens(deps, user.id) }, 200);
  });

  app.openapi(refresh, async (c) => {
    const deps = c.var.deps;
    const next = randomSecret();
    const result = await rotateRefreshToken(deps.sql, {
      tokenHash: await hashSecret(c.req.valid("json").refreshToken),
      newTokenHash: await hashSecret(next),
      ttlDays: deps.config.refreshTokenTtlDays,
    });
    if (!result.ok && result.reason === "reused") {
      // Every instance must refuse the family's access tokens now, not when they expire.
      await deps.revocations.publish({ kind: "session", id: result.sessionId });
    }
    if (!result.ok) {
      const messages = {
        unknown: "Refresh token is not valid",
        expired: "Refresh token has expired; sign in again",
        revoked: "Session has ended; sign in again",
        reused: "Refresh token was already used; the session has been revoked, sign in again",
      };
      throw new ApiError("invalid_refresh_token", messages[result.reason]);
    }
    return c.json({
      tokenType: "Bearer" as const,
      accessToken: await deps.tokens.sign(result),
      expiresIn: deps.tokens.ttlS,
      refreshToken: next,
    }, 200);
  });

  app.openapi(logout, async (c) => {
    const deps = c.var.deps;
    const { refreshToken } = c.req.valid("json");
    const principal = c.var.principal;
    let session: { sessionId: string; userId: string } | undefined;
    if (refreshToken) {
      session = await findSessionByRefreshToken(deps.sql, await hashSecret(refreshToken));
    } else if (principal?.kind === "user" && principal.via === "token") {
      session = principal;
    }
    if (!session) {
      throw new ApiError("invalid_refresh_token", "Give a valid refresh token or Bearer token");
    }
    await revokeSession(deps.sql, { ...session, reason: "logout" });
    // After the commit: the feed tells every instance (a retry publishes again).
    await deps.revocations.publish({ kind: "session", id: session.sessionId });
    return c.json({ success: true as const }, 200);
  });

  return app;
}
