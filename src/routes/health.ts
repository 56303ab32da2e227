import { createRoute, z } from "@hono/zod-openapi";
import type { Sql } from "../db/client.ts";
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

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["Health"],
  summary: "Liveness and dependency status (public)",
  responses: { 200: json(HealthSchema, "Service status; degraded when a dependency is down") },
});

async function timescale(sql: Sql) {
  const [row] = await sql<{ version: string | null; license: string | null }[]>`
    select
      (select extversion from pg_extension where extname = 'timescaledb') as version,
      current_setting('timescaledb.license', true) as license
  `;
  return row;
}

/** GET /health, as existing clients poll it, plus the TimescaleDB version and licence. */
export function healthRoutes() {
  const app = createRouter();
  app.openapi(health, async (c) => {
    const { sql, live } = c.get("deps");
    const [redisUp, db] = await Promise.all([live.ping(1500), withTimeout(timescale(sql), 1500)]);
    const ok = redisUp && db !== undefined;
    return c.json({
      status: ok ? "ok" as const : "degraded" as const,
      timestamp: new Date().toISOString(),
      redis: redisUp ? "connected" as const : "disconnected" as const,
      database: db ? "connected" as const : "disconnected" as const,
      timescaledb: db?.version ? { version: db.version, license: db.license ?? "unknown" } : null,
    }, 200);
  });
  return app;
}
