import assert from "node:assert/strict";
import {
  meanMaximalPower,
  normalizedPower,
  summarize,
  toGrid,
  type WorkoutSummary,
} from "../src/analytics/power.ts";
import { effortDurations } from "../src/analytics/durations.ts";
import type { Sample } from "../src/core/sample.ts";
import {
  assertClose,
  prng,
  refGrid,
  refMmp,
  refNp,
  refSummary,
  sample,
} from "./analytics_reference.ts";

const T0 = 1_700_000_000_000;

/** A 1 Hz ride from a list of watts (null = no power in that sample). */
function ride(watts: (number | null)[], start = T0): Sample[] {
  return watts.map((power, i) => sample(start + i * 1000, { power }));
}

/** Samples with the given power at the given second offsets. */
function atSeconds(seconds: number[], watts: (number | null)[]): Sample[] {
  return seconds.map((s, i) => sample(T0 + s * 1000, { power: watts[i] }));
}

function mmp(samples: Sample[], durations: number[]): (number | null)[] {
  return meanMaximalPower(toGrid(samples), durations).map((e) => e.watts);
}

Deno.test("meanMaximalPower finds the best window of each duration, nulls as 0 W", () => {
  const samples = ride([100, 200, 300, null, 0, 400]);
  assert.deepEqual(mmp(samples, [1, 2, 3, 4, 6, 7]), [
    400,
    250, // windows of 2: 150, 250, 150, 0, 200
    200, // 600 / 3
    175, // windows of 4: 150, 125, 175
    1000 / 6,
    null, // longer than the ride
  ]);
});

Deno.test("meanMaximalPower counts a pause inside a window as 0 W", () => {
  // 3 s at 300 W, a pause of 5 missing seconds, 3 s at 300 W: 11 grid seconds.
  const samples = atSeconds([0, 1, 2, 8, 9, 10], [300, 300, 300, 300, 300, 300]);
  assert.deepEqual(mmp(samples, [3, 4, 11, 12]), [300, 225, 1800 / 11, null]);
  const summary = summarize(samples);
  assert.equal(summary.elapsedS, 11);
  assert.equal(summary.movingS, 6);
  assert.equal(summary.avgPower, 300);
});

Deno.test("meanMaximalPower answers durations in order, the standard ones by default", () => {
  const grid = toGrid(ride(Array(90).fill(200)));
  assert.deepEqual(meanMaximalPower(grid, [60, 1, 90, 91]), [
    { duration: 60, watts: 200, startOffsetS: 0 },
    { duration: 1, watts: 200, startOffsetS: 0 },
    { duration: 90, watts: 200, startOffsetS: 0 },
    { duration: 91, watts: null, startOffsetS: null },
  ]);
  assert.deepEqual(
    meanMaximalPower(grid).map((e) => e.duration),
    [...effortDurations],
  );
  assert.deepEqual(meanMaximalPower(grid, []), []);
});

Deno.test("meanMaximalPower refuses a duration that is not a positive whole number", () => {
  const grid = toGrid(ride([100]));
  for (const d of [0, -5, 1.5, NaN]) {
    assert.throws(() => meanMaximalPower(grid, [d]), RangeError);
  }
  assert.throws(
    () => meanMaximalPower(grid, [0]),
    { message: "Duration 0 is not a positive whole number of seconds" },
  );
});

Deno.test("meanMaximalPower is null everywhere for a ride without any power", () => {
  assert.deepEqual(mmp(ride([null, null, null]), [1, 3]), [null, null]);
  assert.deepEqual(mmp([], [1]), [null]);
});

Deno.test("meanMaximalPower keeps zero watts as a real best effort", () => {
  assert.deepEqual(mmp(ride([0, 0, null]), [1, 3]), [0, 0]);
});

