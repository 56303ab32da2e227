// Rides and naive calendar helpers for the history analytics tests (analytics_totals_test.ts,
// analytics_history_test.ts). The calendar code here shares nothing with src/analytics: local
// dates come from Intl, periods from walking day by day.

import assert from "node:assert/strict";
import type { Sample } from "../src/core/sample.ts";
import { prng, refSummary } from "./analytics_reference.ts";
import { registerRider, type TestApp } from "./support.ts";

/** A rider with an FTP and max heart rate, so rides get TSS and zone times. */
export async function riderWith(
  t: TestApp,
  settings: { ftpWatts: number | null; maxHr: number | null },
) {
  const rider = await registerRider(t);
  await setSettings(t, rider.accessToken, settings);
  return rider;
}

/** Changes the rider's FTP and max heart rate. */
export async function setSettings(
  t: TestApp,
  token: string,
  settings: { ftpWatts: number | null; maxHr: number | null },
): Promise<void> {
  const res = await t.request("PATCH", "/api/users/me", { token, body: settings });
  assert.equal(res.status, 200);
  await res.body?.cancel();
}

/**
 * A random 1 Hz ride from `start` (ms): blocks of power with some nulls and zeros, a pause of a
 * minute, heart rate, distance and rolling altitude.
 */
export function randomRide(start: number, seconds: number, seed: number): Sample[] {
  const random = prng(seed);
  const samples: Sample[] = [];
  let block = 150 + random() * 200;
  const pauseAt = Math.floor(seconds / 2);
  for (let i = 0; i < seconds; i++) {
    if (i >= pauseAt && i < pauseAt + 60) continue;
    if (i % 60 === 0) block = 100 + Math.floor(random() * 300);
    const roll = random();
    samples.push({
      time: start + i * 1000,
      power: roll < 0.02 ? null : roll < 0.05 ? 0 : block + Math.floor(random() * 40),
      cadence: 80 + Math.floor(random() * 20),
      heartRate: roll < 0.03 ? null : 110 + Math.floor(random() * 80),
      speed: 25 + random() * 10,
      distance: i * 7.25,
      altitude: 200 + Math.round(30 * Math.sin(i / 90) * 10) / 10,
      lat: null,
      lon: null,
    });
  }
  return samples;
}

/** An archived ride: its id, start and the naive reference summary. */
export type Ride = {
  id: string;
  start: number;
  samples: Sample[];
  ref: ReturnType<typeof refSummary>;
};

/** Imports a ride through POST /api/workouts/import; answers it with its reference summary. */
export async function importRide(
  t: TestApp,
  token: string,
  samples: Sample[],
  settings: { ftp: number | null; maxHr: number | null },
): Promise<Ride> {
  const res = await t.request("POST", "/api/workouts/import", { token, body: { samples } });
  assert.equal(res.status, 201, await res.clone().text());
  const { workout } = await res.json();
  return { id: workout.id, start: samples[0].time, samples, ref: refSummary(samples, settings) };
}

/** The local date ("YYYY-MM-DD") of an instant in a time zone, from Intl. */
export function localDate(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(new Date(ms));
}

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** The first day of a day's ISO week (walking back to a Monday), month or year. */
export function naivePeriodStart(day: string, period: "week" | "month" | "year"): string {
  if (period === "month") return `${day.slice(0, 7)}-01`;
  if (period === "year") return `${day.slice(0, 4)}-01-01`;
  let d = day;
  const weekday = (x: string) => new Date(`${x}T00:00:00Z`).getUTCDay();
  while (weekday(d) !== 1) {
    d = new Date(Date.parse(`${d}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  }
  return d;
}

/** Every day from `from` to `to` inclusive. */
export function daysFrom(from: string, to: string): string[] {
  const days: string[] = [];
  for (let d = from; d <= to; d = nextDay(d)) days.push(d);
  return days;
}

/** The periods from the one containing `from` to the one containing `to`, with their ends. */
export function naivePeriods(period: "week" | "month" | "year", from: string, to: string) {
  const starts: string[] = [];
  const first = naivePeriodStart(from, period);
  let day = first;
  for (; day <= to; day = nextDay(day)) {
    const start = naivePeriodStart(day, period);
    if (starts.at(-1) !== start) starts.push(start);
  }
  // Walk on to the first day of the period after the last one.
  while (naivePeriodStart(day, period) === starts.at(-1)) day = nextDay(day);
  return starts.map((start, i) => ({ start, end: starts[i + 1] ?? day }));
}
