// Lap summaries over the ride's 1-second grid (docs/analytics.md, "Laps"). Pure, exact values.

import type { Sample } from "../core/sample.ts";
import { type Grid, toGrid } from "./grid.ts";
import { normalizedPower } from "./power.ts";

/** One lap's figures; each null when the lap has no such value. */
export type LapSummary = {
  lapIndex: number;
  /** Epoch ms of the lap's first grid second. */
  start: number;
  /** Epoch ms just after the lap's last grid second. */
  end: number;
  durationS: number;
  movingS: number;
  avgPower: number | null;
  maxPower: number | null;
  normalizedPower: number | null;
  avgHeartRate: number | null;
  maxHeartRate: number | null;
  avgCadence: number | null;
  maxCadence: number | null;
};

/**
 * The laps of a ride from the lap start times of its file: lap i covers the grid seconds from its
 * start (floored to the second) up to the next lap's start, the last one to the end of the grid.
 * Starts are taken in time order, clipped to the grid; a lap with no grid second is dropped.
 */
export function lapSummaries(
  samples: readonly Sample[],
  lapStarts: readonly number[],
): LapSummary[] {
  const grid = toGrid(samples);
  if (grid.elapsedS === 0 || lapStarts.length === 0) return [];
  const firstS = grid.start / 1000;
  const offsets = [...lapStarts]
    .map((ms) => Math.min(Math.max(Math.floor(ms / 1000) - firstS, 0), grid.elapsedS))
    .sort((a, b) => a - b);
  const laps: LapSummary[] = [];
  for (let i = 0; i < offsets.length; i++) {
    const from = offsets[i];
    const to = i + 1 < offsets.length ? offsets[i + 1] : grid.elapsedS;
    if (to <= from) continue;
    laps.push({ lapIndex: laps.length, ...lapFigures(slice(grid, from, to)) });
  }
  return laps;
}

function slice(grid: Grid, from: number, to: number): Grid {
  return {
    start: grid.start + from * 1000,
    elapsedS: to - from,
    moving: grid.moving.subarray(from, to),
    power: grid.power.subarray(from, to),
    cadence: grid.cadence.subarray(from, to),
    heartRate: grid.heartRate.subarray(from, to),
    speed: grid.speed.subarray(from, to),
    distance: grid.distance.subarray(from, to),
    altitude: grid.altitude.subarray(from, to),
  };
}

function lapFigures(g: Grid): Omit<LapSummary, "lapIndex"> {
  let movingS = 0;
  const power = stat();
  const heartRate = stat();
  const cadence = stat();
  for (let i = 0; i < g.elapsedS; i++) {
    if (!g.moving[i]) continue;
    movingS++;
    add(power, g.power[i]);
    add(heartRate, g.heartRate[i]);
    add(cadence, g.cadence[i]);
  }
  return {
    start: g.start,
    end: g.start + g.elapsedS * 1000,
    durationS: g.elapsedS,
    movingS,
    avgPower: avg(power),
    maxPower: max(power),
    normalizedPower: normalizedPower(g),
    avgHeartRate: avg(heartRate),
    maxHeartRate: max(heartRate),
    avgCadence: avg(cadence),
    maxCadence: max(cadence),
  };
}

type Stat = { n: number; sum: number; max: number };
const stat = (): Stat => ({ n: 0, sum: 0, max: -Infinity });
function add(s: Stat, v: number): void {
  if (v !== v) return;
  s.n++;
  s.sum += v;
  if (v > s.max) s.max = v;
}
const avg = (s: Stat) => s.n ? s.sum / s.n : null;
const max = (s: Stat) => s.n ? s.max : null;
