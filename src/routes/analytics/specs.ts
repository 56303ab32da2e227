import { createRoute, z } from "@hono/zod-openapi";
import { errors, json, userSecurity } from "../../http/openapi.ts";
import { signedInErrors } from "../../http/schemas.ts";
import { isTimeZone } from "../../analytics/calendar.ts";
import { effortDurations } from "../../analytics/durations.ts";

const tags = ["Analytics"];

const range = {
  from: z.coerce.date("from must be a date").optional()
    .openapi({ description: "Start of the range (ISO); default: all history" }),
  to: z.coerce.date("to must be a date").optional()
    .openapi({ description: "End of the range (ISO); default: now" }),
};

const timeZone = z.string()
  .refine(isTimeZone, "tz must be an IANA time zone name such as Europe/Berlin")
  .default("UTC")
  .openapi({ description: "The rider's IANA time zone; default UTC", example: "Europe/Berlin" });

/** GET /api/analytics/bests */
export const bests = createRoute({
  method: "get",
  path: "/bests",
  operationId: "getBests",
  tags,
  summary: "Best average power for one duration per day, week or month",
  security: userSecurity,
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
      tz: timeZone,
      ...range,
    }),
  },
  responses: {
    200: json(
      z.object({
        duration: z.number().int(),
        bucket: z.enum(["day", "week", "month"]),
        tz: z.string(),
        bests: z.array(z.object({
          bucket: z.string().openapi({ description: "Instant the local bucket starts (ISO)" }),
          watts: z.number(),
        })),
      }),
      "Bests per local bucket in tz (weeks start on Monday), only buckets with rides",
    ),
    ...errors("validation_failed", ...signedInErrors),
  },
});

const curvePoint = z.object({
  duration: z.number().int(),
  watts: z.number(),
  workoutId: z.uuid(),
  startTime: z.string().openapi({ description: "Start of the ride the effort is from (ISO)" }),
});

const wholeCurvePoint = z.object({
  duration: z.number().int().openapi({ description: "Seconds" }),
  watts: z.number().openapi({ description: "Mean-maximal power, W" }),
  wattsPerKg: z.number().nullable().openapi({
    description: "W/kg with the rider's weight at the ride's start; null without a weight",
  }),
  weightKg: z.number().nullable().openapi({ description: "The weight used, kg" }),
  workoutId: z.uuid(),
  startTime: z.string().openapi({ description: "Start of the ride the effort is from (ISO)" }),
});

/** GET /api/analytics/power-curve */
export const curve = createRoute({
  method: "get",
  path: "/power-curve",
  operationId: "getPowerCurve",
  tags,
  summary: "Best average power per standard duration over a range, with the ride it came from",
  description: "With compareFrom and compareTo, also the curve of a second range to compare with.",
  security: userSecurity,
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
        curve: z.array(curvePoint).openapi({ description: "The standard durations" }),
        points: z.array(wholeCurvePoint).openapi({
          description: "The whole curve: every second 1-1200 s, then every 1 % of the " +
            "duration (d + floor(d/100)) with 1800, 3600, 5400 and 7200 s, up to the longest ride",
        }),
        compare: z.object({
          from: z.string(),
          to: z.string(),
          curve: z.array(curvePoint),
          points: z.array(wholeCurvePoint),
        }).optional().openapi({ description: "Only with compareFrom and compareTo" }),
      }),
      "Power curve (durations with no ride long enough are left out)",
    ),
    ...errors("validation_failed", ...signedInErrors),
  },
});

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

/** GET /api/analytics/totals */
export const totals = createRoute({
  method: "get",
  path: "/totals",
  operationId: "getTotals",
  tags,
  summary: "Ride count, time, distance, work, TSS and climbing per week, month or year",
  description: "Each ride counts in the period that contains its start in the rider's time zone " +
    "(ISO weeks start on Monday). Every period from the one containing `from` to the one " +
    "containing `to` is listed, empty ones with zeros.",
  security: userSecurity,
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
    ...errors("validation_failed", ...signedInErrors),
  },
});

/** GET /api/analytics/records */
export const records = createRoute({
  method: "get",
  path: "/records",
  operationId: "getRecords",
  tags,
  summary: "All-time and per-year bests per duration, and when each record was set",
  security: userSecurity,
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
    ...errors("validation_failed", ...signedInErrors),
  },
});

