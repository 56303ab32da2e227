import { createRoute, z } from "@hono/zod-openapi";
import { errors, json, jsonBody } from "../../http/openapi.ts";
import { limitClient } from "../../http/login_limits.ts";
import { jsonBodyErrors } from "../../http/schemas.ts";
import { UserSchema } from "../../users/user_json.ts";

const tags = ["Auth"];
/** limitClient counts attempts per address; the app's request limit applies too. */
const limited = ["too_many_attempts", "rate_limited"] as const;

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

/** POST /api/auth/register */
export const register = createRoute({
  method: "post",
  path: "/register",
  operationId: "register",
  tags,
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
    ...errors(...jsonBodyErrors, "email_taken", ...limited),
  },
});

/** POST /api/auth/login */
export const login = createRoute({
  method: "post",
  path: "/login",
  operationId: "login",
  tags,
  middleware: [limitClient] as const,
  summary: "Sign in with email and password",
  request: { body: jsonBody(z.object({ email, password: z.string().min(1).max(256) })) },
  responses: {
    200: json(SessionSchema, "Signed in"),
    ...errors(...jsonBodyErrors, "invalid_credentials", ...limited),
  },
});

/** POST /api/auth/refresh */
export const refresh = createRoute({
  method: "post",
  path: "/refresh",
  operationId: "refreshTokens",
  tags,
  middleware: [limitClient] as const,
  summary: "Exchange a refresh token for new tokens (the old one stops working)",
  request: { body: jsonBody(z.object({ refreshToken })) },
  responses: {
    200: json(TokensSchema, "New tokens"),
    ...errors(...jsonBodyErrors, "invalid_refresh_token", ...limited, "revocation_pending"),
  },
});

/** POST /api/auth/logout */
export const logout = createRoute({
  method: "post",
  path: "/logout",
  operationId: "logout",
  tags,
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
    ...errors(
      ...jsonBodyErrors,
      "invalid_refresh_token",
      "invalid_token",
      "rate_limited",
      "revocation_pending",
    ),
  },
});

/** POST /api/auth/oidc */
export const oidc = createRoute({
  method: "post",
  path: "/oidc",
  operationId: "signInWithOidc",
  tags,
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
      ...jsonBodyErrors,
      "unknown_provider",
      "invalid_id_token",
      "email_not_verified",
      ...limited,
      "provider_unavailable",
    ),
  },
});
