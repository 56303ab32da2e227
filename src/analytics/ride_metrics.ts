// The per-ride metrics riders compare (docs/analytics.md, "Ride metrics"): Variability Index,
// Efficiency Factor, aerobic decoupling (Pw:HR), Banister TRIMP and LTHR heart-rate zones. Pure:
// no I/O, values exact (never rounded).

import type { Grid } from "./grid.ts";

/** Friel's cycling heart-rate zones in % of LTHR: a second is in the lowest zone whose `maxPct` > its %. */
export const lthrZones = [
  { zone: 1, name: "1", minPct: 0, maxPct: 81 },
  { zone: 2, name: "2", minPct: 81, maxPct: 90 },
  { zone: 3, name: "3", minPct: 90, maxPct: 94 },
  { zone: 4, name: "4", minPct: 94, maxPct: 100 },
  { zone: 5, name: "5a", minPct: 100, maxPct: 103 },
  { zone: 6, name: "5b", minPct: 103, maxPct: 107 },
  { zone: 7, name: "5c", minPct: 107, maxPct: null },
] as const;

/** Time spent in one LTHR zone. */
export type LthrZoneTime = {
  zone: number;
  name: string;
  minPct: number;
  maxPct: number | null;
  seconds: number;
};

/** The heart-rate settings the ride metrics use (bpm), when known. */
export type HeartRateSettings = {
  maxHr: number | null;
  restingHr: number | null;
  lthr: number | null;
};

/** Metrics of one ride beyond the averages. */
export type RideMetrics = {
  /** NP / average power; null without NP or with an average of 0 W. */
  variabilityIndex: number | null;
  /** NP / average heart rate (W/bpm); null without NP or heart rate. */
  efficiencyFactor: number | null;
  /** Pw:HR decoupling in %: (r1 − r2) / r1 × 100; null with fewer than 2 paired seconds. */
  decouplingPct: number | null;
  /** Banister TRIMP; null without resting and max HR (rest < max) or without heart rate. */
  trimp: number | null;
  /** Seconds per LTHR zone; null without LTHR. */
  lthrZones: LthrZoneTime[] | null;
};

/** The LTHR zone (1..7) of a heart rate: upper bounds exclusive (exactly 81 % is zone 2). */
export function lthrZone(bpm: number, lthr: number): number {
  const scaled = bpm * 100;
  for (let z = 0; z < lthrZones.length - 1; z++) {
    if (scaled < (lthrZones[z].maxPct as number) * lthr) return z + 1;
  }
  return lthrZones.length;
}

/**
 * VI, EF, decoupling, TRIMP and LTHR zones of a grid, given its NP, average power and average
 * heart rate (as the summary computed them) and the rider's heart-rate settings.
 */
export function rideMetrics(
  grid: Grid,
  figures: { np: number | null; avgPower: number | null; avgHeartRate: number | null },
  hr: HeartRateSettings,
): RideMetrics {
  const { elapsedS, moving, power, heartRate } = grid;
  const { np, avgPower, avgHeartRate } = figures;
  const trimpOk = hr.restingHr !== null && hr.maxHr !== null && hr.restingHr < hr.maxHr;
  let trimp = 0;
  let hrSeconds = 0;
  let paired = 0;
  const zoneSeconds = new Float64Array(lthrZones.length);
  for (let i = 0; i < elapsedS; i++) {
    if (!moving[i]) continue;
    const h = heartRate[i];
    if (h !== h) continue;
    hrSeconds++;
    if (power[i] === power[i]) paired++;
    if (hr.lthr !== null) zoneSeconds[lthrZone(h, hr.lthr) - 1]++;
    if (trimpOk) {
      // A heart rate below the resting one adds nothing (no negative load).
      const r = Math.max(0, (h - hr.restingHr!) / (hr.maxHr! - hr.restingHr!));
      trimp += (1 / 60) * r * 0.64 * Math.exp(1.92 * r);
    }
  }
  return {
    variabilityIndex: np !== null && avgPower ? np / avgPower : null,
    efficiencyFactor: np !== null && avgHeartRate ? np / avgHeartRate : null,
    decouplingPct: decoupling(grid, paired),
    trimp: trimpOk && hrSeconds > 0 ? trimp : null,
    lthrZones: hr.lthr !== null
      ? lthrZones.map((z, i) => ({ ...z, seconds: zoneSeconds[i] }))
      : null,
  };
}

/**
 * Pw:HR over the moving seconds with both power and heart rate, in time order: the first
 * ⌊n/2⌋ and the last ⌊n/2⌋ of them (an odd middle second is in neither half).
 */
function decoupling(grid: Grid, paired: number): number | null {
  const half = Math.floor(paired / 2);
  if (half < 1) return null;
  const { elapsedS, moving, power, heartRate } = grid;
  let k = 0;
  let p1 = 0, h1 = 0, p2 = 0, h2 = 0;
  for (let i = 0; i < elapsedS; i++) {
    const p = power[i];
    const h = heartRate[i];
    if (!moving[i] || p !== p || h !== h) continue;
    if (k < half) {
      p1 += p;
      h1 += h;
    } else if (k >= paired - half) {
      p2 += p;
      h2 += h;
    }
    k++;
  }
  // The halves have equal counts, so the ratios of sums are the ratios of averages.
  if (h1 === 0 || h2 === 0 || p1 === 0) return null;
  const r1 = p1 / h1;
  const r2 = p2 / h2;
  return ((r1 - r2) / r1) * 100;
}
