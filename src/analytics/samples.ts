/** One sensor sample as received: epoch milliseconds and metrics, each null when missing. */
export type Sample = {
  /** Epoch milliseconds. */
  time: number;
  /** Watts. */
  power: number | null;
  /** Revolutions per minute. */
  cadence: number | null;
  /** Beats per minute. */
  heartRate: number | null;
  /** Kilometres per hour. */
  speed: number | null;
  /** Metres from the start of the ride, as the device reports it. */
  distance: number | null;
  /** Metres above sea level. */
  altitude: number | null;
  /** Degrees. */
  lat: number | null;
  /** Degrees. */
  lon: number | null;
};

/** The metric fields of a sample, in storage order. */
export const metricFields = [
  "power",
  "cadence",
  "heartRate",
  "speed",
  "distance",
  "altitude",
  "lat",
  "lon",
] as const;

/** A metric field name. */
export type MetricField = (typeof metricFields)[number];

/** Standard best-effort durations in seconds (DESIGN §7). */
export const effortDurations = [
  1,
  5,
  10,
  15,
  30,
  60,
  120,
  300,
  600,
  1200,
  1800,
  3600,
  5400,
  7200,
] as const;
