import assert from "node:assert/strict";
import { countPauses, type Grid, toGrid } from "../src/analytics/power.ts";
import type { Sample } from "../src/core/sample.ts";
import { prng, refGrid, sample } from "./analytics_reference.ts";

const T0 = 1_700_000_000_000; // a whole second

/** Samples with the given power at the given second offsets (plus `ms` milliseconds). */
function atSeconds(seconds: number[], watts: (number | null)[], ms = 0): Sample[] {
  return seconds.map((s, i) => sample(T0 + s * 1000 + ms, { power: watts[i] }));
}

/** Grid power with NaN as null, for readable assertions. */
function powers(grid: Grid): (number | null)[] {
  return Array.from(grid.power, (p) => Number.isNaN(p) ? null : p);
}

Deno.test("toGrid keeps a continuous 1 Hz ride second by second, floored to the second", () => {
  const grid = toGrid(atSeconds([0, 1, 2, 3, 4], [100, 110, 120, 130, 140], 640));
  assert.equal(grid.start, T0);
  assert.equal(grid.elapsedS, 5);
  assert.deepEqual(Array.from(grid.moving), [1, 1, 1, 1, 1]);
  assert.deepEqual(powers(grid), [100, 110, 120, 130, 140]);
  assert.equal(countPauses(grid), 0);
});

