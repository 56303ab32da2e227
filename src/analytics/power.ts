// Power analytics over the 1-second grid (DESIGN §7): mean-maximal power, Normalized Power and the
// workout summary. Pure: no I/O, no clock, values exact (never rounded).

import { type Grid, resample } from "./grid.ts";
import { effortDurations } from "./durations.ts";
import type { Sample } from "../core/sample.ts";
import { type RideMetrics, rideMetrics } from "./ride_metrics.ts";
import {
  heartRateZone,
  heartRateZones,
  type HeartRateZoneTime,
  heartRateZoneTimes,
  powerZone,
  powerZones,
  type PowerZoneTime,
  powerZoneTimes,
} from "./zones.ts";

export { countPauses, type Grid, toGrid } from "./grid.ts";

/** Normalized Power's rolling window, in seconds. */
export const npWindowS = 30;

/**
 * The best average power over one duration; null when the ride is shorter or has no power.
 * `startOffsetS`: where that window starts, in seconds from the grid's first second (the
 * earliest window on ties); null with `watts`. Absent in summaries archived before it existed.
 */
export type Effort = { duration: number; watts: number | null; startOffsetS?: number | null };

/** Everything archived about a finished workout (DESIGN §3 and §7). */
export type WorkoutSummary = {
  /** ISO time of the first sample (exact ms), null for no samples. */
  startTime: string | null;
  /** ISO time of the last sample (exact ms), null for no samples. */
  endTime: string | null;
  elapsedS: number;
  movingS: number;
  /** The number of samples given (before any resampling). */
  sampleCount: number;
  avgPower: number | null;
  maxPower: number | null;
  normalizedPower: number | null;
  intensityFactor: number | null;
  tss: number | null;
  workKj: number | null;
  avgCadence: number | null;
  maxCadence: number | null;
  avgHeartRate: number | null;
  maxHeartRate: number | null;
  avgSpeed: number | null;
  maxSpeed: number | null;
  distanceM: number | null;
  elevationGainM: number | null;
  /** Every `effortDurations` entry, in order. */
  powerCurve: Effort[];
  /** Null without FTP. */
  powerZones: PowerZoneTime[] | null;
  /** Null without max HR. */
  heartRateZones: HeartRateZoneTime[] | null;
  /** The FTP the summary was computed with. */
  ftp: number | null;
  /** The max HR the summary was computed with. */
  maxHr: number | null;
  /** The resting HR TRIMP was computed with. */
  restingHr?: number | null;
  /** The LTHR the LTHR zones were computed with. */
  lthr?: number | null;
  /** W′ balance with the CP and W′ in force at the start (src/analytics/curve.ts); null without. */
  wPrimeBalance?: WPrimeBalanceSummary | null;
  /** Set at archive when live samples were lost (Redis keys vanished mid-ride). */
  liveDataGap?: true;
} & Partial<RideMetrics>;

/** What the summary keeps of a ride's W′ balance. */
export type WPrimeBalanceSummary = {
  /** The critical power used, watts. */
  cpWatts: number;
  /** The W′ used, joules. */
  wPrimeJ: number;
  /** `profile`: the rider's values in force at the start; `model`: fitted on the 90 days before. */
  source: "profile" | "model";
  /** The lowest W′ balance, joules. */
  minJ: number;
  /** Seconds of the grid with W′ balance below 0 J. */
  belowZeroS: number;
};

/** Options of `summarize`: the rider's FTP (watts), max, resting and threshold HR (bpm). */
export type SummarizeOptions = {
  ftp?: number | null;
  maxHr?: number | null;
  restingHr?: number | null;
  lthr?: number | null;
};

/** Mean-maximal power for each duration (seconds) over the whole grid, pauses and nulls as 0 W. */
export function meanMaximalPower(
  grid: Grid,
  durations: readonly number[] = effortDurations,
): Effort[] {
  for (const d of durations) {
    if (!Number.isInteger(d) || d < 1) {
      throw new RangeError(`Duration ${d} is not a positive whole number of seconds`);
    }
  }
  const { elapsedS, power } = grid;
  // Prefix sums with pauses and nulls as 0 W: exact while the sums stay below 2^53.
  const prefix = new Float64Array(elapsedS + 1);
  let hasPower = false;
  for (let i = 0; i < elapsedS; i++) {
    const p = power[i];
    if (p === p) hasPower = true;
    prefix[i + 1] = prefix[i] + (p === p ? p : 0);
  }
  return durations.map((duration) => {
    if (!hasPower || duration > elapsedS) return { duration, watts: null, startOffsetS: null };
    let best = 0;
    let bestSum = prefix[duration];
    for (let i = 1; i + duration <= elapsedS; i++) {
      const sum = prefix[i + duration] - prefix[i];
      if (sum > bestSum) {
        bestSum = sum;
        best = i;
      }
    }
    // The best window summed directly, so fractional watts do not carry prefix-sum rounding.
    let sum = 0;
    for (let i = best; i < best + duration; i++) {
      const p = power[i];
      if (p === p) sum += p;
    }
    return { duration, watts: sum / duration, startOffsetS: best };
  });
}

