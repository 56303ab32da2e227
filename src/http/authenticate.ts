import type { MiddlewareHandler } from "hono";
import { every } from "hono/combine";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import type { AppEnv, Deps, Principal } from "./deps.ts";
import { ApiError } from "../core/errors.ts";
import { withTimeout } from "../live/store.ts";
import { findLogin } from "../users/queries.ts";
import type { KeyOwner } from "../auth/credential_cache.ts";
import { hashSecret, safeEqual } from "../core/secrets.ts";
import { isSessionActive, touchApiKey, useApiKey } from "../auth/session_queries.ts";
import { apiKeyPrefix } from "../auth/api_keys.ts";

const sseRoute = /^\/api\/streams\/(listenAll|[a-zA-Z0-9_-]{1,64}\/listen)$/;
/** The routes a share link opens (src/http/stream_caller.ts checks the link itself). */
const shareRoute = /^\/api\/streams\/[a-zA-Z0-9_-]{1,64}\/(listen|messages)$/;
/** How long an unknown `API_KEY_RIDER` email is remembered as unknown before asking again. */
const missingRiderRetryMs = 1000;
/** Least time between two `last_used_at` updates of a cached key. */
const keyTouchIntervalMs = 60_000;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Prefix of personal API keys (kept here for existing importers). */
export { apiKeyPrefix };

function invalidToken(description: string): ApiError {
  return new ApiError("invalid_token", description, {
    headers: {
      "WWW-Authenticate":
        `Bearer realm="bike-power-tracker", error="invalid_token", error_description="${description}"`,
    },
  });
}

/** The old service's answer to a bad or missing shared key (COMPAT). */
export function invalidApiKey(): ApiError {
  return new ApiError("invalid_api_key", "Unauthorized: Invalid API Key", {
    extra: { hint: "Use the X-API-Key header for authentication" },
    headers: { "WWW-Authenticate": 'Bearer realm="bike-power-tracker"' },
  });
}

/** Postgres gets this long to confirm a session seen for the first time. */
const sessionCheckTimeoutMs = 1000;
/** After Postgres could not confirm a session, it is asked again after this long. */
const sessionRecheckMs = 10_000;

/**
 * True when the session may be used. With a fresh revocation feed: not revoked there, and, the
 * first time this instance sees the session (again once per token lifetime), present and active
 * in Postgres — defence in depth against a token for a session that never existed. Should
 * Postgres be unreachable for that one check, the signature and the feed decide (so ingest goes
 * on during an outage). With a stale feed (Redis trouble) Postgres decides, as the source of truth.
 */
async function sessionActive(deps: Deps, claims: { userId: string; sessionId: string }) {
  const { credentials, revocations } = deps;
  if (!revocations.fresh()) return await isSessionActive(deps.sql, claims);
  if (
    revocations.isRevoked({ kind: "session", id: claims.sessionId }) ||
    revocations.isRevoked({ kind: "user", id: claims.userId })
  ) {
    return false;
  }
  if (credentials.knownSession(claims.sessionId)) return true;
  const active = await withTimeout(isSessionActive(deps.sql, claims), sessionCheckTimeoutMs);
  if (active === false) return false;
  const now = Date.now();
  credentials.rememberSession(
    claims.sessionId,
    now + (active ? deps.tokens.ttlS * 1000 : sessionRecheckMs),
  );
  return true;
}

