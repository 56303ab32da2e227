// The ride file readers and format detection, without the app: the variants devices and sites
// write, and the malformed inputs each must refuse with a 4xx.

import assert from "node:assert/strict";
import { detectFormat } from "../src/files/detect.ts";
import { parseRideFile } from "../src/files/ride_files.ts";
import { ApiError } from "../src/core/errors.ts";

const text = (s: string) => new TextEncoder().encode(s);

function refused(fn: () => unknown, status: number, code: string) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

Deno.test("GPX power is read from Strava's <power>, Garmin's PowerExtension and TrackPointExtension v2", () => {
  const gpx = `<?xml version="1.0"?>
<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"
  xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v2"
  xmlns:gpxpx="http://www.garmin.com/xmlschemas/PowerExtension/v1">
 <metadata><name><![CDATA[Tom & Jerry's ride]]></name></metadata>
 <trk><type>cycling</type><trkseg>
  <trkpt lat="45.1" lon="6.2"><ele>1200.5</ele><time>2026-06-01T06:00:00Z</time>
   <extensions><power>250</power></extensions></trkpt>
  <trkpt lat="45.1001" lon="6.2001"><time>2026-06-01T06:00:01Z</time>
   <extensions><gpxpx:PowerExtension><gpxpx:PowerInWatts>260</gpxpx:PowerInWatts></gpxpx:PowerExtension></extensions></trkpt>
  <trkpt lat="45.1002" lon="6.2002"><time>2026-06-01T06:00:02.500Z</time>
   <extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>150</gpxtpx:hr><gpxtpx:cad>90</gpxtpx:cad>
   <gpxtpx:speed>10</gpxtpx:speed><gpxtpx:power>270</gpxtpx:power></gpxtpx:TrackPointExtension></extensions></trkpt>
  <trkpt lat="45.1003" lon="6.2003"><ele>1201</ele></trkpt>
 </trkseg></trk>
</gpx>`;
  const ride = parseRideFile("gpx", text(gpx));
  assert.equal(ride.title, "Tom & Jerry's ride");
  assert.equal(ride.sport, "cycling");
  assert.deepEqual(ride.samples.map((s) => s.power), [250, 260, 270]); // the point without time is left out
  assert.equal(ride.samples[2].time, Date.parse("2026-06-01T06:00:02.500Z"));
  assert.deepEqual(
    [ride.samples[2].heartRate, ride.samples[2].cadence, ride.samples[2].speed],
    [150, 90, 36],
  );
  assert.equal(ride.samples[0].altitude, 1200.5);
  assert.equal(ride.samples[1].lat, 45.1001);
});

Deno.test("TCX reads the first activity's trackpoints, its sport and notes", () => {
  const tcx = `<?xml version="1.0" encoding="UTF-8"?>
<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
  xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2">
 <Activities>
  <Activity Sport="Biking"><Id>2026-06-01T06:00:00Z</Id>
   <Lap StartTime="2026-06-01T06:00:00Z"><Track>
    <Trackpoint><Time>2026-06-01T06:00:00Z</Time><DistanceMeters>0</DistanceMeters>
     <HeartRateBpm><Value>120</Value></HeartRateBpm><Cadence>85</Cadence>
     <Extensions><ns3:TPX><ns3:Speed>5</ns3:Speed><ns3:Watts>180</ns3:Watts></ns3:TPX></Extensions></Trackpoint>
   </Track></Lap>
   <Lap StartTime="2026-06-01T06:00:01Z"><Track>
    <Trackpoint><Time>2026-06-01T06:00:01Z</Time><DistanceMeters>5.5</DistanceMeters>
     <Extensions><TPX xmlns="http://www.garmin.com/xmlschemas/ActivityExtension/v2"><Watts>190</Watts></TPX></Extensions></Trackpoint>
   </Track></Lap>
   <Notes>Hill &amp; dale</Notes>
  </Activity>
  <Activity Sport="Running"><Id>2026-06-01T08:00:00Z</Id><Lap StartTime="2026-06-01T08:00:00Z"><Track>
   <Trackpoint><Time>2026-06-01T08:00:00Z</Time><HeartRateBpm><Value>160</Value></HeartRateBpm></Trackpoint>
  </Track></Lap></Activity>
 </Activities>
</TrainingCenterDatabase>`;
  const ride = parseRideFile("tcx", text(tcx));
  assert.equal(ride.sport, "cycling");
  assert.equal(ride.title, "Hill & dale");
  assert.equal(ride.samples.length, 2);
  assert.deepEqual(
    ride.samples.map((s) => [s.power, s.heartRate, s.cadence, s.speed, s.distance]),
    [[180, 120, 85, 18, 0], [190, null, null, null, 5.5]],
  );
});

