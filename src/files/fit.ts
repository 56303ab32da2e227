import { Decoder, Profile, Stream } from "@garmin/fitsdk";
import { fitWriter } from "./fit_writer.ts";
import { emptySample, metricValue, type Sample } from "../core/sample.ts";
import { corruptFile, type ParsedRide, type RideMeta, round } from "./ride_file.ts";

const semicircleDegrees = 180 / 2 ** 31;

/** True when the bytes start with a FIT file header (size 12 or 14, ".FIT" at offset 8). */
export function looksLikeFit(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && (bytes[0] === 12 || bytes[0] === 14) &&
    bytes[8] === 0x2e && bytes[9] === 0x46 && bytes[10] === 0x49 && bytes[11] === 0x54;
}

type FitRecord = {
  timestamp?: unknown;
  power?: number;
  cadence?: number;
  heartRate?: number;
  speed?: number;
  enhancedSpeed?: number;
  distance?: number;
  altitude?: number;
  enhancedAltitude?: number;
  positionLat?: number;
  positionLong?: number;
};

/**
 * Reads a FIT activity with Garmin's SDK: the file's CRC must hold; every `record` message with a
 * timestamp becomes a sample (one with no values too), in file order. Speed (m/s) becomes km/h
 * to 4 decimals, distance and altitude keep 2 decimals (the FIT resolution, without float
 * noise), positions become degrees. The session's sport (else the sport message's) is the sport;
 * each `lap` message's start time is a lap start.
 */
