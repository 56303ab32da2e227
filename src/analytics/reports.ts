import { ApiError, invalid } from "../core/errors.ts";
import { rounded, roundedOrNull } from "../core/precision.ts";
import type { Sql } from "../db/client.ts";
import {
  type BestsBucket,
  bestsByBucket,
  powerCurve,
  type PowerCurvePoint,
} from "./aggregate_queries.ts";
import { addDays, addPeriods, daysBetween, type Period, periodStart, todayIn } from "./calendar.ts";
import { fitnessSeries } from "./fitness.ts";
import {
  bestEffortSince,
  dailyTotals,
  dailyTss,
  ftpHistory,
  localBests,
  recordHistory,
  yearlyBests,
  zoneTotals,
} from "./history_queries.ts";
import { heartRateZoneTimes, powerZoneTimes } from "./zones.ts";
import { cpFitDefaults, fitCriticalPower, type PeriodCurvePoint } from "./curve.ts";
import { periodCurve, profileWeight, weightAt, weightHistory } from "./curve_queries.ts";

/** What the analytics reports read. */
export type AnalyticsDeps = { sql: Sql };

/** A range of ride start times; either end may be left open. */
export type TimeRange = { from?: Date; to?: Date };

const earliest = new Date(Date.UTC(1990, 0, 1));
/** Most periods one totals answer lists. */
export const maxPeriods = 1000;
/** Most days one fitness answer lists. */
export const maxFitnessDays = 3660;

function resolveRange(range: TimeRange): { from: Date; to: Date } {
  return { from: range.from ?? earliest, to: range.to ?? new Date() };
}

/** One point of a power curve as JSON. */
export type CurvePointJson = {
  duration: number;
  watts: number;
  workoutId: string;
  startTime: string;
};

function curveJson(points: readonly PowerCurvePoint[]): CurvePointJson[] {
  return points.map((p) => ({
    duration: p.durationS,
    watts: rounded(p.watts, "watts"),
    workoutId: p.workoutId,
    startTime: p.startTime.toISOString(),
  }));
}

/**
 * Best average power for one duration per day, week or month in `tz` (default UTC): UTC buckets
 * from the daily rollup, other zones' local buckets ride by ride.
 */
export async function bestsReport(
  deps: AnalyticsDeps,
  userId: string,
  q: TimeRange & { duration: number; bucket: BestsBucket; tz?: string },
) {
  const tz = q.tz ?? "UTC";
  const range = { userId, durationS: q.duration, ...resolveRange(q) };
  const rows = tz === "UTC"
    ? await bestsByBucket(deps.sql, { ...range, bucket: q.bucket })
    : await localBests(deps.sql, { ...range, unit: q.bucket, timeZone: tz });
  return {
    duration: q.duration,
    bucket: q.bucket,
    tz,
    bests: rows.map((r) => ({ bucket: r.bucket.toISOString(), watts: rounded(r.watts, "watts") })),
  };
}

/** The power curve over a range, and over a second one to compare with when both ends are given. */
export async function powerCurveReport(
  deps: AnalyticsDeps,
  userId: string,
  q: TimeRange & { compareFrom?: Date; compareTo?: Date },
) {
  if ((q.compareFrom === undefined) !== (q.compareTo === undefined)) {
    throw invalid("compareFrom and compareTo must be given together");
  }
  const compareRange = q.compareFrom && q.compareTo
    ? { from: q.compareFrom, to: q.compareTo }
    : undefined;
  const range = resolveRange(q);
  const [points, compared, whole, wholeCompared, weights, fallbackKg] = await Promise.all([
    powerCurve(deps.sql, { userId, ...range }),
    compareRange ? powerCurve(deps.sql, { userId, ...compareRange }) : undefined,
    periodCurve(deps.sql, { userId, ...range }),
    compareRange ? periodCurve(deps.sql, { userId, ...compareRange }) : undefined,
    weightHistory(deps.sql, userId),
    profileWeight(deps.sql, userId),
  ]);
  const perKg = (list: readonly PeriodCurvePoint[]) =>
    list.map((p) => {
      const weightKg = weightAt(weights, p.startTime, fallbackKg);
      return {
        duration: p.durationS,
        watts: p.watts,
        wattsPerKg: weightKg === null ? null : p.watts / weightKg,
        weightKg,
        workoutId: p.workoutId,
        startTime: p.startTime.toISOString(),
      };
    });
  return {
    curve: curveJson(points),
    points: perKg(whole),
    ...(compareRange && compared && wholeCompared
      ? {
        compare: {
          from: compareRange.from.toISOString(),
          to: compareRange.to.toISOString(),
          curve: curveJson(compared),
          points: perKg(wholeCompared),
        },
      }
      : {}),
  };
}