Deno.test("normalizedPower needs 30 moving seconds with power", () => {
  assert.equal(normalizedPower(toGrid(ride(Array(29).fill(200)))), null);
  assert.equal(normalizedPower(toGrid(ride(Array(30).fill(200)))), 200);
  // 30 samples, one without power: 29 seconds in the series.
  assert.equal(normalizedPower(toGrid(ride([...Array(29).fill(200), null]))), null);
  // 15 + 15 seconds around a pause: the pause is not part of the series.
  const paused = atSeconds(
    [...Array(15).keys(), ...Array.from({ length: 15 }, (_, i) => 100 + i)],
    Array(30).fill(200),
  );
  assert.equal(toGrid(paused).elapsedS, 115);
  assert.equal(normalizedPower(toGrid(paused)), 200);
  assert.equal(normalizedPower(toGrid([])), null);
});

Deno.test("normalizedPower of 30 s at 100 W then 30 s at 300 W averages 31 window means", () => {
  const np = normalizedPower(toGrid(ride([...Array(30).fill(100), ...Array(30).fill(300)])));
  // Window i (0..30) holds 30 - i seconds at 100 W and i at 300 W.
  let sum = 0;
  for (let i = 0; i <= 30; i++) sum += ((100 * (30 - i) + 300 * i) / 30) ** 4;
  assertClose(np, (sum / 31) ** 0.25);
  assert.ok(np! > 200 && np! < 300);
});

Deno.test("summarize of 1 h at 250 W with FTP 250 is NP 250, IF 1 and TSS 100 exactly", () => {
  const s = summarize(ride(Array(3600).fill(250)), { ftp: 250 });
  assert.equal(s.elapsedS, 3600);
  assert.equal(s.movingS, 3600);
  assert.equal(s.avgPower, 250);
  assert.equal(s.maxPower, 250);
  assert.equal(s.normalizedPower, 250);
  assert.equal(s.intensityFactor, 1);
  assert.equal(s.tss, 100);
  assert.equal(s.workKj, 900);
  assert.equal(s.powerCurve.find((e) => e.duration === 3600)?.watts, 250);
  assert.equal(s.powerCurve.find((e) => e.duration === 5400)?.watts, null);
  assert.deepEqual(s.powerZones?.map((z) => z.seconds), [0, 0, 0, 3600, 0, 0, 0]);
});

Deno.test("summarize of 2 h at 200 W with FTP 250 is IF 0.8 and TSS 128", () => {
  const s = summarize(ride(Array(7200).fill(200)), { ftp: 250 });
  assert.equal(s.normalizedPower, 200);
  assertClose(s.intensityFactor, 0.8);
  assertClose(s.tss, 128);
  assert.equal(s.workKj, 1440);
  assert.equal(s.powerCurve.at(-1)?.watts, 200);
});

Deno.test("summarize leaves null power out of averages and work but keeps zeros", () => {
  const missing = summarize(ride([200, null, 200]));
  assert.equal(missing.avgPower, 200);
  assert.equal(missing.maxPower, 200);
  assert.equal(missing.workKj, 0.4);
  assert.equal(missing.powerCurve[0].watts, 200);
  assert.equal(mmp(ride([200, null, 200]), [3])[0], 400 / 3);

  const zero = summarize(ride([200, 0, 200]));
  assert.equal(zero.avgPower, 400 / 3);
  assert.equal(zero.workKj, 0.4);
  assert.equal(mmp(ride([200, 0, 200]), [3])[0], 400 / 3);
});

Deno.test("summarize of a single sample is one moving second without NP", () => {
  const s = summarize([sample(T0 + 250, { power: 180, heartRate: 140, altitude: 12 })], {
    ftp: 200,
  });
  assert.equal(s.startTime, "2023-11-14T22:13:20.250Z");
  assert.equal(s.endTime, "2023-11-14T22:13:20.250Z");
  assert.equal(s.elapsedS, 1);
  assert.equal(s.movingS, 1);
  assert.equal(s.sampleCount, 1);
  assert.equal(s.avgPower, 180);
  assert.equal(s.normalizedPower, null);
  assert.equal(s.intensityFactor, null);
  assert.equal(s.tss, null);
  assert.equal(s.workKj, 0.18);
  assert.equal(s.elevationGainM, null);
  assert.deepEqual(s.powerCurve.slice(0, 2), [
    { duration: 1, watts: 180, startOffsetS: 0 },
    { duration: 5, watts: null, startOffsetS: null },
  ]);
  const noPower = summarize([sample(T0, { heartRate: 140 })]);
  assert.equal(noPower.powerCurve[0].watts, null);
  assert.equal(noPower.avgHeartRate, 140);
});

