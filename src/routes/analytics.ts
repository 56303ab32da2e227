import { createRoute, z } from "@hono/zod-openapi";
import { requireUser, userIdOf } from "../http/authenticate.ts";
import { createRouter, errors, json, userSecurity } from "../http/openapi.ts";
import { ApiError } from "../core/errors.ts";
import { bestsByBucket, powerCurve } from "../analytics/aggregate_queries.ts";
import {
  addDays,
  addPeriods,
  daysBetween,
  isTimeZone,
  type Period,
  periodStart,
  todayIn,
} from "../analytics/calendar.ts";
import { fitnessSeries } from "../analytics/fitness.ts";
import {
  bestEffortSince,
  dailyTotals,
  ftpHistory,
  recordHistory,
  yearlyBests,
  zoneTotals,
} from "../analytics/history_queries.ts";
import { effortDurations } from "../analytics/durations.ts";
import { heartRateZoneTimes, powerZoneTimes } from "../analytics/zones.ts";

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
    ...errors("validation_failed", "unauthorized"),
  },
});

const curvePoint = z.object({
  duration: z.number().int(),
  watts: z.number(),
  workoutId: z.uuid(),
  startTime: z.string().openapi({ description: "Start of the ride the effort is from (ISO)" }),
});

const curve = createRoute({
  method: "get",
  path: "/power-curve",
  tags,
  summary: "Best average power per standard duration over a range, with the ride it came from",
  description: "With compareFrom and compareTo, also the curve of a second range to compare with.",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    query: z.object({
      ...range,
      compareFrom: z.coerce.date("compareFrom must be a date").optional()
        .openapi({ description: "Start of the comparison range (ISO); needs compareTo" }),
      compareTo: z.coerce.date("compareTo must be a date").optional()
        .openapi({ description: "End of the comparison range (ISO); needs compareFrom" }),
    }),
  },
  responses: {
    200: json(
      z.object({
        curve: z.array(curvePoint),
        compare: z.object({
          from: z.string(),
          to: z.string(),
          curve: z.array(curvePoint),
        }).optional().openapi({ description: "Only with compareFrom and compareTo" }),
      }),
      "Power curve (durations with no ride long enough are left out)",
    ),
    ...errors("validation_failed", "unauthorized"),
  },
});

const timeZone = z.string()
  .refine(isTimeZone, "tz must be an IANA time zone name such as Europe/Berlin")
  .default("UTC")
  .openapi({ description: "The rider's IANA time zone; default UTC", example: "Europe/Berlin" });

const localDate = (name: string) =>
  z.iso.date(`${name} must be a date as YYYY-MM-DD`)
    .refine((d) => d >= "1970-01-01" && d <= "2100-12-31", `${name} must be in 1970-2100`);

const totalsShape = {
  rides: z.number().int(),
  durationS: z.number(),
  movingS: z.number(),
  distanceM: z.number(),
  workKj: z.number(),
  tss: z.number(),
  elevationGainM: z.number(),
};

const maxPeriods = 1000;

const totals = createRoute({
  method: "get",
  path: "/totals",
  tags,
  summary: "Ride count, time, distance, work, TSS and climbing per week, month or year",
  description: "Each ride counts in the period that contains its start in the rider's time zone " +
    "(ISO weeks start on Monday). Every period from the one containing `from` to the one " +
    "containing `to` is listed, empty ones with zeros.",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    query: z.object({
      period: z.enum(["week", "month", "year"]).default("month"),
      from: localDate("from").optional()
        .openapi({
          description: "A local date in the first period; default: 11 periods before to",
        }),
      to: localDate("to").optional()
        .openapi({ description: "A local date in the last period; default: today in tz" }),
      tz: timeZone,
    }),
  },
  responses: {
    200: json(
      z.object({
        period: z.enum(["week", "month", "year"]),
        tz: z.string(),
        totals: z.array(z.object({
          start: z.string().openapi({ description: "First local date of the period" }),
          end: z.string().openapi({ description: "First local date after the period" }),
          ...totalsShape,
        })),
      }),
      "Totals per period, oldest first (sums leave out rides without the value)",
    ),
    ...errors("validation_failed", "unauthorized"),
  },
});

const records = createRoute({
  method: "get",
  path: "/records",
  tags,
  summary: "All-time and per-year bests per duration, and when each record was set",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: { query: z.object({ tz: timeZone }) },
  responses: {
    200: json(
      z.object({
        tz: z.string(),
        allTime: z.array(curvePoint),
        years: z.array(z.object({ year: z.number().int(), bests: z.array(curvePoint) })),
        history: z.array(curvePoint.extend({ previousWatts: z.number().nullable() })),
      }),
      "Bests (on a tie, the earliest ride); history in ride order, each beating the previous best",
    ),
    ...errors("validation_failed", "unauthorized"),
  },
});