/** The first days of the periods from the one containing `from` to the one containing `to`. */
export function periodStarts(period: Period, from: string, to: string): string[] {
  const last = periodStart(to, period);
  const starts: string[] = [];
  for (let p = periodStart(from, period); p <= last; p = addPeriods(p, period, 1)) {
    if (starts.length === maxPeriods) {
      throw invalid(`The range spans more than ${maxPeriods} periods`);
    }
    starts.push(p);
  }
  return starts;
}

/**
 * Totals per calendar period in the rider's time zone, oldest first, every period from the one
 * containing `from` (default: 11 periods before `to`) to the one containing `to` (default: today
 * in `tz`), empty ones with zeros.
 */
export async function totals(
  deps: AnalyticsDeps,
  userId: string,
  q: { period: Period; tz: string; from?: string; to?: string },
) {
  const to = q.to ?? todayIn(q.tz);
  const from = q.from ?? addPeriods(periodStart(to, q.period), q.period, -11);
  if (from > to) throw invalid("from must not be after to");
  const starts = periodStarts(q.period, from, to);
  const end = addPeriods(starts[starts.length - 1], q.period, 1);
  const rows = await dailyTotals(deps.sql, {
    userId,
    timeZone: q.tz,
    from: starts[0],
    to: addDays(end, -1),
    period: q.period,
  });
  const byStart = new Map(rows.map((row) => [row.date, row]));
  const list = starts.map((start) => {
    const row = byStart.get(start);
    return {
      start,
      end: addPeriods(start, q.period, 1),
      rides: row?.rides ?? 0,
      durationS: row?.durationS ?? 0,
      movingS: row?.movingS ?? 0,
      distanceM: rounded(row?.distanceM ?? 0, "metres"),
      workKj: rounded(row?.workKj ?? 0, "kj"),
      tss: rounded(row?.tss ?? 0, "load"),
      elevationGainM: rounded(row?.elevationGainM ?? 0, "metres"),
    };
  });
  return { period: q.period, tz: q.tz, totals: list };
}