Deno.test("summarize of no samples is all zero seconds and nulls", () => {
  const s = summarize([], { ftp: 250, maxHr: 190 });
  const expected: WorkoutSummary = {
    startTime: null,
    endTime: null,
    elapsedS: 0,
    movingS: 0,
    sampleCount: 0,
    avgPower: null,
    maxPower: null,
    normalizedPower: null,
    intensityFactor: null,
    tss: null,
    workKj: null,
    avgCadence: null,
    maxCadence: null,
    avgHeartRate: null,
    maxHeartRate: null,
    avgSpeed: null,
    maxSpeed: null,
    distanceM: null,
    elevationGainM: null,
    powerCurve: effortDurations.map((duration) => ({ duration, watts: null, startOffsetS: null })),
    powerZones: s.powerZones!.map((z) => ({ ...z, seconds: 0 })),
    heartRateZones: s.heartRateZones!.map((z) => ({ ...z, seconds: 0 })),
    ftp: 250,
    maxHr: 190,
    restingHr: null,
    lthr: null,
    variabilityIndex: null,
    efficiencyFactor: null,
    decouplingPct: null,
    trimp: null,
    lthrZones: null,
  };
  assert.deepEqual(s, expected);
  assert.equal(s.powerZones!.length, 7);
  assert.equal(s.heartRateZones!.length, 5);
});

