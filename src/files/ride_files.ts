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

/** One ride file format: how its bytes are read and how archived samples are written in it. */
export type RideCodec = {
  parse(bytes: Uint8Array): ParsedRide;
  write(samples: readonly Sample[], meta: RideMeta): Uint8Array;
};

function utf8(bytes: Uint8Array, format: RideFormat): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw corruptFile("invalid_encoding", `${format.toUpperCase()} file is not valid UTF-8 text`);
  }
}

/** A codec of a text format from its parse and write functions on strings. */
function textCodec(
  format: RideFormat,
  parse: (text: string) => ParsedRide,
  write: (samples: readonly Sample[], meta: RideMeta) => string,
): RideCodec {
  return {
    parse: (bytes) => parse(utf8(bytes, format)),
    write: (samples, meta) => new TextEncoder().encode(write(samples, meta)),
  };
}

/** Every format the service reads and writes. */
export const rideCodecs: Record<RideFormat, RideCodec> = {
  fit: { parse: parseFit, write: writeFit },
  tcx: textCodec("tcx", parseTcx, writeTcx),
  gpx: textCodec("gpx", parseGpx, writeGpx),
  csv: textCodec("csv", parseCsv, (samples) => writeCsv(samples)),
};

/** Reads a ride file of a known format and checks it against the import limits. */
export function parseRideFile(format: RideFormat, bytes: Uint8Array): ParsedRide {
  if (bytes.length === 0) throw corruptFile("empty_file", "File is empty");
  return checkRide(format, rideCodecs[format].parse(bytes));
}

/** Writes archived samples in a format. */
export function writeRideFile(
  format: RideFormat,
  samples: readonly Sample[],
  meta: RideMeta,
): Uint8Array {
  return rideCodecs[format].write(samples, meta);
}
