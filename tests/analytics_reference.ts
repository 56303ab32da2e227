// A deliberately naive reference implementation of the analytics rules (DESIGN §7) for the tests:
// plain objects per second, O(n·d) window scans, direct sums. It shares no code with src/analytics
// beyond the Sample type and the list of standard durations.

import assert from "node:assert/strict";
import { effortDurations } from "../src/analytics/durations.ts";
import type { Sample } from "../src/core/sample.ts";

/** One second of the reference grid. */
export type RefRow = {
  second: number;
  sampled: boolean;
  moving: boolean;
  power: number | null;
  cadence: number | null;
  heartRate: number | null;
  speed: number | null;
  distance: number | null;
  altitude: number | null;
};

/** A sample with every metric null unless given. */
export function sample(time: number, fields: Partial<Omit<Sample, "time">> = {}): Sample {
  return {
    time,
    power: null,
    cadence: null,
    heartRate: null,
    speed: null,
    distance: null,
    altitude: null,
    lat: null,
    lon: null,
    ...fields,
  };
}

/** Reference grid: one object per second from the first to the last sampled second. */
export function refGrid(samples: readonly Sample[]): RefRow[] {
  if (samples.length === 0) return [];
  const sorted = [...samples].sort((a, b) => a.time - b.time); // Array sort is stable
  const bySecond = new Map<number, Sample>();
  for (const s of sorted) bySecond.set(Math.floor(s.time / 1000), s); // later overwrites
  const first = Math.floor(sorted[0].time / 1000);
  const last = Math.floor(sorted[sorted.length - 1].time / 1000);
  const rows: RefRow[] = [];
  for (let second = first; second <= last; second++) {
    const own = bySecond.get(second);
    if (own) {
      rows.push(row(second, own, true, true));
      continue;
    }
    let prev = second - 1;
    while (!bySecond.has(prev)) prev--;
    let next = second + 1;
    while (!bySecond.has(next)) next++;
    const missing = next - prev - 1;
    if (missing <= 3) rows.push(row(second, bySecond.get(prev)!, false, true));
    else rows.push(row(second, null, false, false));
  }
  return rows;
}

function row(second: number, s: Sample | null, sampled: boolean, moving: boolean): RefRow {
  return {
    second,
    sampled,
    moving,
    power: s?.power ?? null,
    cadence: s?.cadence ?? null,
    heartRate: s?.heartRate ?? null,
    speed: s?.speed ?? null,
    distance: s?.distance ?? null,
    altitude: s?.altitude ?? null,
  };
}

/** Reference MMP: every window of d seconds summed directly, pauses and nulls as 0 W. */
export function refMmp(
  rows: readonly RefRow[],
  durations: readonly number[] = effortDurations,
): { duration: number; watts: number | null; startOffsetS: number | null }[] {
  const anyPower = rows.some((r) => r.power !== null);
  return durations.map((duration) => {
    if (!anyPower || duration > rows.length) return { duration, watts: null, startOffsetS: null };
    let best = -Infinity;
    let at = -1;
    for (let start = 0; start + duration <= rows.length; start++) {
      let sum = 0;
      for (let k = start; k < start + duration; k++) sum += rows[k].power ?? 0;
      // Strictly higher: on ties the earliest window stays.
      if (sum > best) [best, at] = [sum, start];
    }
    return { duration, watts: best / duration, startOffsetS: at };
  });
}

/** Reference NP: direct 30-s window means over the moving seconds with power. */
export function refNp(rows: readonly RefRow[]): number | null {
  const series = rows.filter((r) => r.moving && r.power !== null).map((r) => r.power!);
  if (series.length < 30) return null;
  const fourths: number[] = [];
  for (let i = 0; i + 30 <= series.length; i++) {
    let sum = 0;
    for (let k = i; k < i + 30; k++) sum += series[k];
    fourths.push((sum / 30) ** 4);
  }
  return (fourths.reduce((a, b) => a + b, 0) / fourths.length) ** 0.25;
}

const powerZoneTops = [55, 75, 90, 105, 120, 150];
const powerZoneNames = [
  "Active recovery",
  "Endurance",
  "Tempo",
  "Threshold",
  "VO2max",
  "Anaerobic",
  "Neuromuscular",
];
const heartRateZoneTops = [60, 70, 80, 90];
const lthrZoneTops = [81, 90, 94, 100, 103, 107];
const lthrZoneNames = ["1", "2", "3", "4", "5a", "5b", "5c"];