export function parseFit(bytes: Uint8Array): ParsedRide {
  if (!looksLikeFit(bytes)) {
    throw corruptFile("invalid_fit", "FIT file header is missing or invalid");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerSize = bytes[0];
  const dataSize = view.getUint32(4, true);
  if (bytes.length < headerSize + dataSize + 2) {
    throw corruptFile(
      "truncated_fit",
      `FIT file is truncated: its header announces ${headerSize + dataSize + 2} bytes, ` +
        `${bytes.length} arrived`,
    );
  }
  const decoder = new Decoder(Stream.fromByteArray(bytes));
  if (!decoder.checkIntegrity()) {
    throw corruptFile("fit_crc_mismatch", "FIT file fails its CRC integrity check");
  }
  const { messages, errors } = decoder.read({ decodeMemoGlobs: false, includeUnknownData: false });
  if (errors.length > 0) {
    const first = errors[0] instanceof Error ? errors[0].message : String(errors[0]);
    throw corruptFile("invalid_fit", `FIT file could not be decoded: ${first}`);
  }
  const samples: Sample[] = [];
  for (const r of (messages.recordMesgs ?? []) as FitRecord[]) {
    if (!(r.timestamp instanceof Date)) continue;
    const time = r.timestamp.getTime();
    if (!Number.isFinite(time)) continue;
    const sample = emptySample(time);
    sample.power = metricValue("power", r.power);
    sample.cadence = metricValue("cadence", r.cadence);
    sample.heartRate = metricValue("heartRate", r.heartRate);
    const speed = r.enhancedSpeed ?? r.speed;
    sample.speed = metricValue("speed", typeof speed === "number" ? round(speed * 3.6, 4) : null);
    sample.distance = metricValue(
      "distance",
      typeof r.distance === "number" ? round(r.distance, 2) : null,
    );
    const altitude = r.enhancedAltitude ?? r.altitude;
    sample.altitude = metricValue(
      "altitude",
      typeof altitude === "number" ? round(altitude, 2) : null,
    );
    if (typeof r.positionLat === "number" && typeof r.positionLong === "number") {
      sample.lat = metricValue("lat", r.positionLat * semicircleDegrees);
      sample.lon = metricValue("lon", r.positionLong * semicircleDegrees);
      if (sample.lat === null || sample.lon === null) sample.lat = sample.lon = null;
    }
    samples.push(sample);
  }
  const session = (messages.sessionMesgs ?? [])[0] as { sport?: unknown } | undefined;
  const sportMesg = (messages.sportMesgs ?? [])[0] as { sport?: unknown } | undefined;
  const sport = [session?.sport, sportMesg?.sport].find((s) => typeof s === "string") as
    | string
    | undefined;
  const lapStarts = ((messages.lapMesgs ?? []) as { startTime?: unknown }[])
    .map((lap) => lap.startTime instanceof Date ? lap.startTime.getTime() : NaN)
    .filter((ms) => Number.isFinite(ms));
  return { samples, sport: sport ? sport.slice(0, 50) : null, title: null, lapStarts };
}

const fitSports = new Set(Object.values(Profile.types.sport as Record<string, string>));
const { MesgNum } = Profile;

function intOrNull(value: number | null, max: number): number | null {
  return value === null ? null : Math.min(Math.round(value), max);
}

function wholeSecond(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

const recordFields = [
  "timestamp",
  "positionLat",
  "positionLong",
  "power",
  "heartRate",
  "cadence",
  "enhancedSpeed",
  "distance",
  "enhancedAltitude",
] as const;

/**
 * Writes samples as a FIT activity file (file id, timer events, one record per sample, a lap, a
 * session and the activity) that Garmin's SDK decodes without integrity errors. FIT keeps whole
 * seconds, whole watts, bpm and rpm, speed to 1 mm/s, distance to 1 cm and altitude to 0.2 m.
 */
export function writeFit(samples: readonly Sample[], meta: RideMeta): Uint8Array {
  const start = wholeSecond(samples[0]?.time ?? meta.startTime.getTime());
  const end = wholeSecond(samples[samples.length - 1]?.time ?? start.getTime());
  const elapsedS = (end.getTime() - start.getTime()) / 1000;
  const sport = fitSports.has(meta.sport) ? meta.sport : "cycling";
  let distance: number | null = null;
  const fit = fitWriter();
  fit.define(0, MesgNum.FILE_ID, [
    "type",
    "manufacturer",
    "product",
    "serialNumber",
    "timeCreated",
  ]);
  fit.write(0, ["activity", "development", 1, 1, start]);
  fit.define(1, MesgNum.EVENT, ["timestamp", "event", "eventType", "eventGroup"]);
  fit.write(1, [start, "timer", "start", 0]);
  fit.define(2, MesgNum.RECORD, recordFields);
  for (const s of samples) {
    if (s.distance !== null) distance = Math.max(distance ?? 0, s.distance);
    const hasPosition = s.lat !== null && s.lon !== null;
    fit.write(2, [
      wholeSecond(s.time),
      hasPosition ? Math.round(s.lat! / semicircleDegrees) : null,
      hasPosition ? Math.round(s.lon! / semicircleDegrees) : null,
      intOrNull(s.power, 65_534),
      intOrNull(s.heartRate, 254),
      intOrNull(s.cadence, 254),
      s.speed === null ? null : s.speed / 3.6,
      s.distance,
      s.altitude,
    ]);
  }
  fit.write(1, [end, "timer", "stopAll", 0]);
  const totals = ["timestamp", "startTime", "totalElapsedTime", "totalTimerTime", "totalDistance"];
  const totalValues = [end, start, elapsedS, elapsedS, distance];
  fit.define(3, MesgNum.LAP, [...totals, "sport", "event", "eventType", "messageIndex"]);
  fit.write(3, [...totalValues, sport, "lap", "stop", 0]);
  fit.define(4, MesgNum.SESSION, [
    ...totals,
    "sport",
    "event",
    "eventType",
    "messageIndex",
    "firstLapIndex",
    "numLaps",
  ]);
  fit.write(4, [...totalValues, sport, "session", "stop", 0, 0, 1]);
  fit.define(5, MesgNum.ACTIVITY, [
    "timestamp",
    "totalTimerTime",
    "numSessions",
    "type",
    "event",
    "eventType",
  ]);
  fit.write(5, [end, elapsedS, 1, "manual", "activity", "stop"]);
  return fit.close();
}
