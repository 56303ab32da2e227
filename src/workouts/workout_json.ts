import { z } from "@hono/zod-openapi";
import type { WorkoutSummary } from "../analytics/power.ts";
import { roundedOrNull } from "../core/precision.ts";
import type { Sample } from "../core/sample.ts";
import type { WorkoutRow } from "./queries.ts";

const nullableNumber = z.number().nullable();

/** The summary as existing clients read it (COMPAT names), plus this service's additions. */
export const SummarySchema = z
  .object({
    avgPower: nullableNumber,
    maxPower: nullableNumber,
    normalizedPower: nullableNumber,
    avgCadence: nullableNumber,
    maxCadence: nullableNumber,
    avgHeartrate: nullableNumber,
    maxHeartrate: nullableNumber,
    avgSpeed: nullableNumber.openapi({ description: "km/h" }),
    maxSpeed: nullableNumber.openapi({ description: "km/h" }),
    totalDistance: nullableNumber.openapi({ description: "m" }),
    totalElevationGain: nullableNumber.openapi({ description: "m" }),
    totalEnergy: nullableNumber.openapi({ description: "Work in kJ" }),
    sampleCount: z.number().int(),
    elapsedTime: z.number().int().openapi({ description: "s, on the 1-s grid" }),
    movingTime: z.number().int().openapi({ description: "s, pauses of 4 s or more excluded" }),
    workKj: nullableNumber,
    intensityFactor: nullableNumber,
    trainingLoad: nullableNumber.openapi({ description: "TSS, from the FTP at the time" }),
    ftp: nullableNumber,
    powerCurve: z.array(z.object({
      duration: z.number().int().openapi({ description: "s" }),
      watts: nullableNumber,
      startOffsetS: z.number().int().nullable().openapi({
        description: "s from the grid's first second to the start of the best window (the " +
          "earliest on ties); null without an effort or in rides archived before it existed",
      }),
    })),
    powerZones: z
      .array(z.object({
        zone: z.number().int(),
        name: z.string(),
        minPct: z.number(),
        maxPct: nullableNumber,
        seconds: z.number().int(),
      }))
      .nullable(),
    heartRateZones: z
      .array(z.object({
        zone: z.number().int(),
        minPct: z.number(),
        maxPct: nullableNumber,
        seconds: z.number().int(),
      }))
      .nullable(),
    variabilityIndex: nullableNumber.openapi({ description: "NP / average power, a ratio" }),
    efficiencyFactor: nullableNumber.openapi({ description: "NP / average heart rate, W/bpm" }),
    decouplingPct: nullableNumber.openapi({
      description: "Aerobic decoupling Pw:HR, % (positive: power per beat fell in the second half)",
    }),
    trimp: nullableNumber.openapi({
      description: "Banister TRIMP (minutes weighted by heart-rate reserve), from the resting " +
        "and max HR at the time",
    }),
    restingHr: nullableNumber.openapi({ description: "bpm, the resting HR TRIMP used" }),
    maxHr: nullableNumber.openapi({ description: "bpm, the max HR the zones and TRIMP used" }),
    lthr: nullableNumber.openapi({ description: "bpm, the LTHR the LTHR zones used" }),
    lthrZones: z
      .array(z.object({
        zone: z.number().int(),
        name: z.string(),
        minPct: z.number().openapi({ description: "% of LTHR, inclusive" }),
        maxPct: nullableNumber.openapi({ description: "% of LTHR, exclusive" }),
        seconds: z.number().int(),
      }))
      .nullable()
      .openapi({ description: "Friel's cycling heart-rate zones, % of LTHR; null without LTHR" }),
    wPrimeBalance: z.object({
      cpWatts: z.number().openapi({ description: "Critical power used, W" }),
      wPrimeJ: z.number().openapi({ description: "W′ used, J" }),
      source: z.enum(["profile", "model"]).openapi({
        description: "profile: the rider's CP and W′ in force at the start; model: fitted on " +
          "the 90 days of rides before it",
      }),
      minJ: z.number().openapi({ description: "Lowest W′ balance, J" }),
      belowZeroS: z.number().int().openapi({ description: "Seconds with W′ balance below 0" }),
    }).nullable().openapi({
      description: "Null when no CP and W′ were in force; absent for rides archived before it",
    }),
    liveDataGap: z.literal(true).openapi({
      description: "Live samples were lost before archiving (the live store lost them mid-ride)",
    }),
  })
  .partial()
  .openapi("WorkoutSummary");

