import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { createMiddleware } from "hono/factory";
import { refreshSession, type Tokens } from "../auth/sign_in.ts";
import { ApiError } from "../core/errors.ts";
import { safeEqual } from "../core/secrets.ts";
import { tokenPrincipal } from "./authenticate.ts";
import type { AppEnv } from "./deps.ts";

/** The cookie holding a browser session's access token (an ES256 JWT, 15 minutes). */
export const accessCookie = "bpt_access";
/** The cookie holding a browser session's refresh token (rotated when the access token expires). */
export const refreshCookie = "bpt_refresh";
/** The header the pages' scripts send the session's CSRF token in. */
export const csrfHeader = "X-CSRF-Token";
/**
 * A refresh token used this recently is accepted again without revoking the session: a page's
 * parallel requests (and other tabs) carry the same cookie when its access token expires.
 */
const refreshReuseGraceS = 30;

const safeMethods = new Set(["GET", "HEAD", "OPTIONS"]);

/** A request's browser session: its (possibly just refreshed) access token and CSRF token. */
export type BrowserSession = {
  accessToken: string;
  userId: string;
  sessionId: string;
  csrf: string;
};

/**
 * True when the page was asked for over HTTPS: the request's own URL, or behind
 * `TRUSTED_PROXY_HOPS` proxies their `X-Forwarded-Proto`.
 */
export function servedOverHttps(c: Context<AppEnv>): boolean {
  if (new URL(c.req.url).protocol === "https:") return true;
  const forwarded = c.req.header("x-forwarded-proto")?.split(",")[0].trim();
  return c.var.deps.config.trustedProxyHops > 0 && forwarded === "https";
}

function cookieOptions(c: Context<AppEnv>) {
  return {
    httpOnly: true,
    secure: servedOverHttps(c),
    sameSite: "Lax" as const,
    path: "/",
    maxAge: c.var.deps.config.refreshTokenTtlDays * 86_400,
  };
}

/** Sets the session cookies of freshly issued tokens (the refresh cookie only when it changed). */
export function setSessionCookies(c: Context<AppEnv>, tokens: Tokens & { rotated?: boolean }) {
  const options = cookieOptions(c);
  setCookie(c, accessCookie, tokens.accessToken, options);
  if (tokens.rotated !== false) setCookie(c, refreshCookie, tokens.refreshToken, options);
}

/** Removes the session cookies (signing out, or a session that ended elsewhere). */
export function clearSessionCookies(c: Context<AppEnv>) {
  const { secure } = cookieOptions(c);
  deleteCookie(c, accessCookie, { path: "/", secure });
  deleteCookie(c, refreshCookie, { path: "/", secure });
}

const resolved = new WeakMap<Request, Promise<BrowserSession | null>>();

async function resolve(c: Context<AppEnv>): Promise<BrowserSession | null> {
  const { tokens } = c.var.deps;
  let accessToken = getCookie(c, accessCookie);
  // A token of a session that ended (signed out elsewhere, reuse) counts as none.
  let claims = accessToken
    ? await tokenPrincipal(c.var.deps, accessToken).catch(() => undefined)
    : undefined;
  const refreshToken = getCookie(c, refreshCookie);
  if (!claims && refreshToken) {
    const fresh = await refreshSession(c.var.deps, refreshToken, {
      reuseGraceS: refreshReuseGraceS,
    }).catch((err) => {
      if (err instanceof ApiError && err.code === "invalid_refresh_token") return undefined;
      throw err;
    });
    if (fresh) {
      setSessionCookies(c, fresh);
      accessToken = fresh.accessToken;
      claims = await tokenPrincipal(c.var.deps, accessToken);
    }
  }
  if (!claims || !accessToken) {
    if (accessToken || refreshToken) clearSessionCookies(c);
    return null;
  }
  const { userId, sessionId } = claims;
  return { accessToken, userId, sessionId, csrf: await tokens.csrfToken(sessionId) };
}

/**
 * The browser session of the request's cookies, refreshing an expired access token with the
 * refresh cookie; null without one. Resolved once per request.
 */
export function browserSession(c: Context<AppEnv>): Promise<BrowserSession | null> {
  let session = resolved.get(c.req.raw);
  if (!session) {
    session = resolve(c);
    resolved.set(c.req.raw, session);
  }
  return session;
}

/** True when the request carries the session's CSRF token (header or `_csrf` form field). */
export function hasCsrfToken(session: BrowserSession, given: string | undefined): boolean {
  return given !== undefined && safeEqual(given, session.csrf);
}

/** The answer to a state-changing request without its session's CSRF token. */
export function csrfRefused(): ApiError {
  return new ApiError(
    "forbidden",
    `The CSRF token is missing or invalid: a signed-in page sends it in ${csrfHeader}`,
  );
}

/**
 * Lets the pages' scripts call /api with the session cookie (mounted before `authenticate`): a
 * request without an Authorization or X-API-Key header is authenticated by its browser session,
 * and a state-changing one only with the session's CSRF token in `X-CSRF-Token` (403 otherwise),
 * so another site cannot make a signed-in browser change anything. Bearer tokens and API keys
 * work as before, and a cookie is ignored beside them.
 */
export const cookieCredentials = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.header("authorization") === undefined && c.req.header("x-api-key") === undefined) {
    const session = getCookie(c, accessCookie) || getCookie(c, refreshCookie)
      ? await browserSession(c)
      : null;
    if (session) {
      if (!safeMethods.has(c.req.method) && !hasCsrfToken(session, c.req.header(csrfHeader))) {
        throw csrfRefused();
      }
      c.set("cookieToken", session.accessToken);
    }
  }
  await next();
});
