import { createRoute, type RouteHandler, z } from "@hono/zod-openapi";
import { timescaleVersion } from "../db/timescale.ts";
import type { AppEnv } from "../http/deps.ts";
import { createRouter, json } from "../http/openapi.ts";
import { withTimeout } from "../live/store.ts";

const HealthSchema = z
  .object({
    status: z.enum(["ok", "degraded"]),
    timestamp: z.string().openapi({ format: "date-time" }),
    redis: z.enum(["connected", "disconnected"]),
    database: z.enum(["connected", "disconnected", "not configured"]),
    timescaledb: z
      .object({ version: z.string(), license: z.string() })
      .nullable()
      .openapi({ description: "Installed TimescaleDB version and licence (timescale or apache)" }),
  })
  .openapi("Health");

/** GET /health; it answers 200 (degraded when a dependency is down), never an error. */
export const health = createRoute({
  method: "get",
  path: "/health",
  operationId: "getHealth",
  tags: ["Health"],
  summary: "Liveness and dependency status (public)",
  responses: { 200: json(HealthSchema, "Service status; degraded when a dependency is down") },
});

/** GET /health: Redis and database reachability, each given 1.5 s. */
export const getHealth: RouteHandler<typeof health, AppEnv> = async (c) => {
  const { sql, live } = c.var.deps;
  const [redisUp, db] = await Promise.all([
    live.ping(1500),
    withTimeout(timescaleVersion(sql), 1500),
  ]);
  const ok = redisUp && db !== undefined;
  return c.json({
    status: ok ? "ok" as const : "degraded" as const,
    timestamp: new Date().toISOString(),
    redis: redisUp ? "connected" as const : "disconnected" as const,
    database: db ? "connected" as const : "disconnected" as const,
    timescaledb: db?.version ? { version: db.version, license: db.license ?? "unknown" } : null,
  }, 200);
};

/** GET /health, as existing clients poll it, plus the TimescaleDB version and licence. */
export function healthRoutes() {
  const app = createRouter();
  app.openapi(health, getHealth);
  return app;
}
