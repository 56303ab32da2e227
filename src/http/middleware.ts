import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import { metrics } from "../core/metrics.ts";
import type { AppEnv } from "./deps.ts";

/**
 * Hono's `requestId` (the caller's `X-Request-Id` when it is 1–255 of `[A-Za-z0-9_=-]`, else a
 * random UUID, as the `requestId` variable and the response header), except that the header is set
 * on the response after the handler: Hono's sets it beforehand through `c.header`, which makes every
 * response copy a prepared Headers object (measured at 20–30 µs of CPU per request in Deno.serve;
 * bench/middleware_bench.ts on 2026-12-02: 8.1 µs against Hono's 10.3 µs per request, 0.79×).
 */
export const requestId = createMiddleware<AppEnv>(async (c, next) => {
  const given = c.req.header("x-request-id");
  const id = given && given.length <= 255 && !/[^\w\-=]/.test(given) ? given : crypto.randomUUID();
  c.set("requestId", id);
  await next();
  c.res.headers.set("X-Request-Id", id);
});

/** Logs one JSON line per request: method, path, status, duration and request id. */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  await next();
  c.get("deps").log.info("request", {
    method: c.req.method,
    path: c.req.path,
    status: c.res.status,
    ms: Math.round((performance.now() - started) * 10) / 10,
    requestId: c.get("requestId"),
  });
});

/** What `corsHeaders` allows: Hono's `cors` options with the origins as a list (`*` for any). */
export type CorsOptions = {
  origins: string[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAge: number;
};

/**
 * CORS with Hono's `cors` answers, at a lower cost per request: preflights go through Hono's
 * middleware itself; every other response gets the same headers after its handler. (Hono's sets
 * them on `c.res` before the handler, which builds a placeholder response on every request and
 * copies it into the real one — about a fifth of a legacy message POST's JavaScript time;
 * bench/middleware_bench.ts on 2026-12-02: 8.0 µs against Hono's 17.5 µs per request, 0.46×.)
 */
export function corsHeaders(options: CorsOptions) {
  const any = options.origins.includes("*");
  const preflight = cors({ ...options, origin: any ? "*" : options.origins });
  const expose = options.exposeHeaders.join(",");
  return createMiddleware<AppEnv>(async (c, next) => {
    if (c.req.method === "OPTIONS") {
      // Hono answers a preflight 204; both old services answered 200, and old clients check for
      // it (COMPAT: "OPTIONS answers 2xx", the upstream tests expect 200). Same headers, no body.
      const answer = await preflight(c, next);
      if (!(answer instanceof Response) || answer.status !== 204) return answer;
      return new Response(null, { status: 200, headers: answer.headers });
    }
    await next();
    const allowed = any
      ? "*"
      : options.origins.includes(c.req.header("origin") ?? "")
      ? c.req.header("origin")!
      : null;
    if (allowed) c.res.headers.set("Access-Control-Allow-Origin", allowed);
    if (expose) c.res.headers.set("Access-Control-Expose-Headers", expose);
    if (!any) c.res.headers.append("Vary", "Origin");
  });
}

/**
 * Hono's `bodyLimit`, except that a request declaring its length (and no transfer encoding) is
 * judged by that header alone, without opening its body stream — the runtime then reads the body
 * in one piece when the handler asks for it (bench/middleware_bench.ts on 2026-12-02: 7.6 µs
 * against Hono's 12.3 µs per JSON POST, 0.62×).
 */
export function declaredBodyLimit(maxSize: number, onError: () => never) {
  const streamed = bodyLimit({ maxSize, onError });
  return createMiddleware<AppEnv>(async (c, next) => {
    const length = c.req.header("content-length");
    if (length === undefined || c.req.header("transfer-encoding") !== undefined) {
      return await streamed(c, next);
    }
    if (!/^\d+$/.test(length) || Number(length) > maxSize) onError();
    await next();
  });
}

/**
 * `Cache-Control: no-store` on every answer that has none of its own (mounted on `/api/*`):
 * answers there carry riders' data or tokens, and errors depend on the credential, so neither a
 * browser nor a shared cache may keep them. SSE keeps its `no-cache, no-transform`.
 */
export const noStore = createMiddleware<AppEnv>(async (c, next) => {
  await next();
  if (!c.res.headers.has("cache-control")) c.res.headers.set("Cache-Control", "no-store");
});

/** The Content-Security-Policy of every answer except the /docs page: nothing may load or frame it. */
export const apiContentSecurityPolicy = { defaultSrc: ["'none'"], frameAncestors: ["'none'"] };

const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/**
 * Counts every request into `bpt_http_request_duration_seconds` by method, route template and
 * status. The template is the path of the last route Hono matched (`/api/workouts/:id`), never the
 * raw path, so the label set stays bounded; a request no route matched (a 404, a 405, a preflight)
 * is `unmatched`, and a method outside the usual ones `OTHER`. Cost (bench/middleware_bench.ts on
 * 2026-12-02, the app's JSON POST through `app.fetch`, machine under load 6–8): +2.2 µs per request
 * (32.8 against 30.6 µs, 1.07×; +4.3 µs in a noisier run), of which about 1.7 µs is Hono's cost of
 * one more middleware layer and ~0.6 µs prom-client's `observe` (caching labelled children was
 * slower: prom-client hashes the labels either way).
 */
export const requestMetrics = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  await next();
  const routes = matchedRoutes(c);
  const last = routes[routes.length - 1];
  const method = c.req.method;
  metrics.httpRequests.observe({
    method: knownMethods.has(method) ? method : "OTHER",
    route: last && last.method !== "ALL" ? last.path : "unmatched",
    status: c.res.status,
  }, (performance.now() - started) / 1000);
});
