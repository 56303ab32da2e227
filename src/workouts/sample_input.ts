import { z } from "@hono/zod-openapi";
import { maxRideSpanMs, metricRanges, type Sample } from "../core/sample.ts";

const earliest = Date.UTC(1990, 0, 1);
const slackMs = 24 * 3600_000;
const timeMessage = "time must be epoch milliseconds or an ISO 8601 date-time";

function metric(name: string, min: number, max: number, unit: string) {
  return z
    .number({ error: `${name} must be a number or null` })
    .min(min, `${name} must be between ${min} and ${max} ${unit}`)
    .max(max, `${name} must be between ${min} and ${max} ${unit}`)
    .nullish();
}

/** One sample as clients send it; every metric is optional or null. */
export const SampleInputSchema = z
  .object({
    time: z
      .union([
        z.number().int(timeMessage),
        z.iso.datetime({ offset: true, error: timeMessage }),
      ], timeMessage)
      .transform((value) => (typeof value === "number" ? value : Date.parse(value)))
      .refine(
        (ms) => ms >= earliest && ms <= Date.now() + slackMs,
        "time must be after 1990 and not more than a day in the future",
      )
      .openapi({ example: "2026-11-26T07:00:00.000Z" }),
    power: metric("power", ...metricRanges.power, "W"),
    cadence: metric("cadence", ...metricRanges.cadence, "rpm"),
    heartRate: metric("heartRate", ...metricRanges.heartRate, "bpm"),
    speed: metric("speed", ...metricRanges.speed, "km/h"),
    distance: metric("distance", ...metricRanges.distance, "m"),
    altitude: metric("altitude", ...metricRanges.altitude, "m"),
    lat: metric("lat", ...metricRanges.lat, "degrees"),
    lon: metric("lon", ...metricRanges.lon, "degrees"),
  })
  .openapi("SampleInput");

/** Converts a validated input sample to the storage shape (missing metrics become null). */
export function toSample(input: z.output<typeof SampleInputSchema>): Sample {
  return {
    time: input.time,
    power: input.power ?? null,
    cadence: input.cadence ?? null,
    heartRate: input.heartRate ?? null,
    speed: input.speed ?? null,
    distance: input.distance ?? null,
    altitude: input.altitude ?? null,
    lat: input.lat ?? null,
    lon: input.lon ?? null,
  };
}

/** Samples in time order with exact duplicate timestamps collapsed (the one given last wins). */
export function normalizeSamples(samples: readonly Sample[]): Sample[] {
  const byTime = new Map<number, Sample>();
  for (const sample of samples) byTime.set(sample.time, sample);
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}

/** A batch of samples: at least one, at most `max`, spanning at most `maxRideSpanMs`. */
export function sampleBatch(max: number) {
  return z
    .array(SampleInputSchema)
    .min(1, "samples must hold at least one sample")
    .max(max, `samples must hold at most ${max} samples`)
    .refine((samples) => {
      const times = samples.map((s) => s.time);
      return Math.max(...times) - Math.min(...times) <= maxRideSpanMs;
    }, "samples of one ride must span at most 48 hours");
}