Deno.test("XML with a DOCTYPE entity, an undefined entity or a cut-off end is a 400", () => {
  const bomb = `<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa">]>
<gpx><trk><name>&a;</name></trk></gpx>`;
  refused(() => parseRideFile("gpx", text(bomb)), 400, "invalid_xml");
  refused(() => parseRideFile("gpx", text("<gpx><trk>&nope;</trk></gpx>")), 400, "invalid_xml");
  refused(
    () => parseRideFile("tcx", text("<TrainingCenterDatabase><Activities>")),
    400,
    "invalid_xml",
  );
  refused(() => parseRideFile("gpx", text("not xml at all")), 400, "invalid_xml");
  refused(() => parseRideFile("gpx", new Uint8Array([0x3c, 0xff, 0xfe])), 400, "invalid_encoding");
});

Deno.test("CSV accepts the fixture rides' columns, aliases, ISO times and quoted cells", () => {
  const csv = "Time,Watts,HR,Cadence,Speed,Distance,Elevation,Lat,Lon,Note\r\n" +
    '2026-06-01T06:00:00Z,200,140,90,30.5,0,100,45.1,6.2,"start"\r\n' +
    "2026-06-01T06:00:01Z,,141,,,8.5,,,,\r\n";
  const ride = parseRideFile("csv", text(csv));
  assert.deepEqual(ride.samples[0], {
    time: Date.parse("2026-06-01T06:00:00Z"),
    power: 200,
    cadence: 90,
    heartRate: 140,
    speed: 30.5,
    distance: 0,
    altitude: 100,
    lat: 45.1,
    lon: 6.2,
  });
  assert.equal(ride.samples[1].power, null);
  assert.equal(ride.samples[1].distance, 8.5);
  // A value outside the plausible range is dropped, not stored.
  const glitch = parseRideFile("csv", text("epoch_ms,power\n1780293600000,65535\n"));
  assert.equal(glitch.samples[0].power, null);
  refused(
    () => parseRideFile("csv", text("epoch_ms,power,watts\n1780293600000,1,2\n")),
    400,
    "invalid_csv",
  );
});

Deno.test("CSV: a quoted cell with a comma, a quoted header and a bad quote", () => {
  const csv = '"epoch_ms","Power","Note, free text"\n' +
    '1780293600000,"200","warm-up, easy"\n' +
    '1780293601000,210,"said ""go"""\n';
  const ride = parseRideFile("csv", text(csv));
  assert.deepEqual(ride.samples.map((s) => [s.time, s.power]), [
    [1780293600000, 200],
    [1780293601000, 210],
  ]);
  // The cell-count check still names the line the row is on.
  assert.throws(
    () => parseRideFile("csv", text("epoch_ms,power\n1780293600000,1\n1780293601000\n")),
    /CSV line 3 has 1 cells; the header has 2/,
  );
  refused(
    () => parseRideFile("csv", text('epoch_ms,power\n1780293600000,"1\n')),
    400,
    "invalid_csv",
  );
});

Deno.test("detection: FIT magic bytes, XML roots, CSV headers, file names; else 415", () => {
  const fitHeader = new Uint8Array(14);
  fitHeader.set([14, 0x10, 0, 0, 0, 0, 0, 0, 0x2e, 0x46, 0x49, 0x54]);
  assert.equal(detectFormat(fitHeader, { contentType: "text/csv" }), "fit");
  assert.equal(detectFormat(text('\uFEFF <?xml version="1.0"?>\n<gpx>')), "gpx");
  assert.equal(detectFormat(text("<TrainingCenterDatabase xmlns='x'>")), "tcx");
  assert.equal(detectFormat(text("epoch_ms,power\n")), "csv");
  assert.equal(detectFormat(text("power,timestamp\n")), "csv");
  assert.equal(detectFormat(text("whatever"), { filename: "ride.GPX" }), "gpx");
  assert.equal(detectFormat(text("whatever"), { contentType: "application/gpx+xml" }), "gpx");
  refused(() => detectFormat(text("<kml/>")), 415, "unsupported_file");
  refused(() => detectFormat(text("PK\x03\x04 a zip")), 415, "unsupported_file");
});