/** Reference Pw:HR decoupling: equal first and last halves of the paired moving seconds. */
export function refDecoupling(rows: readonly RefRow[]): number | null {
  const paired = rows.filter((r) => r.moving && r.power !== null && r.heartRate !== null);
  const half = Math.floor(paired.length / 2);
  if (half === 0) return null;
  const ratio = (part: RefRow[]) => {
    const p = part.reduce((a, r) => a + r.power!, 0) / part.length;
    const h = part.reduce((a, r) => a + r.heartRate!, 0) / part.length;
    return { p, h };
  };
  const first = ratio(paired.slice(0, half));
  const second = ratio(paired.slice(paired.length - half));
  if (first.h === 0 || second.h === 0 || first.p === 0) return null;
  const r1 = first.p / first.h;
  const r2 = second.p / second.h;
  return (r1 - r2) / r1 * 100;
}

/** Reference Banister TRIMP over moving seconds with heart rate (HRr below 0 counts as 0). */
export function refTrimp(
  rows: readonly RefRow[],
  restingHr: number | null,
  maxHr: number | null,
): number | null {
  const bpm = rows.filter((r) => r.moving && r.heartRate !== null).map((r) => r.heartRate!);
  if (restingHr === null || maxHr === null || restingHr >= maxHr || bpm.length === 0) return null;
  let total = 0;
  for (const hr of bpm) {
    const hrr = Math.max(0, (hr - restingHr) / (maxHr - restingHr));
    total += hrr * 0.64 * Math.exp(1.92 * hrr) / 60;
  }
  return total;
}

/** Reference summary built from the reference grid. */
export function refSummary(
  samples: readonly Sample[],
  options: {
    ftp?: number | null;
    maxHr?: number | null;
    restingHr?: number | null;
    lthr?: number | null;
  } = {},
) {
  const ftp = options.ftp ?? null;
  const maxHr = options.maxHr ?? null;
  const restingHr = options.restingHr ?? null;
  const lthr = options.lthr ?? null;
  const rows = refGrid(samples);
  const moving = rows.filter((r) => r.moving);
  const values = (key: "power" | "cadence" | "heartRate" | "speed") =>
    moving.filter((r) => r[key] !== null).map((r) => r[key]!);
  const avg = (xs: number[]) => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  const max = (xs: number[]) => xs.length ? Math.max(...xs) : null;
  const watts = values("power");
  const bpm = values("heartRate");
  const distances = samples.filter((s) => s.distance !== null).map((s) => s.distance!);
  const altitudes = rows.filter((r) => r.sampled && r.altitude !== null).map((r) => r.altitude!);
  let gain: number | null = null;
  if (altitudes.length >= 2) {
    gain = 0;
    for (let i = 1; i < altitudes.length; i++) {
      if (altitudes[i] > altitudes[i - 1]) gain += altitudes[i] - altitudes[i - 1];
    }
  }
  const times = samples.map((s) => s.time);
  const np = refNp(rows);
  const intensity = np !== null && ftp !== null ? np / ftp : null;
  return {
    startTime: times.length ? new Date(Math.min(...times)).toISOString() : null,
    endTime: times.length ? new Date(Math.max(...times)).toISOString() : null,
    elapsedS: rows.length,
    movingS: moving.length,
    sampleCount: samples.length,
    avgPower: avg(watts),
    maxPower: max(watts),
    normalizedPower: np,
    intensityFactor: intensity,
    tss: intensity !== null ? moving.length / 3600 * intensity ** 2 * 100 : null,
    workKj: watts.length ? watts.reduce((a, b) => a + b, 0) / 1000 : null,
    avgCadence: avg(values("cadence")),
    maxCadence: max(values("cadence")),
    avgHeartRate: avg(bpm),
    maxHeartRate: max(bpm),
    avgSpeed: avg(values("speed")),
    maxSpeed: max(values("speed")),
    distanceM: distances.length ? Math.max(...distances) - Math.min(...distances) : null,
    elevationGainM: gain,
    powerCurve: refMmp(rows),
    powerZones: ftp === null ? null : powerZoneNames.map((name, z) => ({
      zone: z + 1,
      name,
      minPct: z === 0 ? 0 : powerZoneTops[z - 1],
      maxPct: z < powerZoneTops.length ? powerZoneTops[z] : null,
      // Compared as watts × 100 against pct × FTP: exact for whole numbers.
      seconds: watts.filter((w) =>
        (z === 0 || w * 100 > powerZoneTops[z - 1] * ftp) &&
        (z === powerZoneTops.length || w * 100 <= powerZoneTops[z] * ftp)
      ).length,
    })),
    heartRateZones: maxHr === null ? null : [0, 1, 2, 3, 4].map((z) => ({
      zone: z + 1,
      minPct: z === 0 ? 0 : heartRateZoneTops[z - 1],
      maxPct: z < heartRateZoneTops.length ? heartRateZoneTops[z] : null,
      seconds: bpm.filter((b) =>
        (z === 0 || b * 100 >= heartRateZoneTops[z - 1] * maxHr) &&
        (z === heartRateZoneTops.length || b * 100 < heartRateZoneTops[z] * maxHr)
      ).length,
    })),
    ftp,
    maxHr,
    restingHr,
    lthr,
    variabilityIndex: np !== null && avg(watts) ? np / avg(watts)! : null,
    efficiencyFactor: np !== null && avg(bpm) ? np / avg(bpm)! : null,
    decouplingPct: refDecoupling(rows),
    trimp: refTrimp(rows, restingHr, maxHr),
    lthrZones: lthr === null ? null : lthrZoneNames.map((name, z) => ({
      zone: z + 1,
      name,
      minPct: z === 0 ? 0 : lthrZoneTops[z - 1],
      maxPct: z < lthrZoneTops.length ? lthrZoneTops[z] : null,
      seconds: bpm.filter((b) =>
        (z === 0 || b * 100 >= lthrZoneTops[z - 1] * lthr) &&
        (z === lthrZoneTops.length || b * 100 < lthrZoneTops[z] * lthr)
      ).length,
    })),
  };
}

