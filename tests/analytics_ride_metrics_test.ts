// VI, EF, Pw:HR decoupling, TRIMP, LTHR zones and best-effort positions (docs/analytics.md, "Ride
// metrics") on small rides whose values are worked out by hand in each test.

import assert from "node:assert/strict";
import { summarize } from "../src/analytics/power.ts";
import type { Sample } from "../src/core/sample.ts";
import { assertClose, sample } from "./analytics_reference.ts";

const T0 = 1_700_000_000_000;

/** A 1 Hz ride of [watts, bpm] pairs (null = missing). */
function ride(rows: [number | null, number | null][], start = T0): Sample[] {
  return rows.map(([power, heartRate], i) => sample(start + i * 1000, { power, heartRate }));
}

Deno.test("constant 200 W at 100 bpm: VI 1, EF 2, no decoupling", () => {
  const s = summarize(ride(Array(60).fill([200, 100])));
  assert.equal(s.variabilityIndex, 1);
  assert.equal(s.efficiencyFactor, 2);
  assert.equal(s.decouplingPct, 0);
});

Deno.test("decoupling compares equal halves of the paired seconds; a pause is left out", () => {
  // 40 s at 200 W / 100 bpm, a 10-s pause, 40 s at 200 W / 125 bpm: r1 = 2, r2 = 1.6, 20 %.
  const first = ride(Array(40).fill([200, 100]));
  const second = ride(Array(40).fill([200, 125]), T0 + 50_000);
  const s = summarize([...first, ...second]);
  assert.equal(s.movingS, 80);
  assertClose(s.decouplingPct, 20);
  // NP of a constant series is that constant; the average heart rate is 112.5 bpm.
  assertClose(s.efficiencyFactor, 200 / 112.5);
});

Deno.test("decoupling skips seconds without power or heart rate and an odd middle second", () => {
  // Paired seconds: 200/100, 200/100, (middle) 999/1, 150/100, 150/100 → r1 = 2, r2 = 1.5, 25 %.
  const s = summarize(ride([
    [200, 100],
    [null, 180],
    [200, 100],
    [300, null],
    [999, 1],
    [150, 100],
    [150, 100],
  ]));
  assertClose(s.decouplingPct, 25);
});

Deno.test("no heart rate: EF, decoupling and TRIMP are null; VI stays", () => {
  const s = summarize(ride([...Array(30).fill([100, null]), ...Array(30).fill([300, null])]), {
    maxHr: 190,
    restingHr: 50,
    lthr: 170,
  });
  assert.equal(s.efficiencyFactor, null);
  assert.equal(s.decouplingPct, null);
  assert.equal(s.trimp, null);
  assert.deepEqual(s.lthrZones?.map((z) => z.seconds), [0, 0, 0, 0, 0, 0, 0]);
  assert.ok(s.variabilityIndex! > 1);
  assertClose(s.variabilityIndex, s.normalizedPower! / 200);
});

Deno.test("no power: VI, EF and decoupling are null; TRIMP and zones come from heart rate", () => {
  // 600 s at 120 bpm, rest 50, max 190: HRr = 0.5, TRIMP = 10 min × 0.5 × 0.64 × e^0.96.
  const s = summarize(ride(Array(600).fill([null, 120])), { maxHr: 190, restingHr: 50 });
  assert.equal(s.variabilityIndex, null);
  assert.equal(s.efficiencyFactor, null);
  assert.equal(s.decouplingPct, null);
  assertClose(s.trimp, 10 * 0.5 * 0.64 * Math.exp(0.96));
  assert.equal(s.powerCurve[0].watts, null);
  assert.equal(s.powerCurve[0].startOffsetS, null);
});

Deno.test("TRIMP counts moving seconds only, and a heart rate below rest adds nothing", () => {
  // 60 s at max HR (HRr 1: 0.64 e^1.92 per minute), a 20-s pause, 60 s below rest.
  const s = summarize([
    ...ride(Array(60).fill([null, 190])),
    ...ride(Array(60).fill([null, 40]), T0 + 80_000),
  ], { maxHr: 190, restingHr: 50 });
  assertClose(s.trimp, 0.64 * Math.exp(1.92));
  // Without a resting HR (or with rest ≥ max) there is no TRIMP.
  assert.equal(summarize(ride([[null, 120]]), { maxHr: 190 }).trimp, null);
  assert.equal(summarize(ride([[null, 120]]), { maxHr: 100, restingHr: 100 }).trimp, null);
});

Deno.test("LTHR zones: lower bounds inclusive on % of LTHR", () => {
  // LTHR 100: 80 → 1, 81 → 2, 90 → 3, 94 → 4, 100 → 5a, 103 → 5b, 107 → 5c, 106.9 → 5b.
  const s = summarize(ride([80, 81, 90, 94, 100, 103, 107, 106.9].map((h) => [null, h])), {
    lthr: 100,
  });
  assert.deepEqual(s.lthrZones?.map((z) => [z.name, z.seconds]), [
    ["1", 1],
    ["2", 1],
    ["3", 1],
    ["4", 1],
    ["5a", 1],
    ["5b", 2],
    ["5c", 1],
  ]);
  assert.equal(summarize(ride([[null, 150]])).lthrZones, null);
});

Deno.test("best-effort positions: start offset from the grid's first second, earliest on ties", () => {
  // 10 s at 100 W, 5 s at 400 W, 10 s at 100 W, 5 s at 400 W (a tie: the first one wins).
  const watts = [
    ...Array(10).fill(100),
    ...Array(5).fill(400),
    ...Array(10).fill(100),
    ...Array(5).fill(400),
  ];
  // The first sample is at .700 s: the grid starts at the floored second, offsets count from it.
  const s = summarize(ride(watts.map((w) => [w, null]), T0 + 700));
  const at = (d: number) => s.powerCurve.find((e) => e.duration === d)!;
  assert.deepEqual(at(1), { duration: 1, watts: 400, startOffsetS: 10 });
  assert.deepEqual(at(5), { duration: 5, watts: 400, startOffsetS: 10 });
  assert.deepEqual(at(30), { duration: 30, watts: 200, startOffsetS: 0 });
  assert.deepEqual(at(60), { duration: 60, watts: null, startOffsetS: null });
});

Deno.test("a best effort across a pause keeps grid offsets (pause seconds count)", () => {
  // 5 s at 100 W, a 10-s pause (grid seconds 5..14), 5 s at 300 W from grid second 15.
  const s = summarize([
    ...ride(Array(5).fill([100, null])),
    ...ride(Array(5).fill([300, null]), T0 + 15_000),
  ]);
  assert.equal(s.elapsedS, 20);
  assert.deepEqual(s.powerCurve[1], { duration: 5, watts: 300, startOffsetS: 15 });
});
