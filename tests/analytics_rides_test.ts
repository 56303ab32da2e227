// Real rides from tests/fixtures/rides (see its README): the elapsed and moving times that
// README gives under our rules, and every summary figure against the naive reference.

import assert from "node:assert/strict";
import {
  countPauses,
  meanMaximalPower,
  normalizedPower,
  summarize,
  toGrid,
} from "../src/analytics/power.ts";
import {
  assertClose,
  readRide,
  refGrid,
  refMmp,
  refNp,
  refSummary,
} from "./analytics_reference.ts";

/** The rides README table: rows, elapsed and moving seconds, pauses of more than 3 s. */
const rides = [
  { name: "outdoor_edge1000_zpider", rows: 8357, elapsedS: 8357, movingS: 8357, pauses: 0 },
  { name: "outdoor_edge1000_zpider_gpx", rows: 8357, elapsedS: 8357, movingS: 8357, pauses: 0 },
  { name: "outdoor_elemnt_autopause", rows: 13471, elapsedS: 23592, movingS: 13482, pauses: 49 },
  { name: "indoor_edge800_trainer", rows: 2263, elapsedS: 2264, movingS: 2264, pauses: 0 },
  { name: "outdoor_edge810_vector", rows: 4700, elapsedS: 4700, movingS: 4700, pauses: 0 },
];

const options = { ftp: 250, maxHr: 190, restingHr: 50, lthr: 168 };

for (const ride of rides) {
  Deno.test(`${ride.name} has ${ride.elapsedS} s elapsed, ${ride.movingS} s moving`, async () => {
    const samples = await readRide(ride.name);
    const s = summarize(samples, options);
    assert.equal(samples.length, ride.rows);
    assert.equal(s.sampleCount, ride.rows);
    assert.equal(s.elapsedS, ride.elapsedS);
    assert.equal(s.movingS, ride.movingS);
    assert.equal(countPauses(toGrid(samples)), ride.pauses);
  });

  Deno.test(`${ride.name} summary equals the naive reference`, async () => {
    const samples = await readRide(ride.name);
    const grid = toGrid(samples);
    const rows = refGrid(samples);
    // Whole watts: prefix sums and direct sums agree exactly.
    assert.deepEqual(meanMaximalPower(grid), refMmp(rows));
    assertClose(normalizedPower(grid), refNp(rows));
    const s = summarize(samples, options);
    assertClose(s, refSummary(samples, options));
    assert.notEqual(s.normalizedPower, null);
    assert.notEqual(s.powerCurve[0].watts, null);
  });
}

Deno.test("the zpider ride has the same power, HR and altitude from FIT and GPX", async () => {
  const fit = summarize(await readRide("outdoor_edge1000_zpider"), options);
  const gpx = summarize(await readRide("outdoor_edge1000_zpider_gpx"), options);
  for (
    const key of [
      "startTime",
      "endTime",
      "elapsedS",
      "movingS",
      "avgPower",
      "maxPower",
      "normalizedPower",
      "intensityFactor",
      "tss",
      "workKj",
      "avgCadence",
      "maxCadence",
      "avgHeartRate",
      "maxHeartRate",
      "elevationGainM",
      "powerCurve",
      "powerZones",
      "heartRateZones",
    ] as const
  ) {
    assert.deepEqual(gpx[key], fit[key], key);
  }
  // GPX has no speed or distance.
  assert.equal(gpx.distanceM, null);
  assert.equal(gpx.avgSpeed, null);
  assert.notEqual(fit.distanceM, null);
});

Deno.test("indoor_edge800_trainer leaves 41 power drop-out seconds out of averages", async () => {
  const samples = await readRide("indoor_edge800_trainer");
  const grid = toGrid(samples);
  let withoutPower = 0;
  for (let i = 0; i < grid.elapsedS; i++) if (Number.isNaN(grid.power[i])) withoutPower++;
  assert.equal(withoutPower, 41); // CSV lines 322-326 and 338-373
  const s = summarize(samples);
  const watts = samples.filter((x) => x.power !== null).map((x) => x.power!);
  // The one missing second carries the row before it, so its watts count twice.
  const carried = samples[2224].power!; // CSV line 2226, the row before the gap
  const sum = watts.reduce((a, b) => a + b, 0) + carried;
  assert.equal(s.workKj, sum / 1000);
  assert.equal(s.avgPower, sum / (2264 - 41));
  assert.equal(s.distanceM, null);
  assert.equal(s.avgSpeed, null);
});

Deno.test("outdoor_elemnt_autopause starts with an empty row that still counts", async () => {
  const samples = await readRide("outdoor_elemnt_autopause");
  const s = summarize(samples);
  assert.equal(s.startTime, "2019-02-17T06:26:44.000Z");
  // Dropping the empty first row would shorten the ride by one second.
  assert.equal(summarize(samples.slice(1)).elapsedS, 23591);
  // Pauses count as 0 W in best efforts, so with 49 pauses a longer window can beat a shorter one.
  const curve = new Map(s.powerCurve.map((e) => [e.duration, e.watts!]));
  assert.ok(curve.get(7200)! > curve.get(5400)!);
});
