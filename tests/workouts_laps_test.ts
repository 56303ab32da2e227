// Laps from files (docs/analytics.md, "Laps"): the real FIT rides with lap messages and a TCX with
// laps and a pause, through POST /api/workouts/import and GET /api/workouts/{id}/laps, against a
// reference built here from Garmin's SDK lap times and the naive grid (tests/analytics_reference.ts).

import assert from "node:assert/strict";
import { Decoder, Stream } from "@garmin/fitsdk";
import type { Sample } from "../src/core/sample.ts";
import { assertRounded, readRide, refGrid, refNp, type RefRow } from "./analytics_reference.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

async function upload(token: string, bytes: Uint8Array, type: string): Promise<string> {
  const res = await t.app.request("/api/workouts/import", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": type },
    body: bytes as BodyInit,
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()).workout.id;
}

async function laps(token: string, id: string) {
  const res = await t.request("GET", `/api/workouts/${id}/laps`, { token });
  return { status: res.status, body: await res.json() };
}

/** Reference laps: lap i = grid seconds from its start to the next start, the last to the end. */
function refLaps(samples: Sample[], starts: number[]) {
  const rows = refGrid(samples);
  const first = rows[0].second;
  const bounds = starts.map((ms) => Math.floor(ms / 1000) - first);
  return bounds.map((from, i) => {
    const to = i + 1 < bounds.length ? bounds[i + 1] : rows.length;
    const lap = rows.slice(from, to);
    const moving = lap.filter((r) => r.moving);
    const values = (key: keyof RefRow) =>
      moving.filter((r) => r[key] !== null).map((r) => r[key] as number);
    const avg = (xs: number[]) => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
    const max = (xs: number[]) => xs.length ? Math.max(...xs) : null;
    return {
      lap: i + 1,
      startTime: new Date((first + from) * 1000).toISOString(),
      endTime: new Date((first + to) * 1000).toISOString(),
      durationS: lap.length,
      movingS: moving.length,
      avgPower: avg(values("power")),
      maxPower: max(values("power")),
      normalizedPower: refNp(lap),
      avgHeartRate: avg(values("heartRate")),
      maxHeartRate: max(values("heartRate")),
      avgCadence: avg(values("cadence")),
      maxCadence: max(values("cadence")),
    };
  });
}

for (
  const [name, count] of [["indoor_edge800_trainer", 5], ["outdoor_edge810_vector", 8]] as const
) {
  Deno.test(`${name}.fit: ${count} laps, each summary equal to the reference`, async () => {
    const bytes = await Deno.readFile(new URL(`./fixtures/rides/${name}.fit`, import.meta.url));
    const { messages } = new Decoder(Stream.fromByteArray(bytes)).read();
    const starts = (messages.lapMesgs as { startTime: Date }[]).map((l) => l.startTime.getTime());
    assert.equal(starts.length, count);
    const rider = await registerRider(t);
    const id = await upload(rider.accessToken, bytes, "application/vnd.ant.fit");
    const { status, body } = await laps(rider.accessToken, id);
    assert.equal(status, 200);
    assertRounded(body.laps, refLaps(await readRide(name), starts));
    assert.ok(body.laps.every((l: { normalizedPower: number | null }) => l.normalizedPower));

    // Another rider sees neither the laps nor that the workout exists.
    const other = await registerRider(t);
    const peek = await laps(other.accessToken, id);
    assert.equal(peek.status, 404);
    assert.equal(peek.body.laps, undefined);
  });
}

Deno.test("TCX laps: a pause inside a lap is left out of its moving time and averages", async () => {
  const t0 = Date.UTC(2026, 2, 1, 10);
  const points: string[] = [];
  const at = (s: number) => new Date(t0 + s * 1000).toISOString();
  // Lap 1: 0..59 s at 200 W / 130 bpm; lap 2 from 60 s: 60..89 s at 300 W, a pause to 120 s,
  // 120..149 s at 100 W (no heart rate).
  const seconds = [
    ...Array.from({ length: 60 }, (_, s) => [s, 200, 130]),
    ...Array.from({ length: 30 }, (_, s) => [60 + s, 300, 150]),
    ...Array.from({ length: 30 }, (_, s) => [120 + s, 100, null]),
  ] as [number, number, number | null][];
  for (const [s, w, hr] of seconds) {
    if (s === 60) points.push("</Track></Lap>", `<Lap StartTime="${at(60)}"><Track>`);
    points.push(
      `<Trackpoint><Time>${at(s)}</Time>` +
        (hr === null ? "" : `<HeartRateBpm><Value>${hr}</Value></HeartRateBpm>`) +
        `<Extensions><TPX><Watts>${w}</Watts></TPX></Extensions></Trackpoint>`,
    );
  }
  const tcx = `<?xml version="1.0"?><TrainingCenterDatabase><Activities><Activity Sport="Biking">` +
    `<Id>${at(0)}</Id><Lap StartTime="${at(0)}"><Track>${points.join("")}</Track></Lap>` +
    `</Activity></Activities></TrainingCenterDatabase>`;
  const rider = await registerRider(t);
  const id = await upload(
    rider.accessToken,
    new TextEncoder().encode(tcx),
    "application/vnd.garmin.tcx+xml",
  );
  const { status, body } = await laps(rider.accessToken, id);
  assert.equal(status, 200);
  assert.equal(body.laps.length, 2);
  const [one, two] = body.laps;
  assert.deepEqual([one.durationS, one.movingS, one.avgPower, one.normalizedPower], [
    60,
    60,
    200,
    200,
  ]);
  assert.deepEqual([one.startTime, one.endTime], [at(0), at(60)]);
  assert.deepEqual([two.durationS, two.movingS, two.avgPower, two.maxPower], [90, 60, 200, 300]);
  assert.deepEqual([two.avgHeartRate, two.maxHeartRate], [150, 150]);
  assert.equal(two.endTime, at(150));
});

Deno.test("a ride without laps answers an empty list; an unknown id 404", async () => {
  const rider = await registerRider(t);
  const res = await t.request("POST", "/api/workouts/import", {
    token: rider.accessToken,
    body: { samples: [{ time: "2026-03-01T10:00:00Z", power: 100 }] },
  });
  assert.equal(res.status, 201, await res.clone().text());
  const { workout } = await res.json();
  assert.deepEqual((await laps(rider.accessToken, workout.id)).body, { laps: [] });
  assert.equal((await laps(rider.accessToken, crypto.randomUUID())).status, 404);
});
