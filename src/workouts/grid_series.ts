import { toGrid } from "../analytics/power.ts";
import type { MetricField, Sample } from "../core/sample.ts";

const gridFields = ["power", "cadence", "heartRate", "speed", "distance", "altitude"] as const;

/**
 * Column-oriented series of a ride on its 1-second analytics grid: carried-forward seconds are
 * filled in, paused and missing seconds are null (lat/lon are not on the grid: all null).
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
  for (const field of fields) {
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
