import { z } from "@hono/zod-openapi";
import type { MetricField, Sample } from "../analytics/samples.ts";

/** Most samples one POST …/samples request may carry (an hour at 1 Hz). */
export const maxBatchSamples = 3600;
/** Most samples one import may carry (24 hours at 1 Hz). */
export const maxImportSamples = 86_400;
/** Longest time one ride may span, first to last sample (the 1-s grid is built over it). */
export const maxRideSpanMs = 48 * 3600_000;

/** The plausible range of each metric (inclusive), as JSON samples are validated and files read. */
export const metricRanges = {
  power: [0, 3000],
  cadence: [0, 300],
  heartRate: [1, 299],
  speed: [0, 150],
  distance: [0, 1_000_000],
  altitude: [-500, 9000],
  lat: [-90, 90],
  lon: [-180, 180],
} as const satisfies Record<MetricField, readonly [number, number]>;

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