/** Decimals API answers keep per field name (docs/analytics.md, "Precision"); others exact. */
const answerDecimals: Record<string, number> = {
  watts: 1,
  previousWatts: 1,
  avgPower: 1,
  maxPower: 1,
  normalizedPower: 1,
  avgCadence: 1,
  maxCadence: 1,
  avgHeartrate: 1,
  avgHeartRate: 1,
  maxHeartRate: 1,
  maxHeartrate: 1,
  avgSpeed: 2,
  maxSpeed: 2,
  totalDistance: 1,
  totalElevationGain: 1,
  distanceM: 1,
  elevationGainM: 1,
  totalEnergy: 1,
  workKj: 1,
  tss: 1,
  trainingLoad: 1,
  trimp: 1,
  ctl: 1,
  atl: 1,
  tsb: 1,
  intensityFactor: 3,
  variabilityIndex: 3,
  efficiencyFactor: 3,
  decouplingPct: 2,
};

/** Rounds every number of an exact expected answer as the API does, by field name. */
export function roundedAnswer<T>(expected: T, key = ""): T {
  if (typeof expected === "number" && key in answerDecimals) {
    const f = 10 ** answerDecimals[key];
    const r = Math.round(Math.abs(expected) * f) / f * Math.sign(expected);
    return (r === 0 ? 0 : r) as T;
  }
  if (Array.isArray(expected)) return expected.map((v) => roundedAnswer(v, key)) as T;
  if (expected && typeof expected === "object") {
    return Object.fromEntries(
      Object.entries(expected).map(([k, v]) => [k, roundedAnswer(v, k)]),
    ) as T;
  }
  return expected;
}

/** `assertClose` against the exact expected answer rounded as the API rounds it. */
export function assertRounded(actual: unknown, expected: unknown, path = "$"): void {
  assertClose(actual, roundedAnswer(expected), path);
}

/** Deep equality where numbers may differ by a relative 1e-9 (sums taken in another order). */
export function assertClose(actual: unknown, expected: unknown, path = "$"): void {
  if (typeof expected === "number" && typeof actual === "number") {
    const scale = Math.max(1, Math.abs(expected));
    assert.ok(
      actual === expected || Math.abs(actual - expected) <= 1e-9 * scale,
      `${path}: ${actual} is not ${expected}`,
    );
    return;
  }
  if (expected !== null && typeof expected === "object") {
    assert.ok(actual !== null && typeof actual === "object", `${path}: ${actual} is not an object`);
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), `${path}: keys differ`);
    for (const key of Object.keys(e)) assertClose(a[key], e[key], `${path}.${key}`);
    return;
  }
  assert.equal(actual, expected, path);
}

/** Parses a ride CSV of tests/fixtures/rides (empty cell = null). */
export function parseRideCsv(text: string): Sample[] {
  const lines = text.trim().split("\n");
  assert.equal(
    lines[0],
    "epoch_ms,power,cadence,heart_rate,speed_kmh,distance_m,altitude_m",
  );
  const num = (cell: string) => cell === "" ? null : Number(cell);
  return lines.slice(1).map((line) => {
    const [t, power, cadence, heartRate, speed, distance, altitude] = line.split(",");
    return sample(Number(t), {
      power: num(power),
      cadence: num(cadence),
      heartRate: num(heartRate),
      speed: num(speed),
      distance: num(distance),
      altitude: num(altitude),
    });
  });
}

/** Reads and parses one ride CSV from tests/fixtures/rides/. */
export async function readRide(name: string): Promise<Sample[]> {
  const url = new URL(`./fixtures/rides/${name}.csv`, import.meta.url);
  return parseRideCsv(await Deno.readTextFile(url));
}

/** A seeded PRNG (mulberry32) returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
