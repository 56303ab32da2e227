import type { ErrorCode } from "../core/error_codes.ts";
import type { Sample } from "../core/sample.ts";
import { ApiError } from "../core/errors.ts";
import { maxImportSamples, maxRideSpanMs } from "../core/sample.ts";

/** The ride file formats the service reads and writes. */
export const rideFormats = ["fit", "tcx", "gpx", "csv"] as const;

/** One of the ride file formats. */
export type RideFormat = (typeof rideFormats)[number];

/** What a ride file holds: its samples and, when the file says, the sport, a title and laps. */
export type ParsedRide = {
  samples: Sample[];
  sport: string | null;
  title: string | null;
  /** Lap start times (epoch ms) in file order; absent or empty when the file has none. */
  lapStarts?: number[];
};

/** What an export writes beside the samples. */
export type RideMeta = { title: string | null; sport: string; startTime: Date };

/** The Content-Type each format is served with. */
export const formatContentTypes: Record<RideFormat, string> = {
  fit: "application/vnd.ant.fit",
  tcx: "application/vnd.garmin.tcx+xml",
  gpx: "application/gpx+xml",
  csv: "text/csv; charset=utf-8",
};

/** A 400 for a file that cannot be read as its format. */
export function corruptFile(code: ErrorCode, message: string): ApiError {
  return new ApiError(code, message);
}

const earliest = Date.UTC(1990, 0, 1);

/**
 * Checks the samples of a parsed file against the import limits: at least one, at most
 * `maxImportSamples` (413), times after 1990 and not in the future, spanning at most 48 hours.
 */
export function checkRide(format: RideFormat, ride: ParsedRide): ParsedRide {
  const name = format.toUpperCase();
  const { samples } = ride;
  if (samples.length === 0) {
    throw new ApiError("no_samples", `${name} file holds no samples with a time`);
  }
  if (samples.length > maxImportSamples) {
    throw new ApiError(
      "too_many_samples",
      `${name} file holds ${samples.length} samples; at most ${maxImportSamples} are accepted`,
    );
  }
  let first = Infinity;
  let last = -Infinity;
  for (const s of samples) {
    if (s.time < first) first = s.time;
    if (s.time > last) last = s.time;
  }
  if (first < earliest || last > Date.now() + 24 * 3600_000) {
    throw new ApiError(
      "invalid_time",
      `${name} file has times before 1990 or more than a day in the future`,
    );
  }
  if (last - first > maxRideSpanMs) {
    throw new ApiError("ride_too_long", "Samples of one ride must span at most 48 hours");
  }
  return ride;
}

/** Rounds to `digits` decimals (removes float noise from scaled integer fields). */
export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A title-ish file name stem: the name without folders and extension, or null. */
export function titleFromFilename(filename: string | null): string | null {
  if (!filename) return null;
  const base = filename.split(/[\\/]/).pop() ?? "";
  const stem = base.replace(/\.[A-Za-z0-9]{1,8}$/, "").trim();
  return stem ? stem.slice(0, 200) : null;
}

/** A file name safe for Content-Disposition: ASCII letters, digits, `-` and `_`, then `.format`. */
export function safeFilename(stem: string, format: RideFormat): string {
  const clean = stem
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .replace(/[^A-Za-z0-9-]+/g, "_")
    .slice(0, 80)
    .replace(/^_+|_+$/g, "");
  return `${clean || "workout"}.${format}`;
}

/** Escapes text for XML content and attributes. */
export function xmlEscape(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (ch) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[ch]!,
  );
}
