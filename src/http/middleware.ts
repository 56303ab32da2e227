import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../deps.ts";

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