/** Normalized Power over the moving seconds with power; null for fewer than 30 of them. */
export function normalizedPower(grid: Grid): number | null {
  const { elapsedS, moving, power } = grid;
  let count = 0;
  for (let i = 0; i < elapsedS; i++) if (moving[i] && power[i] === power[i]) count++;
  if (count < npWindowS) return null;
  // Prefix sums of the compact series (moving seconds with power, in order).
  const prefix = new Float64Array(count + 1);
  for (let i = 0, k = 0; i < elapsedS; i++) {
    const p = power[i];
    if (moving[i] && p === p) {
      prefix[k + 1] = prefix[k] + p;
      k++;
    }
  }
  const windows = count - npWindowS + 1;
  let fourth = 0;
  for (let i = 0; i < windows; i++) {
    const mean = (prefix[i + npWindowS] - prefix[i]) / npWindowS;
    const square = mean * mean;
    fourth += square * square;
  }
  // Two square roots are each correctly rounded, so a perfect 4th power gives its exact root.
  return Math.sqrt(Math.sqrt(fourth / windows));
}

/** The summary of a ride: times, averages, maxima, NP, IF, TSS, work, power curve, zones. */
export function summarize(
  samples: readonly Sample[],
  options: SummarizeOptions = {},
): WorkoutSummary {
  const ftp = checkedPositive(options.ftp, "FTP");
  const maxHr = checkedPositive(options.maxHr, "Max heart rate");
  const restingHr = checkedPositive(options.restingHr, "Resting heart rate");
  const lthr = checkedPositive(options.lthr, "Threshold heart rate");
  const { grid, sampled } = resample(samples);
  const { elapsedS, moving, power, cadence, heartRate, speed, altitude } = grid;

  let movingS = 0;
  const powerStat = newStat();
  const cadenceStat = newStat();
  const heartRateStat = newStat();
  const speedStat = newStat();
  const powerZoneSeconds = new Float64Array(powerZones.length);
  const heartRateZoneSeconds = new Float64Array(heartRateZones.length);
  for (let i = 0; i < elapsedS; i++) {
    if (!moving[i]) continue;
    movingS++;
    const p = power[i];
    if (p === p) {
      add(powerStat, p);
      if (ftp !== null) powerZoneSeconds[powerZone(p, ftp) - 1]++;
    }
    const hr = heartRate[i];
    if (hr === hr) {
      add(heartRateStat, hr);
      if (maxHr !== null) heartRateZoneSeconds[heartRateZone(hr, maxHr) - 1]++;
    }
    add(cadenceStat, cadence[i]);
    add(speedStat, speed[i]);
  }

  // Elevation gain over the sampled seconds in order (carried rows only repeat a value).
  let elevationGainM: number | null = null;
  let lastAltitude = NaN;
  for (let i = 0; i < elapsedS; i++) {
    const a = altitude[i];
    if (!sampled[i] || a !== a) continue;
    if (lastAltitude === lastAltitude) {
      elevationGainM = (elevationGainM ?? 0) + (a > lastAltitude ? a - lastAltitude : 0);
    }
    lastAltitude = a;
  }

  // Distance over every sample given, including those another sample of the same second replaced.
  let minDistance = Infinity;
  let maxDistance = -Infinity;
  let firstTime = Infinity;
  let lastTime = -Infinity;
  for (const s of samples) {
    if (s.time < firstTime) firstTime = s.time;
    if (s.time > lastTime) lastTime = s.time;
    const d = s.distance;
    if (typeof d === "number" && Number.isFinite(d)) {
      if (d < minDistance) minDistance = d;
      if (d > maxDistance) maxDistance = d;
    }
  }

  const np = normalizedPower(grid);
  const intensityFactor = np !== null && ftp !== null ? np / ftp : null;
  const avgPower = mean(powerStat);
  const avgHeartRate = mean(heartRateStat);
  return {
    startTime: samples.length ? new Date(firstTime).toISOString() : null,
    endTime: samples.length ? new Date(lastTime).toISOString() : null,
    elapsedS,
    movingS,
    sampleCount: samples.length,
    avgPower,
    maxPower: max(powerStat),
    normalizedPower: np,
    intensityFactor,
    tss: intensityFactor !== null
      ? (movingS / 3600) * intensityFactor * intensityFactor * 100
      : null,
    workKj: powerStat.count ? powerStat.sum / 1000 : null,
    avgCadence: mean(cadenceStat),
    maxCadence: max(cadenceStat),
    avgHeartRate,
    maxHeartRate: max(heartRateStat),
    avgSpeed: mean(speedStat),
    maxSpeed: max(speedStat),
    distanceM: maxDistance >= minDistance ? maxDistance - minDistance : null,
    elevationGainM,
    powerCurve: meanMaximalPower(grid, effortDurations),
    powerZones: ftp !== null ? powerZoneTimes(powerZoneSeconds) : null,
    heartRateZones: maxHr !== null ? heartRateZoneTimes(heartRateZoneSeconds) : null,
    ftp,
    maxHr,
    restingHr,
    lthr,
    ...rideMetrics(grid, { np, avgPower, avgHeartRate }, { maxHr, restingHr, lthr }),
  };
}

type Stat = { count: number; sum: number; max: number };

function newStat(): Stat {
  return { count: 0, sum: 0, max: -Infinity };
}

/** Adds a value to a running statistic; NaN (null) is left out. */
function add(stat: Stat, v: number): void {
  if (v !== v) return;
  stat.count++;
  stat.sum += v;
  if (v > stat.max) stat.max = v;
}

function mean(stat: Stat): number | null {
  return stat.count ? stat.sum / stat.count : null;
}

function max(stat: Stat): number | null {
  return stat.count ? stat.max : null;
}

/** A positive finite option value, or null when absent. */
function checkedPositive(v: number | null | undefined, name: string): number | null {
  if (v === null || v === undefined) return null;
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${name} must be a positive number`);
  return v;
}