/** GET /api/analytics/ftp */
export const ftp = createRoute({
  method: "get",
  path: "/ftp",
  operationId: "getFtpEstimate",
  tags,
  summary: "FTP estimate (95 % of the best 20 minutes in a window) and the recorded FTP history",
  security: userSecurity,
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
        estimates: z.array(z.object({
          method: z.enum(["best20min", "criticalPower"]).openapi({
            description: "best20min: 0.95 × the best 20 min; criticalPower: CP of the " +
              "2-parameter model over 180-1200 s of the window's curve",
          }),
          watts: z.number().nullable().openapi({ description: "W; null without enough data" }),
        })),
        history: z.array(z.object({
          ftpWatts: z.number().int(),
          source: z.string(),
          createdAt: z.string(),
        })),
      }),
      "The estimate (null without a 20-minute effort in the window) and the history, newest first",
    ),
    ...errors("validation_failed", ...signedInErrors),
  },
});

/** GET /api/analytics/fitness */
export const fitness = createRoute({
  method: "get",
  path: "/fitness",
  operationId: "getFitness",
  tags,
  summary: "Daily fitness (CTL), fatigue (ATL) and form (TSB) from TSS",
  description:
    "Days are local days in tz. CTL and ATL start from the first ride, whatever from is.",
  security: userSecurity,
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
    ...errors("validation_failed", ...signedInErrors),
  },
});

const zoneTime = z.object({
  zone: z.number().int(),
  minPct: z.number(),
  maxPct: z.number().nullable(),
  seconds: z.number(),
});

/** GET /api/analytics/zones */
export const zones = createRoute({
  method: "get",
  path: "/zones",
  operationId: "getZones",
  tags,
  summary: "Time in the 7 power zones and 5 heart-rate zones over the rides in a range",
  description: "Each ride's zone times are those computed when it was archived, with the FTP and " +
    "max heart rate the rider had then; rides archived without them add nothing.",
  security: userSecurity,
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
    ...errors("validation_failed", ...signedInErrors),
  },
});

const fitDuration = (name: string) =>
  z.coerce.number(`${name} must be a number of seconds`).int(`${name} must be whole seconds`)
    .min(1, `${name} must be 1 to 172800 seconds`).max(
      172800,
      `${name} must be 1 to 172800 seconds`,
    )
    .optional();

/** GET /api/analytics/critical-power */
export const criticalPower = createRoute({
  method: "get",
  path: "/critical-power",
  operationId: "getCriticalPower",
  tags,
  summary: "Critical power and W′ (2-parameter model) fitted on a period's power curve",
  description: "Ordinary least squares of work on time, work(t) = CP·t + W′ with work(t) = t × " +
    "MMP(t), over the period's whole-curve points with minDuration ≤ t ≤ maxDuration (every " +
    "second from 180 to 1200 s by default). 422 not_enough_curve_points with fewer than 3.",
  security: userSecurity,
  request: {
    query: z.object({
      from: z.coerce.date("from must be a date").optional()
        .openapi({ description: "Start of the range (ISO); default: 90 days before to" }),
      to: z.coerce.date("to must be a date").optional()
        .openapi({ description: "End of the range (ISO); default: now" }),
      minDuration: fitDuration("minDuration")
        .openapi({ description: "Shortest duration fitted, s; default 180" }),
      maxDuration: fitDuration("maxDuration")
        .openapi({ description: "Longest duration fitted, s; default 1200" }),
    }),
  },
  responses: {
    200: json(
      z.object({
        from: z.string(),
        to: z.string(),
        minDuration: z.number().int().openapi({ description: "s" }),
        maxDuration: z.number().int().openapi({ description: "s" }),
        cp: z.number().openapi({ description: "Critical power, W (the slope)" }),
        wPrime: z.number().openapi({ description: "W′, J (the intercept)" }),
        rSquared: z.number().openapi({ description: "R² of the fit of work on time" }),
        points: z.number().int().openapi({ description: "Curve points used" }),
        pmax: z.number().nullable().openapi({ description: "Best 1-s power of the period, W" }),
        pmaxEffort: z.object({ workoutId: z.uuid(), startTime: z.string() }).nullable(),
      }),
      "The fitted model",
    ),
    ...errors("validation_failed", "not_enough_curve_points", ...signedInErrors),
  },
});
