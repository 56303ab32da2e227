import { createMiddleware } from "hono/factory";
import type { AppEnv, Principal } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { hashSecret, safeEqual } from "./secrets.ts";
import { isSessionActive, useApiKey } from "./session_queries.ts";

const sseRoute = /^\/api\/streams\/(listenAll|[a-zA-Z0-9_-]{1,64}\/listen)$/;
/** The routes a share link opens (src/streams/access.ts checks the link itself). */
const shareRoute = /^\/api\/streams\/[a-zA-Z0-9_-]{1,64}\/(listen|messages)$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Prefix of personal API keys. */
export const apiKeyPrefix = "bpt_";

function invalidToken(description: string): ApiError {
  return new ApiError(401, "invalid_token", description, {
    headers: {
      "WWW-Authenticate":
        `Bearer realm="bike-power-tracker", error="invalid_token", error_description="${description}"`,
    },
  });
}

/** The old service's answer to a bad or missing shared key (COMPAT). */
export function invalidApiKey(): ApiError {
  return new ApiError(401, "invalid_api_key", "Unauthorized: Invalid API Key", {
    extra: { hint: "Use the X-API-Key header for authentication" },
    headers: { "WWW-Authenticate": 'Bearer realm="bike-power-tracker"' },
  });
}

/**
 * Sets the `principal` variable from a Bearer access token, a personal API key or the shared `API_KEY`.
 *
 * Presented but invalid credentials answer 401. With `API_KEY` configured, every `/api/*` route
 * except `/api/auth/*` needs some valid credential, as the old service required.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const { config, sql, tokens } = c.get("deps");
  let principal: Principal | null = null;

  const authorization = c.req.header("authorization");
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw invalidToken("Authorization header must be 'Bearer <token>'");
    const claims = await tokens.verify(match[1]).catch(() => undefined);
    if (!claims || !uuid.test(claims.userId) || !uuid.test(claims.sessionId)) {
      throw invalidToken("Access token is invalid or expired");
    }
    if (!(await isSessionActive(sql, claims))) {
      throw invalidToken("Access token belongs to a session that has ended");
    }
    principal = { kind: "user", via: "token", ...claims };
  }

  // Browsers' EventSource cannot send headers: the two SSE routes also take ?apiKey= (COMPAT).
  const apiKey = c.req.header("x-api-key") ??
    (sseRoute.test(c.req.path) ? c.req.query("apiKey") : undefined);
  if (principal === null && apiKey !== undefined) {
    if (apiKey.startsWith(apiKeyPrefix)) {
      const owner = await useApiKey(sql, await hashSecret(apiKey));
      if (!owner) throw invalidApiKey();
      principal = { kind: "user", via: "api_key", ...owner };
    } else if (config.apiKey !== undefined && safeEqual(apiKey, config.apiKey)) {
      principal = { kind: "legacy" };
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

/** Rejects calls that do not come from a signed-in rider (token or personal API key). */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get("principal")?.kind !== "user") {
    throw new ApiError(401, "unauthorized", "Sign in to use this endpoint", {
      headers: { "WWW-Authenticate": 'Bearer realm="bike-power-tracker"' },
    });
  }
  await next();
});

/** The signed-in rider's id; call only behind `requireUser`. */
export function userIdOf(principal: Principal | null): string {
  if (principal?.kind !== "user") throw new Error("userIdOf called without a signed-in user");
  return principal.userId;
}
