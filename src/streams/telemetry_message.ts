import { metricValue, type Sample } from "../core/sample.ts";

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
    power: metricValue("power", m.power),
    cadence: metricValue("cadence", m.cadence),
    heartRate: metricValue("heartRate", m.heartrate ?? m.heartRate),
    speed: metricValue("speed", m.speed),
    distance: metricValue("distance", m.distance),
    altitude: metricValue("altitude", m.altitude),
    lat: null,
    lon: null,
  };
}
