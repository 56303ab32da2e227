import { emptySample, metricValue, type Sample } from "../core/sample.ts";
import { ApiError } from "../core/errors.ts";
import { corruptFile, type ParsedRide, type RideMeta, round, xmlEscape } from "./ride_file.ts";
import { scanXml } from "./xml.ts";

// Strava writes <type> as its activity type number.
const stravaTypes: Record<string, string> = {
  "1": "cycling",
  "9": "running",
  "10": "walking",
  "4": "hiking",
};

function gpxSport(type: string | null): string | null {
  if (!type) return null;
  const lower = type.toLowerCase();
  if (stravaTypes[lower]) return stravaTypes[lower];
  if (/^(ride|cycling|biking|road_biking|virtualride)$/.test(lower)) return "cycling";
  return /^\d+$/.test(lower) ? null : lower.slice(0, 50);
}

/**
 * Reads a GPX 1.0/1.1 track: every `trkpt` with a `time` is a sample with its position and
 * `ele`; power from `<power>` in `<extensions>` (as Strava writes it), a Garmin
 * `PowerExtension`'s `PowerInWatts` or a TrackPointExtension's `power`; heart rate, cadence and
 * (v2) speed (m/s) from Garmin's TrackPointExtension. GPX carries no distance. The first
 * track's `name` (else the metadata's) is the title, its `type` the sport.
 */
export function parseGpx(body: string): ParsedRide {
  const scan = scanXml(body, "GPX", { point: "trkpt" });
  if (scan.root !== "gpx") throw corruptFile("invalid_gpx", "GPX file has no <gpx> root element");
  const samples: Sample[] = [];
  for (const { attributes, values } of scan.points) {
    const when = values.get("time");
    const time = when ? Date.parse(when) : NaN;
    if (!Number.isFinite(time)) continue;
    const sample = emptySample(time);
    sample.lat = metricValue("lat", attributes.lat);
    sample.lon = metricValue("lon", attributes.lon);
    if (sample.lat === null || sample.lon === null) sample.lat = sample.lon = null;
    sample.altitude = metricValue("altitude", values.get("ele"));
    sample.power = metricValue("power", values.get("power") ?? values.get("PowerInWatts"));
    sample.heartRate = metricValue("heartRate", values.get("hr"));
    sample.cadence = metricValue("cadence", values.get("cad"));
    const speed = values.get("speed");
    sample.speed = metricValue("speed", speed === undefined ? null : round(Number(speed) * 3.6, 6));
    samples.push(sample);
  }
  const name = scan.text.get("gpx/trk/name") ?? scan.text.get("gpx/metadata/name");
  return {
    samples,
    sport: gpxSport(scan.text.get("gpx/trk/type") ?? null),
    title: name ? name.slice(0, 200) : null,
  };
}

function num(value: number | null): string | null {
  return value === null ? null : String(value);
}

/**
 * Writes samples as a GPX 1.1 track with power as `<power>` (Strava's layout) and heart rate and
 * cadence in Garmin's TrackPointExtension v1. GPX needs a position on every point: a sample
 * without one takes the nearest earlier (else later) position; a ride with none at all is a 422.
 * Speed and distance are not written (GPX has no place for them).
 */
export function writeGpx(samples: readonly Sample[], meta: RideMeta): string {
  const firstFix = samples.find((s) => s.lat !== null && s.lon !== null);
  if (!firstFix) {
    throw new ApiError(
      "no_positions",
      "This workout has no positions; GPX needs them (export TCX, FIT or CSV instead)",
    );
  }
  let lat = firstFix.lat!;
  let lon = firstFix.lon!;
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<gpx version="1.1" creator="Bike Power Tracker" ' +
    'xmlns="http://www.topografix.com/GPX/1/1" ' +
    'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">',
    ` <metadata><time>${meta.startTime.toISOString()}</time></metadata>`,
    " <trk>",
  ];
  if (meta.title) out.push(`  <name>${xmlEscape(meta.title)}</name>`);
  out.push(`  <type>${xmlEscape(meta.sport)}</type>`, "  <trkseg>");
  for (const s of samples) {
    if (s.lat !== null && s.lon !== null) {
      lat = s.lat;
      lon = s.lon;
    }
    let pt = `   <trkpt lat="${lat}" lon="${lon}">`;
    if (s.altitude !== null) pt += `<ele>${s.altitude}</ele>`;
    pt += `<time>${new Date(s.time).toISOString()}</time>`;
    const hr = num(s.heartRate);
    const cad = num(s.cadence);
    if (s.power !== null || hr !== null || cad !== null) {
      pt += "<extensions>";
      if (s.power !== null) pt += `<power>${s.power}</power>`;
      if (hr !== null || cad !== null) {
        pt += "<gpxtpx:TrackPointExtension>";
        if (hr !== null) pt += `<gpxtpx:hr>${hr}</gpxtpx:hr>`;
        if (cad !== null) pt += `<gpxtpx:cad>${cad}</gpxtpx:cad>`;
        pt += "</gpxtpx:TrackPointExtension>";
      }
      pt += "</extensions>";
    }
    out.push(pt + "</trkpt>");
  }
  out.push("  </trkseg>", " </trk>", "</gpx>", "");
  return out.join("\n");
}