Deno.test("toGrid carries the previous row into gaps of 1, 2 and 3 missing seconds", () => {
  const grid = toGrid(atSeconds([0, 2, 5, 9], [100, 200, 300, 400]));
  assert.equal(grid.elapsedS, 10);
  assert.deepEqual(Array.from(grid.moving), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(powers(grid), [100, 100, 200, 200, 200, 300, 300, 300, 300, 400]);
  assert.equal(countPauses(grid), 0);
});

Deno.test("toGrid carries the whole row, nulls included", () => {
  const grid = toGrid([
    sample(T0, { power: 150, cadence: null, heartRate: 120, speed: 30, distance: 10, altitude: 5 }),
    sample(T0 + 2000, { power: 160, cadence: 90, heartRate: 121, speed: 31, distance: 20 }),
  ]);
  assert.deepEqual(Array.from(grid.moving), [1, 1, 1]);
  assert.deepEqual(Array.from(grid.power), [150, 150, 160]);
  assert.deepEqual(Array.from(grid.cadence), [NaN, NaN, 90]);
  assert.deepEqual(Array.from(grid.heartRate), [120, 120, 121]);
  assert.deepEqual(Array.from(grid.speed), [30, 30, 31]);
  assert.deepEqual(Array.from(grid.distance), [10, 10, 20]);
  assert.deepEqual(Array.from(grid.altitude), [5, 5, NaN]);
});

Deno.test("toGrid pauses gaps of 4 or more missing seconds: not moving, no values", () => {
  const grid = toGrid(atSeconds([0, 5, 6, 17], [100, 200, 210, 300]));
  assert.equal(grid.elapsedS, 18);
  assert.deepEqual(
    Array.from(grid.moving),
    [1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  );
  assert.deepEqual(powers(grid), [
    100,
    null,
    null,
    null,
    null,
    200,
    210,
    ...Array(10).fill(null),
    300,
  ]);
  for (const field of ["cadence", "heartRate", "speed", "distance", "altitude"] as const) {
    assert.ok(grid[field].slice(1, 5).every(Number.isNaN), field);
  }
  assert.equal(countPauses(grid), 2);
});

Deno.test("toGrid counts gaps in floored seconds, not in milliseconds between samples", () => {
  // 4.8 s apart but seconds 0 and 4: 3 missing seconds, carried.
  const carried = toGrid([sample(T0 + 100, { power: 1 }), sample(T0 + 4900, { power: 2 })]);
  assert.deepEqual(Array.from(carried.moving), [1, 1, 1, 1, 1]);
  // 4.2 s apart but seconds 0 and 5: 4 missing seconds, a pause.
  const paused = toGrid([sample(T0 + 900, { power: 1 }), sample(T0 + 5100, { power: 2 })]);
  assert.deepEqual(Array.from(paused.moving), [1, 0, 0, 0, 0, 1]);
  // 999 ms and 1000 ms are two consecutive seconds.
  const adjacent = toGrid([sample(T0 + 999, { power: 1 }), sample(T0 + 1000, { power: 2 })]);
  assert.equal(adjacent.start, T0);
  assert.deepEqual(powers(adjacent), [1, 2]);
});

Deno.test("toGrid takes the last sample of a second at 4 Hz, as a whole row", () => {
  const samples: Sample[] = [];
  for (let i = 0; i < 12; i++) {
    // Cadence only on the first three quarter-seconds of each second: the last row has none.
    samples.push(sample(T0 + i * 250, { power: 100 + i, cadence: i % 4 === 3 ? null : 80 }));
  }
  const grid = toGrid(samples);
  assert.equal(grid.elapsedS, 3);
  assert.deepEqual(powers(grid), [103, 107, 111]);
  assert.deepEqual(Array.from(grid.cadence), [NaN, NaN, NaN]);
  assert.deepEqual(Array.from(grid.moving), [1, 1, 1]);
});

Deno.test("toGrid carries every other second of a 0.5 Hz ride", () => {
  const grid = toGrid(atSeconds([0, 2, 4, 6], [100, 200, 300, 400]));
  assert.equal(grid.elapsedS, 7);
  assert.deepEqual(Array.from(grid.moving), [1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(powers(grid), [100, 100, 200, 200, 300, 300, 400]);
});

Deno.test("toGrid sorts out-of-order input; of equal times the sample given later wins", () => {
  const samples = [
    sample(T0 + 2000, { power: 300 }),
    sample(T0, { power: 100 }),
    sample(T0 + 1000, { power: 200, heartRate: 90 }),
    sample(T0 + 1000, { power: 250 }), // same time, given later: wins with its null HR
    sample(T0 + 1500, { power: 275 }), // later in the same second: wins over both
    sample(T0 + 500, { power: 150 }),
  ];
  const grid = toGrid(samples);
  assert.equal(grid.start, T0);
  assert.deepEqual(powers(grid), [150, 275, 300]);

  const sameTime = toGrid([
    sample(T0 + 1000, { power: 200, heartRate: 90 }),
    sample(T0, { power: 100 }),
    sample(T0 + 1000, { power: 250 }),
  ]);
  assert.deepEqual(powers(sameTime), [100, 250]);
  assert.deepEqual(Array.from(sameTime.heartRate), [NaN, NaN]);
});

Deno.test("toGrid of a single sample is one moving second", () => {
  const grid = toGrid([sample(T0 + 1234, { power: 321 })]);
  assert.equal(grid.start, T0 + 1000);
  assert.equal(grid.elapsedS, 1);
  assert.deepEqual(Array.from(grid.moving), [1]);
  assert.deepEqual(powers(grid), [321]);
});

Deno.test("toGrid of no samples is an empty grid", () => {
  const grid = toGrid([]);
  assert.equal(grid.start, 0);
  assert.equal(grid.elapsedS, 0);
  for (const a of [grid.moving, grid.power, grid.cadence, grid.heartRate, grid.speed]) {
    assert.equal(a.length, 0);
  }
  assert.equal(countPauses(grid), 0);
});

Deno.test("toGrid floors times before the epoch too", () => {
  const grid = toGrid([sample(-1500, { power: 1 }), sample(-1, { power: 2 })]);
  assert.equal(grid.start, -2000);
  assert.deepEqual(powers(grid), [1, 2]);
});

Deno.test("toGrid refuses a sample without a finite time", () => {
  assert.throws(
    () => toGrid([sample(T0), sample(NaN)]),
    (e) =>
      e instanceof RangeError && e.message === "Sample 1 has no finite time in epoch milliseconds",
  );
});

Deno.test("toGrid treats non-finite metric values as null", () => {
  const grid = toGrid([sample(T0, { power: Infinity, heartRate: NaN, cadence: 90 })]);
  assert.deepEqual(Array.from(grid.power), [NaN]);
  assert.deepEqual(Array.from(grid.heartRate), [NaN]);
  assert.deepEqual(Array.from(grid.cadence), [90]);
});

Deno.test("toGrid equals the naive per-second reference on 300 random rides", () => {
  const rng = prng(20261126);
  const seen = { pauses: 0, carried: 0, shared: 0 };
  for (let ride = 0; ride < 300; ride++) {
    const samples = randomSamples(rng, 1 + Math.floor(rng() * 300));
    const grid = toGrid(samples);
    const rows = refGrid(samples);
    const context = `ride ${ride}`;
    assert.equal(grid.elapsedS, rows.length, context);
    assert.equal(grid.start, rows[0].second * 1000, context);
    assert.deepEqual(Array.from(grid.moving), rows.map((r) => r.moving ? 1 : 0), context);
    for (
      const field of ["power", "cadence", "heartRate", "speed", "distance", "altitude"] as const
    ) {
      assert.deepEqual(
        Array.from(grid[field]),
        rows.map((r) => r[field] ?? NaN),
        `${context} ${field}`,
      );
    }
    let pauses = 0;
    for (let i = 0; i < rows.length; i++) if (!rows[i].moving && rows[i - 1].moving) pauses++;
    assert.equal(countPauses(grid), pauses, context);
    seen.pauses += pauses;
    seen.carried += rows.filter((r) => r.moving && !r.sampled).length;
    seen.shared += samples.length - rows.filter((r) => r.sampled).length;
  }
  // The random rides do exercise every rule.
  assert.ok(seen.pauses > 100 && seen.carried > 100 && seen.shared > 100, JSON.stringify(seen));
});

/** Random samples: mixed rates, duplicates, short and long gaps, nulls, sometimes shuffled. */
function randomSamples(rng: () => number, n: number): Sample[] {
  const samples: Sample[] = [];
  let t = T0 + Math.floor(rng() * 1000);
  const maybe = (v: number) => rng() < 0.15 ? null : v;
  for (let i = 0; i < n; i++) {
    samples.push(sample(t, {
      power: maybe(Math.floor(rng() * 600)),
      cadence: maybe(Math.floor(rng() * 120)),
      heartRate: maybe(90 + Math.floor(rng() * 100)),
      speed: maybe(rng() * 50),
      distance: maybe(i * 7),
      altitude: maybe(100 + rng() * 20),
    }));
    const r = rng();
    t += r < 0.6
      ? 1000
      : r < 0.7
      ? 250
      : r < 0.75
      ? 0
      : r < 0.87
      ? 2000 + Math.floor(rng() * 2500)
      : r < 0.95
      ? 4000 + Math.floor(rng() * 20000)
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
