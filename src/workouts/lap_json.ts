import { z } from "@hono/zod-openapi";
import { roundedOrNull } from "../core/precision.ts";
import type { LapRow } from "./lap_queries.ts";

const watts = z.number().nullable().openapi({ description: "W" });
const bpm = z.number().nullable().openapi({ description: "bpm" });
const rpm = z.number().nullable().openapi({ description: "rpm" });

/** One lap of a workout with its own summary. */
export const LapSchema = z
  .object({
    lap: z.number().int().openapi({ description: "1-based, in time order" }),
    startTime: z.string().openapi({ format: "date-time" }),
    endTime: z.string().openapi({
      format: "date-time",
      description: "Just after the lap's last grid second",
    }),
    durationS: z.number().int().openapi({ description: "s, grid seconds of the lap" }),
    movingS: z.number().int().openapi({ description: "s, pauses of 4 s or more excluded" }),
    avgPower: watts,
    maxPower: watts,
    normalizedPower: watts,
    avgHeartRate: bpm,
    maxHeartRate: bpm,
    avgCadence: rpm,
    maxCadence: rpm,
  })
  .openapi("Lap");

/** A stored lap as JSON, rounded (docs/analytics.md, "Precision"). */
export function lapJson(row: LapRow): z.infer<typeof LapSchema> {
  const s = row.summary;
  return {
    lap: row.lapIndex + 1,
    startTime: row.startTime.toISOString(),
    endTime: row.endTime.toISOString(),
    durationS: s.durationS,
    movingS: s.movingS,
    avgPower: roundedOrNull(s.avgPower, "watts"),
    maxPower: roundedOrNull(s.maxPower, "watts"),
    normalizedPower: roundedOrNull(s.normalizedPower, "watts"),
    avgHeartRate: roundedOrNull(s.avgHeartRate, "perMinute"),
    maxHeartRate: roundedOrNull(s.maxHeartRate, "perMinute"),
    avgCadence: roundedOrNull(s.avgCadence, "perMinute"),
    maxCadence: roundedOrNull(s.maxCadence, "perMinute"),
  };
}
