// The whole power-duration curve of a ride and of a period, critical power (2-parameter model)
// and W′ balance (docs/analytics.md). Pure: no I/O, no clock, values exact (never rounded).

import { effortDurations } from "./durations.ts";
import { type Grid, meanMaximalPower } from "./power.ts";

/** Every whole second up to here is a curve point. */
export const everySecondUpToS = 1200;
/** The longest ride the service accepts (48 h): the curve's durations end here. */
export const longestCurveS = 48 * 3600;

/**
 * The durations (seconds) of the whole curve, shortest first: every second from 1 to 1200 s, then
 * steps of 1 % of the duration, rounded down (d → d + ⌊d / 100⌋: 1212, 1224, … s), with the
 * standard durations (1800, 3600, 5400, 7200 s) added, up to 48 h; 1,707 durations in all.
 *
 * Why not every second beyond 20 minutes: measured on a 4 h ride (14,400 s) on this machine, the
 * mean-maximal power at every second takes 277 ms to compute against 42 ms for its 1,457 points here,
 * and a period's curve would reduce ten times the values (~860,000 for five years of months
 * instead of ~87,000), which does not fit the 25 ms target.
 */
export const curveDurations: readonly number[] = (() => {
  const list = new Set<number>();
  for (let d = 1; d <= everySecondUpToS; d++) list.add(d);
  for (let d = everySecondUpToS; d <= longestCurveS; d += Math.floor(d / 100)) list.add(d);
  for (const d of effortDurations) list.add(d);
  return [...list].sort((a, b) => a - b);
})();

/** How many curve durations fit in an elapsed time (the curve's length for that ride). */
export function curveLength(elapsedS: number): number {
  let lo = 0;
  let hi = curveDurations.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (curveDurations[mid] <= elapsedS) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A ride's mean-maximal power at every curve duration up to its elapsed time (pauses and null
 * seconds as 0 W, as for the standard durations); null when the ride has no power at all.
 */
export function rideCurve(grid: Grid): number[] | null {
  const durations = curveDurations.slice(0, curveLength(grid.elapsedS));
  const efforts = meanMaximalPower(grid, durations);
  if (efforts.length === 0 || efforts[0].watts === null) return null;
  return efforts.map((e) => e.watts as number);
}

/** One ride's (or a pre-reduced month's) curve: watts per duration index and which ride had it. */
export type CurvePart = {
  watts: readonly number[];
  /** Per index, the position in `rides` of the ride the watts are from. */
  rideIndex: readonly number[] | null;
  rides: readonly { workoutId: string; startTime: Date }[];
};

/** One point of a period's curve. */
export type PeriodCurvePoint = {
  durationS: number;
  watts: number;
  workoutId: string;
  startTime: Date;
};

/** (start time, workout id) order: whether ride a counts as earlier than ride b. */
function earlier(
  a: { workoutId: string; startTime: Date },
  b: { workoutId: string; startTime: Date },
) {
  const d = a.startTime.getTime() - b.startTime.getTime();
  return d < 0 || (d === 0 && a.workoutId < b.workoutId);
}

/**
 * The element-wise best of curves: per duration the highest watts, on a tie the earlier ride (by
 * start time, then workout id); durations no curve reaches are left out.
 */
export function bestOfCurves(parts: readonly CurvePart[]): PeriodCurvePoint[] {
  let length = 0;
  for (const p of parts) length = Math.max(length, p.watts.length);
  const watts = new Float64Array(length).fill(-1);
  const from: ({ workoutId: string; startTime: Date } | null)[] = new Array(length).fill(null);
  for (const part of parts) {
    const { rideIndex, rides } = part;
    for (let i = 0; i < part.watts.length; i++) {
      const w = part.watts[i];
      const ride = rides[rideIndex ? rideIndex[i] : 0];
      if (w > watts[i] || (w === watts[i] && earlier(ride, from[i]!))) {
        watts[i] = w;
        from[i] = ride;
      }
    }
  }
  return Array.from({ length }, (_, i) => ({
    durationS: curveDurations[i],
    watts: watts[i],
    workoutId: from[i]!.workoutId,
    startTime: from[i]!.startTime,
  }));
}

/** The durations the critical-power model is fitted on, by default (inclusive). */
export const cpFitDefaults = { minS: 180, maxS: 1200 } as const;

/** The 2-parameter critical-power model fitted on a curve. */
export type CriticalPowerFit = {
  /** Critical power, watts: the slope of work on time. */
  cpWatts: number;
  /** W′, joules: the intercept of work on time. */
  wPrimeJ: number;
  /** Coefficient of determination of the fit of work on time. */
  rSquared: number;
  /** How many curve points (durations) the fit used. */
  points: number;
};

/**
 * Ordinary least squares of work on time, work(t) = CP·t + W′ with work(t) = t × MMP(t), over the
 * curve's points whose durations lie in [minS, maxS]; null with fewer than 3 such points.
 */
export function fitCriticalPower(
  curve: readonly { durationS: number; watts: number }[],
  range: { minS: number; maxS: number } = cpFitDefaults,
): CriticalPowerFit | null {
  const used = curve.filter((p) => p.durationS >= range.minS && p.durationS <= range.maxS);
  const n = used.length;
  if (n < 3) return null;
  let meanT = 0;
  let meanW = 0;
  for (const p of used) {
    meanT += p.durationS;
    meanW += p.durationS * p.watts;
  }
  meanT /= n;
  meanW /= n;
  // Centred sums: no cancellation of large squares.
  let stt = 0;
  let stw = 0;
  let sww = 0;
  for (const p of used) {
    const dt = p.durationS - meanT;
    const dw = p.durationS * p.watts - meanW;
    stt += dt * dt;
    stw += dt * dw;
    sww += dw * dw;
  }
  const cpWatts = stw / stt;
  const wPrimeJ = meanW - cpWatts * meanT;
  let sse = 0;
  for (const p of used) {
    const e = p.durationS * p.watts - (cpWatts * p.durationS + wPrimeJ);
    sse += e * e;
  }
  return { cpWatts, wPrimeJ, rSquared: sww === 0 ? 1 : 1 - sse / sww, points: n };
}

/** W′ balance over a ride. */
export type WPrimeBalance = {
  /** Joules at each grid second (after that second). */
  series: Float64Array;
  /** The lowest W′ balance, joules (W′ itself for a ride that never goes above CP). */
  minJ: number;
  /** Grid seconds whose W′ balance is below 0 J. */
  belowZeroS: number;
};

/**
 * W′ balance on the 1-s grid (differential model, Δt = 1 s), starting full at W′: in a second
 * with power P above CP it drops by P − CP; at or below CP it recovers by (CP − P)·(W′ − W′bal)/W′.
 * Pause seconds and null-power seconds count as 0 W.
 */
export function wPrimeBalance(grid: Grid, cpWatts: number, wPrimeJ: number): WPrimeBalance {
  if (!(cpWatts > 0) || !(wPrimeJ > 0)) {
    throw new RangeError("CP and W′ must be positive numbers");
  }
  const { elapsedS, power } = grid;
  const series = new Float64Array(elapsedS);
  let balance = wPrimeJ;
  let minJ = wPrimeJ;
  let belowZeroS = 0;
  for (let i = 0; i < elapsedS; i++) {
    const p = power[i] === power[i] ? power[i] : 0;
    if (p > cpWatts) balance -= p - cpWatts;
    else balance += (cpWatts - p) * (wPrimeJ - balance) / wPrimeJ;
    series[i] = balance;
    if (balance < minJ) minJ = balance;
    if (balance < 0) belowZeroS++;
  }
  return { series, minJ, belowZeroS };
}