Deno.test("summarize of a ride without power has heart rate but no power figures", () => {
  const s = summarize(
    [sample(T0, { heartRate: 100 }), sample(T0 + 1000, { heartRate: 110 })],
    { ftp: 250 },
  );
  assert.equal(s.avgHeartRate, 105);
  assert.equal(s.avgPower, null);
  assert.equal(s.maxPower, null);
  assert.equal(s.normalizedPower, null);
  assert.equal(s.workKj, null);
  assert.equal(s.tss, null);
  assert.ok(s.powerCurve.every((e) => e.watts === null));
  assert.deepEqual(s.powerZones?.map((z) => z.seconds), [0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("summarize averages HR, cadence and speed over moving seconds, nulls left out", () => {
  const s = summarize([
    sample(T0, { heartRate: 100, cadence: 80, speed: 20 }),
    sample(T0 + 2000, { heartRate: 130, cadence: null, speed: 30 }), // second 1 carries second 0
    sample(T0 + 3000, { heartRate: null, cadence: 90, speed: null }),
    sample(T0 + 9000, { heartRate: 200, cadence: 60, speed: 10 }), // after a pause of 5 s
  ]);
  assert.equal(s.elapsedS, 10);
  assert.equal(s.movingS, 5);
  assert.equal(s.avgHeartRate, (100 + 100 + 130 + 200) / 4);
  assert.equal(s.maxHeartRate, 200);
  assert.equal(s.avgCadence, (80 + 80 + 90 + 60) / 4);
  assert.equal(s.maxCadence, 90);
  assert.equal(s.avgSpeed, (20 + 20 + 30 + 10) / 4);
  assert.equal(s.maxSpeed, 30);
});

Deno.test("summarize measures distance over every sample given, replaced ones included", () => {
  const s = summarize([
    sample(T0, { distance: 5 }),
    sample(T0 + 500, { distance: 3 }), // replaces the first row of second 0
    sample(T0 + 1000, { distance: null }),
    sample(T0 + 2000, { distance: 40 }),
  ]);
  assert.equal(s.distanceM, 37);
  assert.equal(summarize([sample(T0, { distance: 12 })]).distanceM, 0);
  assert.equal(summarize([sample(T0)]).distanceM, null);
});

Deno.test("summarize sums raw positive altitude steps over the sampled seconds", () => {
  const s = summarize([
    sample(T0, { altitude: 100 }),
    sample(T0 + 1000, { altitude: 102 }),
    sample(T0 + 2000, { altitude: null }),
    sample(T0 + 3000, { altitude: 101 }),
    sample(T0 + 6000, { altitude: 105.5 }), // 2 carried seconds before it
    sample(T0 + 20000, { altitude: 110 }), // after a pause
  ]);
  assert.equal(s.elevationGainM, 2 + 4.5 + 4.5);
  // One altitude, even carried forward over two more seconds, is no gain.
  assert.equal(
    summarize([sample(T0, { altitude: 50 }), sample(T0 + 3000)]).elevationGainM,
    null,
  );
  assert.equal(
    summarize([sample(T0, { altitude: 50 }), sample(T0 + 1000, { altitude: 40 })])
      .elevationGainM,
    0,
  );
});

Deno.test("summarize reports the first and last sample times of out-of-order input", () => {
  const s = summarize([
    sample(T0 + 2500, { power: 1 }),
    sample(T0 + 10, { power: 2 }),
    sample(T0 + 10, { power: 3 }),
  ]);
  assert.equal(s.startTime, new Date(T0 + 10).toISOString());
  assert.equal(s.endTime, new Date(T0 + 2500).toISOString());
  assert.equal(s.sampleCount, 3);
  assert.equal(s.elapsedS, 3);
  assert.equal(s.maxPower, 3);
});

Deno.test("summarize puts power zone boundary seconds in the lower zone", () => {
  // FTP 200: 55 % = 110 W, 75 % = 150, 90 % = 180, 105 % = 210, 120 % = 240, 150 % = 300.
  const watts = [0, 110, 110.02, 150, 150.5, 180, 181, 210, 211, 240, 241, 300, 300.5, 2000];
  const s = summarize(ride(watts), { ftp: 200 });
  assert.deepEqual(s.powerZones, [
    { zone: 1, name: "Active recovery", minPct: 0, maxPct: 55, seconds: 2 },
    { zone: 2, name: "Endurance", minPct: 55, maxPct: 75, seconds: 2 },
    { zone: 3, name: "Tempo", minPct: 75, maxPct: 90, seconds: 2 },
    { zone: 4, name: "Threshold", minPct: 90, maxPct: 105, seconds: 2 },
    { zone: 5, name: "VO2max", minPct: 105, maxPct: 120, seconds: 2 },
    { zone: 6, name: "Anaerobic", minPct: 120, maxPct: 150, seconds: 2 },
    { zone: 7, name: "Neuromuscular", minPct: 150, maxPct: null, seconds: 2 },
  ]);
  // 137.5 / 250 × 100 is 55.00000000000001 in floating point, yet exactly 55 %: zone 1.
  const awkward = summarize(ride([137.5, 187.5, 225, 262.5, 300, 375]), { ftp: 250 });
  assert.deepEqual(awkward.powerZones?.map((z) => z.seconds), [1, 1, 1, 1, 1, 1, 0]);
});

Deno.test("summarize puts heart-rate zone boundary seconds in the upper zone", () => {
  // Max HR 200: 60 % = 120, 70 % = 140, 80 % = 160, 90 % = 180.
  const bpm = [80, 119, 120, 139, 140, 159, 160, 179, 180, 200];
  const s = summarize(bpm.map((heartRate, i) => sample(T0 + i * 1000, { heartRate })), {
    maxHr: 200,
  });
  assert.deepEqual(s.heartRateZones, [
    { zone: 1, minPct: 0, maxPct: 60, seconds: 2 },
    { zone: 2, minPct: 60, maxPct: 70, seconds: 2 },
    { zone: 3, minPct: 70, maxPct: 80, seconds: 2 },
    { zone: 4, minPct: 80, maxPct: 90, seconds: 2 },
    { zone: 5, minPct: 90, maxPct: null, seconds: 2 },
  ]);
  assert.equal(s.powerZones, null);
  assert.equal(s.ftp, null);
  assert.equal(s.maxHr, 200);
});

Deno.test("summarize counts zone seconds over moving seconds only, carried ones included", () => {
  const s = summarize(atSeconds([0, 2, 10], [100, 300, 100]), { ftp: 200 });
  // Second 1 carries 100 W; seconds 3..9 are a pause.
  assert.deepEqual(s.powerZones?.map((z) => z.seconds), [3, 0, 0, 0, 0, 1, 0]);
});

Deno.test("summarize without FTP or max HR has no IF, TSS or zones", () => {
  const s = summarize(ride(Array(60).fill(200)), { ftp: null, maxHr: undefined });
  assert.equal(s.normalizedPower, 200);
  assert.equal(s.intensityFactor, null);
  assert.equal(s.tss, null);
  assert.equal(s.powerZones, null);
  assert.equal(s.heartRateZones, null);
  assert.equal(s.ftp, null);
  assert.equal(s.maxHr, null);
});

Deno.test("summarize refuses an FTP or max HR that is not a positive number", () => {
  for (const ftp of [0, -1, NaN, Infinity]) {
    assert.throws(() => summarize([], { ftp }), { message: "FTP must be a positive number" });
  }
  assert.throws(() => summarize([], { maxHr: 0 }), {
    message: "Max heart rate must be a positive number",
  });
});

Deno.test("summarize, MMP and NP equal the naive reference on 400 random rides", () => {
  const rng = prng(7);
  const durations = [1, 2, 3, 4, 5, 7, 10, 29, 30, 31, 60, 100, 300];
  let withNp = 0;
  for (let ride = 0; ride < 400; ride++) {
    const samples = randomRide(rng, 1 + Math.floor(rng() * 500));
    const ftp = rng() < 0.2 ? null : 150 + Math.floor(rng() * 200);
    const maxHr = rng() < 0.2 ? null : 170 + Math.floor(rng() * 30);
    const restingHr = rng() < 0.2 ? null : 40 + Math.floor(rng() * 30);
    const lthr = rng() < 0.3 ? null : 150 + Math.floor(rng() * 30);
    const grid = toGrid(samples);
    const rows = refGrid(samples);
    const context = `ride ${ride}`;
    assertClose(meanMaximalPower(grid, durations), refMmp(rows, durations), context);
    const np = normalizedPower(grid);
    assertClose(np, refNp(rows), context);
    if (np !== null) withNp++;
    const settings = { ftp, maxHr, restingHr, lthr };
    assertClose(summarize(samples, settings), refSummary(samples, settings), context);
  }
  assert.ok(withNp > 100, `${withNp} rides with NP`);
});

/** A random ride: 1 Hz, 4 Hz, duplicates, short and long gaps, nulls, zeros, fractional watts. */
function randomRide(rng: () => number, n: number): Sample[] {
  const fractional = rng() < 0.3;
  const samples: Sample[] = [];
  let t = T0 + Math.floor(rng() * 1000);
  let altitude = 100;
  for (let i = 0; i < n; i++) {
    const r = rng();
    const power = r < 0.1 ? null : r < 0.2 ? 0 : fractional ? rng() * 700 : Math.floor(rng() * 700);
    altitude += rng() < 0.1 ? 0 : (rng() - 0.5) * 3;
    samples.push(sample(t, {
      power,
      cadence: rng() < 0.1 ? null : Math.floor(rng() * 120),
      heartRate: rng() < 0.1 ? null : 90 + Math.floor(rng() * 110),
      speed: rng() < 0.1 ? null : rng() * 60,
      distance: rng() < 0.1 ? null : i * 8 + rng(),
      altitude: rng() < 0.1 ? null : altitude,
    }));
    const step = rng();
    t += step < 0.7
      ? 1000
      : step < 0.78
      ? 250
      : step < 0.8
      ? 0
      : step < 0.9
      ? 2000 + Math.floor(rng() * 2500)
      : step < 0.96
      ? 4000 + Math.floor(rng() * 30000)
      : Math.floor(rng() * 1000);
  }
  if (rng() < 0.3) {
    for (let i = samples.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [samples[i], samples[j]] = [samples[j], samples[i]];
    }
  }
  return samples;
}