/** All-time and per-year bests per duration, and the history of records in ride order. */
export async function recordsReport(deps: AnalyticsDeps, userId: string, tz: string) {
  const [history, years] = await Promise.all([
    recordHistory(deps.sql, userId),
    yearlyBests(deps.sql, { userId, timeZone: tz }),
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
  return {
    tz,
    allTime: curveJson([...allTime.values()]),
    years: [...byYear].map(([year, bests]) => ({ year, bests: curveJson(bests) })),
    history: chronological.map((r) => ({
      duration: r.durationS,
      watts: rounded(r.watts, "watts"),
      previousWatts: roundedOrNull(r.previousWatts, "watts"),
      workoutId: r.workoutId,
      startTime: r.startTime.toISOString(),
    })),
  };
}

/** Days of rides the critical-power report fits on by default. */
export const cpDefaultDays = 90;

/**
 * The 2-parameter critical-power model fitted on the period's whole curve (default: the last 90
 * days) over the durations [minS, maxS] (default 180-1200 s); 422 with fewer than 3 points.
 */
export async function criticalPowerReport(
  deps: AnalyticsDeps,
  userId: string,
  q: TimeRange & { minDuration?: number; maxDuration?: number },
) {
  const to = q.to ?? new Date();
  const from = q.from ?? new Date(to.getTime() - cpDefaultDays * 86_400_000);
  const minS = q.minDuration ?? cpFitDefaults.minS;
  const maxS = q.maxDuration ?? cpFitDefaults.maxS;
  if (minS > maxS) throw invalid("minDuration must not be above maxDuration");
  const curve = await periodCurve(deps.sql, { userId, from, to });
  const fit = fitCriticalPower(curve, { minS, maxS });
  if (!fit) {
    const have = curve.filter((p) => p.durationS >= minS && p.durationS <= maxS).length;
    throw new ApiError(
      "not_enough_curve_points",
      `Critical power needs at least 3 curve points from ${minS} to ${maxS} s; ` +
        `the rides from ${from.toISOString()} to ${to.toISOString()} give ${have}`,
    );
  }
  const pmax = curve.find((p) => p.durationS === 1);
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    minDuration: minS,
    maxDuration: maxS,
    cp: fit.cpWatts,
    wPrime: fit.wPrimeJ,
    rSquared: fit.rSquared,
    points: fit.points,
    pmax: pmax?.watts ?? null,
    pmaxEffort: pmax
      ? { workoutId: pmax.workoutId, startTime: pmax.startTime.toISOString() }
      : null,
  };
}

/** The FTP estimate (95 % of the best 20 minutes in the last `windowDays`) and the history. */
export async function ftpReport(deps: AnalyticsDeps, userId: string, windowDays: number) {
  const now = new Date();
  const since = new Date(now.getTime() - windowDays * 86_400_000);
  const [best, history, curve] = await Promise.all([
    bestEffortSince(deps.sql, { userId, durationS: 1200, since }),
    ftpHistory(deps.sql, userId),
    periodCurve(deps.sql, { userId, from: since, to: now }),
  ]);
  const fit = fitCriticalPower(curve);
  return {
    windowDays,
    since: since.toISOString(),
    estimate: best
      ? {
        watts: rounded(0.95 * best.watts, "watts"),
        effort: {
          workoutId: best.workoutId,
          startTime: best.startTime.toISOString(),
          watts: rounded(best.watts, "watts"),
        },
      }
      : null,
    // Every method side by side (the first is `estimate`).
    estimates: [
      { method: "best20min" as const, watts: best ? 0.95 * best.watts : null },
      { method: "criticalPower" as const, watts: fit ? fit.cpWatts : null },
    ],
    history: history.map((h) => ({
      ftpWatts: h.ftpWatts,
      source: h.source,
      createdAt: h.createdAt.toISOString(),
    })),
  };
}

/** Daily CTL, ATL and TSB over local days in `tz` (default: the 90 days up to today). */
export async function fitnessReport(
  deps: AnalyticsDeps,
  userId: string,
  q: { tz: string; from?: string; to?: string },
) {
  const to = q.to ?? todayIn(q.tz);
  const from = q.from ?? addDays(to, -89);
  if (from > to) throw invalid("from must not be after to");
  if (daysBetween(from, to) >= maxFitnessDays) {
    throw invalid(`The range spans more than ${maxFitnessDays} days`);
  }
  const days = await dailyTss(deps.sql, { userId, timeZone: q.tz, to });
  return {
    tz: q.tz,
    from,
    to,
    days: fitnessSeries(days, { from, to }).map((d) => ({
      date: d.date,
      tss: rounded(d.tss, "load"),
      ctl: rounded(d.ctl, "load"),
      atl: rounded(d.atl, "load"),
      tsb: rounded(d.tsb, "load"),
    })),
  };
}

/** Seconds per power and heart-rate zone summed over the rides that started in the range. */
export async function zonesReport(deps: AnalyticsDeps, userId: string, range: TimeRange) {
  const { from, to } = resolveRange(range);
  const sums = await zoneTotals(deps.sql, { userId, from, to });
  return {
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
  };
}
