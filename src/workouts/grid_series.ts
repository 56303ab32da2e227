import { toGrid } from "../analytics/power.ts";
import type { MetricField, Sample } from "../core/sample.ts";

const gridFields = ["power", "cadence", "heartRate", "speed", "distance", "altitude"] as const;

/**
 * Column-oriented series of a ride on its 1-second analytics grid: carried-forward seconds are
 * filled in, paused and missing seconds are null. `lat`/`lon` are the position of the second's
 * last sample that has both (null in a second without one: positions are not carried forward).
 */
export function gridSeries(
  samples: readonly Sample[],
  fields: readonly MetricField[],
): Record<string, (string | number | null)[]> {
  const grid = toGrid(samples);
  const series: Record<string, (string | number | null)[]> = {
    time: Array.from(
      { length: grid.elapsedS },
      (_, i) => new Date(grid.start + i * 1000).toISOString(),
    ),
  };
  const positions = fields.includes("lat") || fields.includes("lon")
    ? secondPositions(samples, grid.start, grid.elapsedS)
    : null;
  for (const field of fields) {
    if (positions && (field === "lat" || field === "lon")) {
      series[field] = Array.from(positions[field]);
      continue;
    }
    const values = (gridFields as readonly string[]).includes(field)
      ? grid[field as (typeof gridFields)[number]]
      : undefined;
    series[field] = Array.from(
      { length: grid.elapsedS },
      (_, i) => (values && !Number.isNaN(values[i]) ? values[i] : null),
    );
  }
  return series;
}

/** Per grid second, lat and lon of its last sample (by time, then order) that has both. */
function secondPositions(
  samples: readonly Sample[],
  start: number,
  elapsedS: number,
): { lat: (number | null)[]; lon: (number | null)[] } {
  const lat: (number | null)[] = new Array(elapsedS).fill(null);
  const lon: (number | null)[] = new Array(elapsedS).fill(null);
  const at = new Array<number>(elapsedS).fill(-Infinity);
  for (const s of samples) {
    if (typeof s.lat !== "number" || typeof s.lon !== "number") continue;
    const i = Math.floor(s.time / 1000) - start / 1000;
    // Equal times: the sample given later wins, as on the grid.
    if (s.time >= at[i]) {
      at[i] = s.time;
      lat[i] = s.lat;
      lon[i] = s.lon;
    }
  }
  return { lat, lon };
}
