import { Hono } from "hono";
import { ApiError } from "../core/errors.ts";
import { contentType, scrape } from "../core/metrics.ts";
import { safeEqual } from "../core/secrets.ts";
import type { AppEnv } from "../http/deps.ts";
import { errorResponse } from "../http/error_response.ts";

/**
 * `GET /metrics` in the Prometheus text format (src/core/metrics.ts). With a token, the scraper
 * sends `Authorization: Bearer <METRICS_TOKEN>`; anything else answers 401. Not in the OpenAPI
 * document: it is for the operator's scraper, not for clients.
 */
export function metricsRoutes(token: string | undefined) {
  const app = new Hono<AppEnv>();
  app.get("/metrics", async (c) => {
    if (token !== undefined) {
      const given = /^Bearer (.+)$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "";
      if (!safeEqual(given, token)) {
        return errorResponse(
          c,
          new ApiError("unauthorized", "Send the metrics token as a Bearer credential", {
            headers: { "WWW-Authenticate": 'Bearer realm="metrics"' },
          }),
        );
      }
    }
    return c.body(await scrape(), 200, {
      "Content-Type": contentType,
      "Cache-Control": "no-store",
    });
  });
  return app;
}

/**
 * The app of the separate metrics listener (`METRICS_PORT`): only `GET /metrics`, with the token
 * when one is set too; every other path is a 404.
 */
export function metricsApp(token: string | undefined) {
  const app = new Hono<AppEnv>();
  app.route("/", metricsRoutes(token));
  app.notFound((c) => errorResponse(c, new ApiError("not_found", "Only /metrics is served here")));
  return app;
}
