// Time of the pure power analytics (src/analytics/power.ts): toGrid, MMP over every standard
// duration, NP and summarize, for synthetic 1-hour and 4-hour 1 Hz rides and the real rides in
// tests/fixtures/rides. Prints the median (p50) and p95 of a bounded number of runs.
//
// Run: deno run --allow-read bench/analytics_bench.ts [runs]

import { record } from "./report.ts";
import { meanMaximalPower, normalizedPower, summarize, toGrid } from "../src/analytics/power.ts";
import type { Sample } from "../src/core/sample.ts";

const RUNS = Number(Deno.args[0] ?? "50");
const WARMUP = 5;
const RIDES = [
  "indoor_edge800_trainer",
  "outdoor_edge810_vector",
  "outdoor_edge1000_zpider",
  "outdoor_edge1000_zpider_gpx",
  "outdoor_elemnt_autopause",
];

/** A synthetic 1 Hz ride with every metric present: intervals plus noise from a seeded PRNG. */
function syntheticRide(seconds: number): Sample[] {
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const start = Date.UTC(2026, 0, 1, 8);
  const samples: Sample[] = [];
  for (let i = 0; i < seconds; i++) {
    const hard = Math.floor(i / 300) % 2 === 1;
    samples.push({
      time: start + i * 1000,
      power: Math.round((hard ? 300 : 180) + random() * 60),
      cadence: Math.round(85 + random() * 10),
      heartRate: Math.round(130 + random() * 30),
      speed: 30 + random() * 5,
      distance: i * 9,
      altitude: 300 + Math.sin(i / 600) * 50,
      lat: 48.1 + i * 1e-5,
      lon: 11.5 + i * 1e-5,
    });
  }
  return samples;
}

/** Parses a ride CSV (epoch_ms,power,cadence,heart_rate,speed_kmh,distance_m,altitude_m). */
function parseRide(text: string): Sample[] {
  const num = (cell: string) => cell === "" ? null : Number(cell);
  return text.trim().split("\n").slice(1).map((line) => {
    const c = line.split(",");
    return {
      time: Number(c[0]),
      power: num(c[1]),
      cadence: num(c[2]),
      heartRate: num(c[3]),
      speed: num(c[4]),
      distance: num(c[5]),
      altitude: num(c[6]),
      lat: null,
      lon: null,
    };
  });
}

/** p50 and p95 in milliseconds of `RUNS` timed calls after `WARMUP` untimed ones. */
function time(fn: () => unknown): { p50: number; p95: number } {
  for (let i = 0; i < WARMUP; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor((RUNS - 1) * 0.5)], p95: ms[Math.floor((RUNS - 1) * 0.95)] };
}

const rides: { name: string; samples: Sample[] }[] = [
  { name: "synthetic 1 h, 1 Hz", samples: syntheticRide(3600) },
  { name: "synthetic 4 h, 1 Hz", samples: syntheticRide(14_400) },
];
for (const name of RIDES) {
  const url = new URL(`../tests/fixtures/rides/${name}.csv`, import.meta.url);
  rides.push({ name, samples: parseRide(await Deno.readTextFile(url)) });
}

const fmt = (t: { p50: number; p95: number }) =>
  `${t.p50.toFixed(3).padStart(7)} / ${t.p95.toFixed(3).padStart(7)}`;
console.log(`analytics, ms p50 / p95 over ${RUNS} runs (after ${WARMUP} warm-up runs)`);
console.log(
  `${"ride".padEnd(30)} ${"samples".padStart(7)} ${"grid s".padStart(7)}  ${
    ["toGrid", "MMP (14 durations)", "NP", "summarize"].map((h) => h.padEnd(17)).join("  ")
  }`,
);
for (const { name, samples } of rides) {
  const grid = toGrid(samples);
  const results = [
    time(() => toGrid(samples)),
    time(() => meanMaximalPower(grid)),
    time(() => normalizedPower(grid)),
    time(() => summarize(samples, { ftp: 250, maxHr: 190 })),
  ];
  console.log(
    `${name.padEnd(30)} ${String(samples.length).padStart(7)} ${
      String(grid.elapsedS).padStart(7)
    }  ${results.map((r) => fmt(r).padEnd(17)).join("  ")}`,
  );
  if (name.startsWith("synthetic")) {
    // The floor: one plain pass over the samples, what any computation over them costs at least.
    const pass = time(() => {
      let sum = 0;
      for (const s of samples) sum += s.power ?? 0;
      return sum;
    });
    record({
      bench: "analytics",
      cell: `summarize a ${name} ride, p50 (grid, MMP, NP, zones, totals)`,
      value: results[3].p50,
      unit: "ms",
      better: "lower",
      floor: { name: "one pass over the samples", value: pass.p50 },
    });
  }
}
