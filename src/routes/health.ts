import { createRoute, type RouteHandler, z } from "@hono/zod-openapi";
import { ApiError } from "../core/errors.ts";
import { timescaleVersion } from "../db/timescale.ts";
import type { AppEnv } from "../http/deps.ts";
import { createRouter, errors, json } from "../http/openapi.ts";
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

const ReadySchema = z
  .object({
    status: z.literal("ready"),
    database: z.literal("up"),
    redis: z.literal("up"),
  })
  .openapi("Ready");

/** GET /ready: 200 when Postgres and Redis both answer, 503 naming the one that does not. */
export const ready = createRoute({
  method: "get",
  path: "/ready",
  operationId: "getReady",
  tags: ["Health"],
  summary: "Readiness for load balancers and orchestrators (public)",
  description: "200 when the database and Redis both answered within a second; otherwise 503 " +
    "`service_unavailable` with `database` and `redis` (`up` or `down`) beside the error. One " +
    "probe of each dependency is in flight per instance at a time: concurrent or repeated " +
    "checks share it, so a fast healthcheck cannot pile queries onto a slow database.",
  responses: {
    200: json(ReadySchema, "Both dependencies answered"),
    ...errors("service_unavailable"),
  },
});

/** How long a readiness probe waits for each dependency. */
const readyTimeoutMs = 1000;
const inFlight = new WeakMap<object, Promise<boolean>>();

/**
 * Whether `check` succeeds within the timeout. While an earlier check of the same dependency is
 * still running (even one whose caller already gave up), callers wait on it instead of sending
 * another query or command.
 */
function probe(key: object, check: () => Promise<unknown>): Promise<boolean> {
  let pending = inFlight.get(key);
  if (!pending) {
    pending = check().then(() => true, () => false).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return withTimeout(pending, readyTimeoutMs).then((up) => up === true);
}

/** GET /ready: `select 1` on the pool and a Redis PING, each given a second, at once. */
export const getReady: RouteHandler<typeof ready, AppEnv> = async (c) => {
  const { sql, live } = c.var.deps;
  const [database, redis] = await Promise.all([
    probe(sql, () => sql`select 1`),
    probe(live, async () => {
      if (!(await live.ping(readyTimeoutMs))) throw new Error("Redis did not answer PING");
    }),
  ]);
  c.header("cache-control", "no-store");
  if (!database || !redis) {
    const down = [!database && "the database", !redis && "Redis"].filter(Boolean).join(" and ");
    throw new ApiError("service_unavailable", `Not ready: ${down} did not answer`, {
      extra: { database: database ? "up" : "down", redis: redis ? "up" : "down" },
      headers: { "Retry-After": "5" },
    });
  }
  return c.json({ status: "ready" as const, database: "up" as const, redis: "up" as const }, 200);
};

/**
 * GET /health, as existing clients poll it, plus the TimescaleDB version and licence; and
 * GET /ready, the readiness check that fails while a dependency is down.
 */
export function healthRoutes() {
  const app = createRouter();
  app.openapi(health, getHealth);
  app.openapi(ready, getReady);
  return app;
}