const ftp = createRoute({
  method: "get",
  path: "/ftp",
  tags,
  summary: "FTP estimate (95 % of the best 20 minutes in a window) and the recorded FTP history",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    query: z.object({
      window: z.coerce.number("window must be a number of days").int("window must be whole days")
        .min(1, "window must be 1 to 3650 days").max(3650, "window must be 1 to 3650 days")
        .default(90)
        .openapi({ description: "Days back from now; default 90" }),
    }),
  },
  responses: {
    200: json(
      z.object({
        windowDays: z.number().int(),
        since: z.string(),
        estimate: z.object({
          watts: z.number(),
          effort: z.object({ workoutId: z.uuid(), startTime: z.string(), watts: z.number() }),
        }).nullable(),
        history: z.array(z.object({
          ftpWatts: z.number().int(),
          source: z.string(),
          createdAt: z.string(),
        })),
      }),
      "The estimate (null without a 20-minute effort in the window) and the history, newest first",
    ),
    ...errors("validation_failed", "unauthorized"),
  },
});

const maxFitnessDays = 3660;

const fitness = createRoute({
  method: "get",
  path: "/fitness",
  tags,
  summary: "Daily fitness (CTL), fatigue (ATL) and form (TSB) from TSS",
  description:
    "Days are local days in tz. CTL and ATL start from the first ride, whatever from is.",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    query: z.object({
      from: localDate("from").optional()
        .openapi({ description: "First local date; default: 89 days before to" }),
      to: localDate("to").optional()
        .openapi({ description: "Last local date; default: today in tz" }),
      tz: timeZone,
    }),
  },
  responses: {
    200: json(
      z.object({
        tz: z.string(),
        from: z.string(),
        to: z.string(),
        days: z.array(z.object({
          date: z.string(),
          tss: z.number(),
          ctl: z.number(),
          atl: z.number(),
          tsb: z.number(),
        })),
      }),
      "One entry per day from `from` to `to`",
    ),
    ...errors("validation_failed", "unauthorized"),
  },
});

const zoneTime = z.object({
  zone: z.number().int(),
  minPct: z.number(),
  maxPct: z.number().nullable(),
  seconds: z.number(),
});

const zones = createRoute({
  method: "get",
  path: "/zones",
  tags,
  summary: "Time in the 7 power zones and 5 heart-rate zones over the rides in a range",
  description: "Each ride's zone times are those computed when it was archived, with the FTP and " +
    "max heart rate the rider had then; rides archived without them add nothing.",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: { query: z.object(range) },
  responses: {
    200: json(
      z.object({
        from: z.string(),
        to: z.string(),
        rides: z.number().int(),
        power: z.object({
          rides: z.number().int(),
          zones: z.array(zoneTime.extend({ name: z.string() })),
        }),
        heartRate: z.object({ rides: z.number().int(), zones: z.array(zoneTime) }),
      }),
      "Seconds per zone summed over the rides that started in [from, to)",
    ),
    ...errors("validation_failed", "unauthorized"),
  },
});

function badRange(message: string): ApiError {
  return new ApiError("validation_failed", message);
}

function curveJson(points: Awaited<ReturnType<typeof powerCurve>>) {
  return points.map((p) => ({
    duration: p.durationS,
    watts: p.watts,
    workoutId: p.workoutId,
    startTime: p.startTime.toISOString(),
  }));
}

