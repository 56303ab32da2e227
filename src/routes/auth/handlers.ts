import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv, Deps } from "../../http/deps.ts";
import { limitAccount, resetAccount } from "../../http/login_limits.ts";
import * as accounts from "../../auth/sign_in.ts";
import { userJson } from "../../users/user_json.ts";
import type * as specs from "./specs.ts";

function sessionJson({ user, tokens }: accounts.SignedIn) {
  return { user: userJson(user), ...tokens };
}

/** Password attempts counted per account in Redis (src/http/login_limits.ts). */
export function accountAttempts(deps: Deps): accounts.AccountAttempts {
  return {
    limit: (email) => limitAccount(deps, email),
    reset: (email) => resetAccount(deps, email),
  };
}

/** POST /api/auth/register: creates a password account and signs it in. */
export const register: RouteHandler<typeof specs.register, AppEnv> = async (c) => {
  const signedIn = await accounts.register(c.var.deps, c.req.valid("json"));
  return c.json(sessionJson(signedIn), 201);
};

/** POST /api/auth/login: signs in with email and password. */
export const login: RouteHandler<typeof specs.login, AppEnv> = async (c) => {
  const deps = c.var.deps;
  const signedIn = await accounts.signIn(deps, accountAttempts(deps), c.req.valid("json"));
  return c.json(sessionJson(signedIn), 200);
};

/** POST /api/auth/oidc: signs in with an OpenID Connect ID token. */
export const signInWithOidc: RouteHandler<typeof specs.oidc, AppEnv> = async (c) => {
  const signedIn = await accounts.signInWithOidc(c.var.deps, c.req.valid("json"));
  return c.json(sessionJson(signedIn), 200);
};

/** POST /api/auth/refresh: new tokens for a refresh token. */
export const refreshTokens: RouteHandler<typeof specs.refresh, AppEnv> = async (c) => {
  const { rotated: _, ...tokens } = await accounts.refreshSession(
    c.var.deps,
    c.req.valid("json").refreshToken,
  );
  return c.json(tokens, 200);
};

/** POST /api/auth/logout: ends the session of the refresh token or of the Bearer token. */
export const logout: RouteHandler<typeof specs.logout, AppEnv> = async (c) => {
  const principal = c.var.principal;
  const bearer = principal?.kind === "user" && principal.via === "token"
    ? { sessionId: principal.sessionId, userId: principal.userId }
    : undefined;
  await accounts.signOut(c.var.deps, { refreshToken: c.req.valid("json").refreshToken, bearer });
  return c.json({ success: true as const }, 200);
};