/** A sample as the API returns it. */
export const SampleSchema = z
  .object({
    time: z.string().openapi({ format: "date-time" }),
    power: nullableNumber,
    cadence: nullableNumber,
    heartRate: nullableNumber,
    speed: nullableNumber,
    distance: nullableNumber,
    altitude: nullableNumber,
    lat: nullableNumber,
    lon: nullableNumber,
  })
  .openapi("Sample");

/** A workout in the shape existing clients read (COMPAT). */
export const WorkoutSchema = z
  .object({
    id: z.uuid(),
    userId: z.uuid(),
    streamName: z.string().nullable(),
    title: z.string().nullable(),
    description: z.string().nullable(),
    sport: z.string(),
    startTime: z.string().openapi({ format: "date-time" }),
    endTime: z.string().nullable().openapi({ format: "date-time" }),
    duration: z.number().int().nullable().openapi({ description: "Elapsed seconds" }),
    status: z.enum(["active", "completed"]),
    summary: SummarySchema,
    telemetry: z.array(SampleSchema).nullable(),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Workout");

/** Maps a stored summary to the client-facing one, rounded (docs/analytics.md, "Precision"). */
export function summaryJson(s: Partial<WorkoutSummary>): z.infer<typeof SummarySchema> {
  if (s.elapsedS === undefined) return {};
  const r = roundedOrNull;
  return {
    avgPower: r(s.avgPower, "watts"),
    maxPower: r(s.maxPower, "watts"),
    normalizedPower: r(s.normalizedPower, "watts"),
    avgCadence: r(s.avgCadence, "perMinute"),
    maxCadence: r(s.maxCadence, "perMinute"),
    avgHeartrate: r(s.avgHeartRate, "perMinute"),
    maxHeartrate: r(s.maxHeartRate, "perMinute"),
    avgSpeed: r(s.avgSpeed, "kmh"),
    maxSpeed: r(s.maxSpeed, "kmh"),
    totalDistance: r(s.distanceM, "metres"),
    totalElevationGain: r(s.elevationGainM, "metres"),
    totalEnergy: r(s.workKj, "kj"),
    sampleCount: s.sampleCount ?? 0,
    elapsedTime: s.elapsedS,
    movingTime: s.movingS ?? 0,
    workKj: r(s.workKj, "kj"),
    intensityFactor: r(s.intensityFactor, "ratio"),
    trainingLoad: r(s.tss, "load"),
    ftp: s.ftp ?? null,
    powerCurve: (s.powerCurve ?? []).map((e) => ({
      duration: e.duration,
      watts: r(e.watts, "watts"),
      startOffsetS: e.startOffsetS ?? null,
    })),
    powerZones: s.powerZones ?? null,
    heartRateZones: s.heartRateZones ?? null,
    variabilityIndex: r(s.variabilityIndex, "ratio"),
    efficiencyFactor: r(s.efficiencyFactor, "ratio"),
    decouplingPct: r(s.decouplingPct, "pct"),
    trimp: r(s.trimp, "load"),
    restingHr: s.restingHr ?? null,
    maxHr: s.maxHr ?? null,
    lthr: s.lthr ?? null,
    lthrZones: s.lthrZones ?? null,
    ...(s.wPrimeBalance !== undefined ? { wPrimeBalance: s.wPrimeBalance } : {}),
    ...(s.liveDataGap ? { liveDataGap: true as const } : {}),
  };
}

/** Maps a sample to its API shape. */
export function sampleJson(s: Sample): z.infer<typeof SampleSchema> {
  return { ...s, time: new Date(s.time).toISOString() };
}

/** Serialises a workout row for the API. */
export function workoutJson(
  row: WorkoutRow,
  telemetry: Sample[] | null = null,
): z.infer<typeof WorkoutSchema> {
  return {
    id: row.id,
    userId: row.userId,
    streamName: row.streamName,
    title: row.title,
    description: row.notes,
    sport: row.sport,
    startTime: row.startTime.toISOString(),
    endTime: row.endTime?.toISOString() ?? null,
    duration: row.durationS,
    status: row.status,
    summary: summaryJson(row.summary),
    telemetry: telemetry?.map(sampleJson) ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