/** The first days of the periods from the one containing `from` to the one containing `to`. */
function periodStarts(period: Period, from: string, to: string): string[] {
  const last = periodStart(to, period);
  const starts: string[] = [];
  for (let p = periodStart(from, period); p <= last; p = addPeriods(p, period, 1)) {
    if (starts.length === maxPeriods) {
      throw badRange(`The range spans more than ${maxPeriods} periods`);
    }
    starts.push(p);
  }
  return starts;
}

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
    const q = c.req.valid("query");
    if ((q.compareFrom === undefined) !== (q.compareTo === undefined)) {
      throw badRange("compareFrom and compareTo must be given together");
    }
    const userId = userIdOf(c.var.principal);
    const sql = c.var.deps.sql;
    const compareRange = q.compareFrom && q.compareTo
      ? { from: q.compareFrom, to: q.compareTo }
      : undefined;
    const [points, compared] = await Promise.all([
      powerCurve(sql, { userId, ...resolveRange(q) }),
      compareRange ? powerCurve(sql, { userId, ...compareRange }) : undefined,
    ]);
    return c.json({
      curve: curveJson(points),
      ...(compareRange && compared
        ? {
          compare: {
            from: compareRange.from.toISOString(),
            to: compareRange.to.toISOString(),
            curve: curveJson(compared),
          },
        }
        : {}),
    }, 200);
  });

  app.openapi(totals, async (c) => {
    const q = c.req.valid("query");
    const to = q.to ?? todayIn(q.tz);
    const from = q.from ?? addPeriods(periodStart(to, q.period), q.period, -11);
    if (from > to) throw badRange("from must not be after to");
    const starts = periodStarts(q.period, from, to);
    const end = addPeriods(starts[starts.length - 1], q.period, 1);
    const rows = await dailyTotals(c.var.deps.sql, {
      userId: userIdOf(c.var.principal),
      timeZone: q.tz,
      from: starts[0],
      to: addDays(end, -1),
      period: q.period,
    });
    const byStart = new Map(rows.map((row) => [row.date, row]));
    const totals = starts.map((start) => {
      const row = byStart.get(start);
      return {
        start,
        end: addPeriods(start, q.period, 1),
        rides: row?.rides ?? 0,
        durationS: row?.durationS ?? 0,
        movingS: row?.movingS ?? 0,
        distanceM: row?.distanceM ?? 0,
        workKj: row?.workKj ?? 0,
        tss: row?.tss ?? 0,
        elevationGainM: row?.elevationGainM ?? 0,
      };
    });
    return c.json({ period: q.period, tz: q.tz, totals }, 200);
  });

  app.openapi(records, async (c) => {
    const { tz } = c.req.valid("query");
    const userId = userIdOf(c.var.principal);
    const sql = c.var.deps.sql;
    const [history, years] = await Promise.all([
      recordHistory(sql, userId),
      yearlyBests(sql, { userId, timeZone: tz }),
    ]);
    const allTime = new Map<number, (typeof history)[number]>();
    for (const record of history) allTime.set(record.durationS, record);
    const byYear = new Map<number, typeof years>();
    for (const best of years) {
      const list = byYear.get(best.year) ?? [];
      list.push(best);
      byYear.set(best.year, list);
    }
    const chronological = [...history].sort((a, b) =>
      a.startTime.getTime() - b.startTime.getTime() || a.durationS - b.durationS
    );
    return c.json({
      tz,
      allTime: curveJson([...allTime.values()]),
      years: [...byYear].map(([year, bests]) => ({ year, bests: curveJson(bests) })),
      history: chronological.map((r) => ({
        duration: r.durationS,
        watts: r.watts,
        previousWatts: r.previousWatts,
        workoutId: r.workoutId,
        startTime: r.startTime.toISOString(),
      })),
    }, 200);
  });

  app.openapi(ftp, async (c) => {
    const { window } = c.req.valid("query");
    const userId = userIdOf(c.var.principal);
    const sql = c.var.deps.sql;
    const since = new Date(Date.now() - window * 86_400_000);
    const [best, history] = await Promise.all([
      bestEffortSince(sql, { userId, durationS: 1200, since }),
      ftpHistory(sql, userId),
    ]);
    return c.json({
      windowDays: window,
      since: since.toISOString(),
      estimate: best
        ? {
          watts: 0.95 * best.watts,
          effort: {
            workoutId: best.workoutId,
            startTime: best.startTime.toISOString(),
            watts: best.watts,
          },
        }
        : null,
      history: history.map((h) => ({
        ftpWatts: h.ftpWatts,
        source: h.source,
        createdAt: h.createdAt.toISOString(),
      })),
    }, 200);
  });

  app.openapi(fitness, async (c) => {
    const q = c.req.valid("query");
    const to = q.to ?? todayIn(q.tz);
    const from = q.from ?? addDays(to, -89);
    if (from > to) throw badRange("from must not be after to");
    if (daysBetween(from, to) >= maxFitnessDays) {
      throw badRange(`The range spans more than ${maxFitnessDays} days`);
    }
    const days = await dailyTotals(c.var.deps.sql, {
      userId: userIdOf(c.var.principal),
      timeZone: q.tz,
      to,
    });
    return c.json({
      tz: q.tz,
      from,
      to,
      days: fitnessSeries(days.map((d) => ({ date: d.date, tss: d.tss })), { from, to }),
    }, 200);
  });

  app.openapi(zones, async (c) => {
    const { from, to } = resolveRange(c.req.valid("query"));
    const sums = await zoneTotals(c.var.deps.sql, {
      userId: userIdOf(c.var.principal),
      from,
      to,
    });
    return c.json({
      from: from.toISOString(),
      to: to.toISOString(),
      rides: sums.rides,
      power: {
        rides: sums.powerZoneRides,
        zones: powerZoneTimes(sums.powerZoneSeconds).map((z) => ({ ...z })),
      },
      heartRate: {
        rides: sums.heartRateZoneRides,
        zones: heartRateZoneTimes(sums.heartRateZoneSeconds).map((z) => ({ ...z })),
      },
    }, 200);
  });

  return app;
}
