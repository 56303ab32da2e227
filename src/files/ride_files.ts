import type { Sample } from "../core/sample.ts";
import { parseCsv, writeCsv } from "./csv.ts";
import { parseFit, writeFit } from "./fit.ts";
import { parseGpx, writeGpx } from "./gpx.ts";
import {
  checkRide,
  corruptFile,
  type ParsedRide,
  type RideFormat,
  type RideMeta,
} from "./ride_file.ts";
import { parseTcx, writeTcx } from "./tcx.ts";

function utf8(bytes: Uint8Array, format: RideFormat): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw corruptFile("invalid_encoding", `${format.toUpperCase()} file is not valid UTF-8 text`);
  }
}

/** Reads a ride file of a known format and checks it against the import limits. */
export function parseRideFile(format: RideFormat, bytes: Uint8Array): ParsedRide {
  if (bytes.length === 0) throw corruptFile("empty_file", "File is empty");
  const ride = format === "fit"
    ? parseFit(bytes)
    : format === "csv"
    ? parseCsv(utf8(bytes, format))
    : format === "gpx"
    ? parseGpx(utf8(bytes, format))
    : parseTcx(utf8(bytes, format));
  return checkRide(format, ride);
}

/** Writes archived samples in a format. */
export function writeRideFile(
  format: RideFormat,
  samples: readonly Sample[],
  meta: RideMeta,
): Uint8Array {
  if (format === "fit") return writeFit(samples, meta);
  const text = format === "csv"
    ? writeCsv(samples)
    : format === "gpx"
    ? writeGpx(samples, meta)
    : writeTcx(samples, meta);
  return new TextEncoder().encode(text);
}
