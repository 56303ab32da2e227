// Resampling of a ride onto a 1-second grid (DESIGN §7). Pure: no I/O, no clock.

import type { Sample } from "../core/sample.ts";

/** Gaps of at most this many missing seconds carry the previous row forward; longer ones pause. */
export const maxCarriedSeconds = 3;

/** The ride resampled onto a 1-second grid (DESIGN §7). */
export type Grid = {
  /** Epoch ms of the first grid second (first sample time floored to the second); 0 if empty. */
  start: number;
  /** Grid seconds, first and last included (0 for no samples). */
  elapsedS: number;
  /** 1 = moving second (sampled or carried forward), 0 = pause second. */
  moving: Uint8Array;
  /** Watts; NaN where null, missing or paused. */
  power: Float64Array;
  /** Revolutions per minute; NaN where null or paused. */
  cadence: Float64Array;
  /** Beats per minute; NaN where null or paused. */
  heartRate: Float64Array;
  /** Kilometres per hour; NaN where null or paused. */
  speed: Float64Array;
  /** Metres as reported; NaN where null or paused. */
  distance: Float64Array;
  /** Metres above sea level; NaN where null or paused. */
  altitude: Float64Array;
};

/** A grid and which of its seconds hold a sample of their own (1), not a carried or paused row. */
export type Resampled = { grid: Grid; sampled: Uint8Array };

/** Resamples samples (in any order) onto the 1-second grid of DESIGN §7. */
export function toGrid(samples: readonly Sample[]): Grid {
  return resample(samples).grid;
}

/** Like `toGrid`, and also tells which grid seconds were sampled (not carried or paused). */
export function resample(samples: readonly Sample[]): Resampled {
  const n = samples.length;
  let sorted = true;
  for (let i = 0; i < n; i++) {
    const time = samples[i].time;
    if (!Number.isFinite(time)) {
      throw new RangeError(`Sample ${i} has no finite time in epoch milliseconds`);
    }
    if (i > 0 && time < samples[i - 1].time) sorted = false;
  }
  if (n === 0) return { grid: emptyGrid(0, 0), sampled: new Uint8Array(0) };

  // Stable order by time: for equal times the sample given later comes later, so it wins below.
  let order: Uint32Array | null = null;
  if (!sorted) {
    order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => samples[a].time - samples[b].time || a - b);
  }
  const firstSecond = Math.floor(samples[order ? order[0] : 0].time / 1000);
  const lastSecond = Math.floor(samples[order ? order[n - 1] : n - 1].time / 1000);
  const elapsedS = lastSecond - firstSecond + 1;
  const grid = emptyGrid(firstSecond * 1000, elapsedS);
  const sampled = new Uint8Array(elapsedS);
  const { moving, power, cadence, heartRate, speed, distance, altitude } = grid;

  // The last sample of a second overwrites every field of the earlier ones (whole row, nulls too).
  for (let k = 0; k < n; k++) {
    const s = samples[order ? order[k] : k];
    const i = Math.floor(s.time / 1000) - firstSecond;
    sampled[i] = 1;
    power[i] = value(s.power);
    cadence[i] = value(s.cadence);
    heartRate[i] = value(s.heartRate);
    speed[i] = value(s.speed);
    distance[i] = value(s.distance);
    altitude[i] = value(s.altitude);
  }

  // Gaps: carry the previous sampled row into 1..3 missing seconds; 4 or more stay paused (NaN).
  let i = 0;
  while (i < elapsedS) {
    if (sampled[i]) {
      moving[i] = 1;
      i++;
      continue;
    }
    let next = i + 1;
    while (!sampled[next]) next++; // the last grid second is always sampled
    if (next - i <= maxCarriedSeconds) {
      const from = i - 1;
      for (let j = i; j < next; j++) {
        moving[j] = 1;
        power[j] = power[from];
        cadence[j] = cadence[from];
        heartRate[j] = heartRate[from];
        speed[j] = speed[from];
        distance[j] = distance[from];
        altitude[j] = altitude[from];
      }
    }
    i = next;
  }
  return { grid, sampled };
}

/** The number of pauses (gaps of 4 or more missing seconds) in a grid. */
export function countPauses(grid: Grid): number {
  const { moving, elapsedS } = grid;
  let pauses = 0;
  for (let i = 0; i < elapsedS; i++) {
    if (!moving[i] && (i === 0 || moving[i - 1])) pauses++;
  }
  return pauses;
}

/** A metric as a grid value: null, undefined and non-finite numbers become NaN. */
function value(v: number | null | undefined): number {
  return typeof v === "number" && Number.isFinite(v) ? v : NaN;
}

function emptyGrid(start: number, elapsedS: number): Grid {
  return {
    start,
    elapsedS,
    moving: new Uint8Array(elapsedS),
    power: new Float64Array(elapsedS).fill(NaN),
    cadence: new Float64Array(elapsedS).fill(NaN),
    heartRate: new Float64Array(elapsedS).fill(NaN),
    speed: new Float64Array(elapsedS).fill(NaN),
    distance: new Float64Array(elapsedS).fill(NaN),
    altitude: new Float64Array(elapsedS).fill(NaN),
  };
}
