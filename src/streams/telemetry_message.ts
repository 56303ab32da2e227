import type { Sample } from "../analytics/samples.ts";

const ranges = {
  power: [0, 3000],
  cadence: [0, 300],
  heartRate: [1, 299],
  speed: [0, 150],
  distance: [0, 1_000_000],
  altitude: [-500, 9000],
} as const;

function metric(value: unknown, [min, max]: readonly [number, number]): number | null {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof n === "number" && Number.isFinite(n) && n >= min && n <= max ? n : null;
}

/**
 * Reads a sample out of an old client's telemetry message (COMPAT): a JSON object with
 * `dataType: "workout_metrics"`, metrics as numbers or null, `timestamp` in epoch ms.
 *
 * Tolerant: anything else (chat, malformed JSON) is not a sample; an out-of-range or
 * non-numeric metric is null; a heart rate of 0 (old clients' "no value") is null; without a
 * usable client timestamp the server time of the entry is used.
 */
export function telemetrySample(message: string, serverTime: number): Sample | null {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return null;
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return null;
  const m = value as Record<string, unknown>;
  if (m.dataType !== "workout_metrics") return null;
  const clientTime = typeof m.timestamp === "string" ? Number(m.timestamp) : m.timestamp;
  const time = typeof clientTime === "number" && Number.isInteger(clientTime) &&
      Math.abs(clientTime - serverTime) < 48 * 3600_000
    ? clientTime
    : serverTime;
  return {
    time,
    power: metric(m.power, ranges.power),
    cadence: metric(m.cadence, ranges.cadence),
    heartRate: metric(m.heartrate ?? m.heartRate, ranges.heartRate),
    speed: metric(m.speed, ranges.speed),
    distance: metric(m.distance, ranges.distance),
    altitude: metric(m.altitude, ranges.altitude),
    lat: null,
    lon: null,
  };
}
