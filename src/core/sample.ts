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

// A value outside the plausible range is a sensor glitch or an invalid marker (a heart rate of 0
// is the old clients' "no value"), and is dropped (null) rather than stored.
/** A metric read from a file or an old client's message: a finite number in range, else null. */
export function metricValue(field: MetricField, value: unknown): number | null {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n)) return null;
  const [min, max] = metricRanges[field];
  return n >= min && n <= max ? n : null;
}

/** A sample with every metric null. */
export function emptySample(time: number): Sample {
  return {
    time,
    power: null,
    cadence: null,
    heartRate: null,
    speed: null,
    distance: null,
    altitude: null,
    lat: null,
    lon: null,
  };
}
