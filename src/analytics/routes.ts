import { createRoute, z } from "@hono/zod-openapi";
import { requireUser, userIdOf } from "../auth/middleware.ts";
import { createRouter, errors, json, userSecurity } from "../http/openapi.ts";
import { bestsByBucket, powerCurve } from "./aggregate_queries.ts";
import { effortDurations } from "./samples.ts";

const tags = ["Analytics"];
const earliest = new Date(Date.UTC(1990, 0, 1));

const range = {
  from: z.coerce.date("from must be a date").optional()
    .openapi({ description: "Start of the range (ISO); default: all history" }),
  to: z.coerce.date("to must be a date").optional()
    .openapi({ description: "End of the range (ISO); default: now" }),
};

function resolveRange(q: { from?: Date; to?: Date }) {
  return { from: q.from ?? earliest, to: q.to ?? new Date() };
}

const bests = createRoute({
  method: "get",
  path: "/bests",
  tags,
  summary: "Best average power for one duration per day, week or month",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    query: z.object({
      duration: z.coerce
        .number()
        .int()
        .refine(
          (d) => (effortDurations as readonly number[]).includes(d),
          `duration must be one of ${effortDurations.join(", ")} seconds`,
        )
        .openapi({ example: 1200 }),
      bucket: z.enum(["day", "week", "month"]).default("month"),
      ...range,
    }),
  },
  responses: {
    200: json(
      z.object({
        duration: z.number().int(),
        bucket: z.enum(["day", "week", "month"]),
        bests: z.array(z.object({ bucket: z.string(), watts: z.number() })),
      }),
      "Bests per bucket (UTC buckets; weeks start on Monday), only buckets with rides",
    ),
    ...errors(400, 401),
  },
});

const curve = createRoute({
  method: "get",
  path: "/power-curve",
  tags,
  summary: "Best average power per standard duration over a range, with the ride it came from",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: { query: z.object(range) },
  responses: {
    200: json(
      z.object({
        curve: z.array(z.object({
          duration: z.number().int(),
          watts: z.number(),
          workoutId: z.uuid(),
          startTime: z.string(),
        })),
      }),
      "Power curve (durations with no ride long enough are left out)",
    ),
    ...errors(400, 401),
  },
});

/** Routes under /api/analytics. */
export function analyticsRoutes() {
  const app = createRouter();

  app.openapi(bests, async (c) => {
    const q = c.req.valid("query");
    const rows = await bestsByBucket(c.var.deps.sql, {
      userId: userIdOf(c.var.principal),
      durationS: q.duration,
      bucket: q.bucket,
      ...resolveRange(q),
    });
    return c.json({
      duration: q.duration,
      bucket: q.bucket,
      bests: rows.map((r) => ({ bucket: r.bucket.toISOString(), watts: r.watts })),
    }, 200);
  });

  app.openapi(curve, async (c) => {
    const rows = await powerCurve(c.var.deps.sql, {
      userId: userIdOf(c.var.principal),
      ...resolveRange(c.req.valid("query")),
    });
    return c.json({
      curve: rows.map((r) => ({
        duration: r.durationS,
        watts: r.watts,
        workoutId: r.workoutId,
        startTime: r.startTime.toISOString(),
      })),
    }, 200);
  });

  return app;
}