/** The rider of an access token of an active session; 401 `invalid_token` otherwise. */
export async function tokenPrincipal(
  deps: Deps,
  token: string,
): Promise<Extract<Principal, { via: "token" }>> {
  const claims = await deps.tokens.verify(token).catch(() => undefined);
  if (!claims || !uuid.test(claims.userId) || !uuid.test(claims.sessionId)) {
    throw invalidToken("Access token is invalid or expired");
  }
  if (!(await sessionActive(deps, claims))) {
    throw invalidToken("Access token belongs to a session that has ended");
  }
  return { kind: "user", via: "token", userId: claims.userId, sessionId: claims.sessionId };
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The owner of a personal API key: from the in-memory cache while the revocation feed is fresh,
 * else from Postgres (which also fills the cache and records the key's use).
 */
async function keyOwner(deps: Deps, secret: string): Promise<KeyOwner | undefined> {
  const { credentials, revocations } = deps;
  const hash = await hashSecret(secret);
  const id = hex(hash);
  const revoked = (owner: KeyOwner) =>
    revocations.isRevoked({ kind: "api_key", id: owner.keyId }) ||
    revocations.isRevoked({ kind: "user", id: owner.userId });
  const cached = credentials.key(id);
  if (cached && revocations.fresh()) {
    if (revoked(cached)) {
      credentials.deleteKey(id);
      return undefined;
    }
    const now = Date.now();
    if (now - cached.touchedAt >= keyTouchIntervalMs) {
      cached.touchedAt = now;
      // Bookkeeping only: it never delays or fails the request.
      touchApiKey(deps.sql, cached.keyId).catch((err) =>
        deps.log.debug("could not record an API key's use", { err: String(err) })
      );
    }
    return { userId: cached.userId, keyId: cached.keyId };
  }
  const owner = await useApiKey(deps.sql, hash);
  if (!owner || revoked(owner)) {
    credentials.deleteKey(id);
    return undefined;
  }
  credentials.setKey(id, owner);
  return owner;
}

/**
 * The user id of `API_KEY_RIDER`, resolved once and cached (again after that account is
 * deleted); undefined while no account has that email (asked again at most once a second).
 */
async function legacyRider(deps: Deps, email: string): Promise<string | undefined> {
  const { credentials, revocations } = deps;
  const known = credentials.rider;
  if (known?.id !== undefined) {
    if (!revocations.isRevoked({ kind: "user", id: known.id })) return known.id;
  } else if (known && Date.now() < known.retryAt) {
    return undefined;
  }
  const account = await findLogin(deps.sql, email);
  if (!account && !known) deps.log.warn("API_KEY_RIDER has no account yet; register that rider");
  credentials.rider = account
    ? { id: account.id }
    : { id: undefined, retryAt: Date.now() + missingRiderRetryMs };
  return account?.id;
}

/**
 * Sets the `principal` variable from a Bearer access token, a personal API key or the shared `API_KEY`.
 *
 * Presented but invalid credentials answer 401. With `API_KEY` configured, every `/api/*` route
 * except `/api/auth/*` needs some valid credential, as the old service required.
 *
 * No Postgres read per request while the revocation feed is fresh: access tokens are verified
 * with their signature and checked against the feed; API keys and the `API_KEY_RIDER` id come
 * from in-memory caches filled from Postgres once. With the feed stale, tokens and keys are
 * checked in Postgres as before (both down: 503).
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const deps = c.get("deps");
  const { config } = deps;
  let principal: Principal | null = null;

  // A browser session's cookie stands for the header (src/http/browser_session.ts).
  const cookieToken = c.get("cookieToken");
  const authorization = c.req.header("authorization") ??
    (cookieToken === undefined ? undefined : `Bearer ${cookieToken}`);
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw invalidToken("Authorization header must be 'Bearer <token>'");
    principal = await tokenPrincipal(deps, match[1]);
  }

  // Browsers' EventSource cannot send headers: the two SSE routes also take ?apiKey= (COMPAT).
  const apiKey = c.req.header("x-api-key") ??
    (sseRoute.test(c.req.path) ? c.req.query("apiKey") : undefined);
  if (principal === null && apiKey !== undefined) {
    if (apiKey.startsWith(apiKeyPrefix)) {
      const owner = await keyOwner(deps, apiKey);
      if (!owner) throw invalidApiKey();
      principal = { kind: "user", via: "api_key", ...owner };
    } else if (config.apiKey !== undefined && safeEqual(apiKey, config.apiKey)) {
      principal = { kind: "legacy" };
      if (config.apiKeyRider !== undefined) {
        const riderId = await legacyRider(deps, config.apiKeyRider).catch((err) => {
          // Only the rider's own routes need the id; the shared streams work without it.
          if (c.req.path.startsWith("/api/streams/")) return undefined;
          throw err;
        });
        if (riderId !== undefined) principal = { kind: "legacy", riderId };
      }
    } else if (config.apiKey !== undefined) {
      throw invalidApiKey();
    }
    // Without a shared key configured, the old service ignored X-API-Key; so does this one.
  }

  if (
    principal === null && config.apiKey !== undefined && !c.req.path.startsWith("/api/auth/") &&
    !(c.req.method === "GET" && c.req.query("share") !== undefined && shareRoute.test(c.req.path))
  ) {
    throw invalidApiKey();
  }
  c.set("principal", principal);
  await next();
});

/**
 * Rejects calls that do not come from a rider: a token, a personal API key, or the shared key
 * acting as `API_KEY_RIDER`.
 */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const principal = c.get("principal");
  if (principal?.kind === "legacy" && !principal.riderId && c.var.deps.config.apiKeyRider) {
    throw new ApiError(
      "rider_not_registered",
      "The shared API key acts as the rider named by API_KEY_RIDER, who has no account yet: " +
        "register that email (POST /api/auth/register) first",
    );
  }
  if (principal?.kind !== "user" && !(principal?.kind === "legacy" && principal.riderId)) {
    throw new ApiError("unauthorized", "Sign in to use this endpoint", {
      headers: { "WWW-Authenticate": 'Bearer realm="bike-power-tracker"' },
    });
  }
  await next();
});

/** The calling rider's id (the signed-in rider, or `API_KEY_RIDER`); only behind `requireUser`. */
export function userIdOf(principal: Principal | null): string {
  if (principal?.kind === "user") return principal.userId;
  if (principal?.kind === "legacy" && principal.riderId) return principal.riderId;
  throw new Error("userIdOf called without a signed-in user");
}

/**
 * A router's guards, applied once (`router.use(onRoutes(requireUser))`) yet only to requests that
 * match one of its routes: an unknown path or method under the router still answers 404 or 405,
 * as it did when every route listed its guards (`app.use` middleware is registered as "ALL").
 */
export function onRoutes(...guards: MiddlewareHandler<AppEnv>[]): MiddlewareHandler<AppEnv> {
  const guard = every(...guards);
  return async (c, next) => {
    if (matchedRoutes(c).some((route) => route.method !== "ALL")) return await guard(c, next);
    await next();
  };
}
