import { emptySample, metricValue, type Sample } from "../core/sample.ts";
import { corruptFile, type ParsedRide, type RideMeta, round, xmlEscape } from "./ride_file.ts";
import { scanXml } from "./xml.ts";

const sports: Record<string, string> = { biking: "cycling", running: "running" };

/**
 * Reads a Garmin Training Center (TCX v2) file: every `Trackpoint` with a `Time` of the first
 * activity is a sample: position, `AltitudeMeters`, `DistanceMeters`, `HeartRateBpm/Value`,
 * `Cadence`, and from the ActivityExtension `TPX`: `Watts` and `Speed` (m/s). The activity's
 * `Sport` (Biking, Running, Other) is the sport, its `Notes` the title; every `Lap`'s `StartTime`
 * is a lap start.
 */
export function parseTcx(body: string): ParsedRide {
  const scan = scanXml(body, "TCX", { point: "Trackpoint", within: "Activity" });
  if (scan.root !== "TrainingCenterDatabase") {
    throw corruptFile("invalid_tcx", "TCX file has no <TrainingCenterDatabase> root element");
  }
  const samples: Sample[] = [];
  for (const { values } of scan.points) {
    const when = values.get("Time");
    const time = when ? Date.parse(when) : NaN;
    if (!Number.isFinite(time)) continue;
    const sample = emptySample(time);
    sample.lat = metricValue("lat", values.get("LatitudeDegrees"));
    sample.lon = metricValue("lon", values.get("LongitudeDegrees"));
    if (sample.lat === null || sample.lon === null) sample.lat = sample.lon = null;
    sample.altitude = metricValue("altitude", values.get("AltitudeMeters"));
    sample.distance = metricValue("distance", values.get("DistanceMeters"));
    sample.heartRate = metricValue("heartRate", values.get("Value"));
    sample.cadence = metricValue("cadence", values.get("Cadence"));
    sample.power = metricValue("power", values.get("Watts"));
    const speed = values.get("Speed");
    sample.speed = metricValue("speed", speed === undefined ? null : round(Number(speed) * 3.6, 6));
    samples.push(sample);
  }
  const activity = "TrainingCenterDatabase/Activities/Activity";
  const sport = scan.attributes.get(activity)?.Sport;
  const notes = scan.text.get(`${activity}/Notes`);
  return {
    samples,
    sport: typeof sport === "string" ? sports[sport.toLowerCase()] ?? sport.toLowerCase() : null,
    title: notes ? notes.slice(0, 200) : null,
    lapStarts: lapStarts(body),
  };
}

/** The `StartTime` attributes of the `<Lap>` elements, in file order (unparseable ones skipped). */
function lapStarts(body: string): number[] {
  const starts: number[] = [];
  for (const m of body.matchAll(/<(?:[\w-]+:)?Lap\b[^>]*?\bStartTime\s*=\s*["']([^"']+)["']/g)) {
    const ms = Date.parse(m[1]);
    if (Number.isFinite(ms)) starts.push(ms);
  }
  return starts;
}

function tcxSport(sport: string): string {
  if (sport === "cycling") return "Biking";
  if (sport === "running") return "Running";
  return "Other";
}

/**
 * Writes samples as one TCX activity with one lap: every sample a Trackpoint with what it has;
 * power and speed (m/s) in the TPX ActivityExtension. Heart rate and cadence are written as
 * given (the schema wants whole numbers; device data already is).
 */
export function writeTcx(samples: readonly Sample[], meta: RideMeta): string {
  const start = new Date(samples[0]?.time ?? meta.startTime.getTime());
  const end = new Date(samples[samples.length - 1]?.time ?? start.getTime());
  let distance = 0;
  for (const s of samples) if (s.distance !== null) distance = Math.max(distance, s.distance);
  const out: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2" ' +
    'xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2">',
    " <Activities>",
    `  <Activity Sport="${tcxSport(meta.sport)}">`,
    `   <Id>${start.toISOString()}</Id>`,
    `   <Lap StartTime="${start.toISOString()}">`,
    `    <TotalTimeSeconds>${(end.getTime() - start.getTime()) / 1000}</TotalTimeSeconds>`,
    `    <DistanceMeters>${distance}</DistanceMeters>`,
    "    <Calories>0</Calories>",
    "    <Intensity>Active</Intensity>",
    "    <TriggerMethod>Manual</TriggerMethod>",
    "    <Track>",
  ];
  for (const s of samples) {
    let tp = `     <Trackpoint><Time>${new Date(s.time).toISOString()}</Time>`;
    if (s.lat !== null && s.lon !== null) {
      tp += `<Position><LatitudeDegrees>${s.lat}</LatitudeDegrees>` +
        `<LongitudeDegrees>${s.lon}</LongitudeDegrees></Position>`;
    }
    if (s.altitude !== null) tp += `<AltitudeMeters>${s.altitude}</AltitudeMeters>`;
    if (s.distance !== null) tp += `<DistanceMeters>${s.distance}</DistanceMeters>`;
    if (s.heartRate !== null) tp += `<HeartRateBpm><Value>${s.heartRate}</Value></HeartRateBpm>`;
    if (s.cadence !== null) tp += `<Cadence>${s.cadence}</Cadence>`;
    if (s.power !== null || s.speed !== null) {
      tp += "<Extensions><ns3:TPX>";
      if (s.speed !== null) tp += `<ns3:Speed>${s.speed / 3.6}</ns3:Speed>`;
      if (s.power !== null) tp += `<ns3:Watts>${s.power}</ns3:Watts>`;
      tp += "</ns3:TPX></Extensions>";
    }
    out.push(tp + "</Trackpoint>");
  }
  out.push("    </Track>", "   </Lap>");
  if (meta.title) out.push(`   <Notes>${xmlEscape(meta.title)}</Notes>`);
  out.push("  </Activity>", " </Activities>", "</TrainingCenterDatabase>", "");
  return out.join("\n");
}
