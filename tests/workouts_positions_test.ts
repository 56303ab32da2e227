// Positions in GET /api/workouts/:id/telemetry at 1s, 10s and 1m, against a reduction of `raw`
// on a recorded outdoor ride (GPS with auto-pauses).

import assert from "node:assert/strict";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

type Columns = { time: string[]; lat: (number | null)[]; lon: (number | null)[] };

/** Per bucket start (epoch ms), the last raw sample (by time) with both lat and lon. */
function lastPositions(raw: Columns, widthMs: number): Map<number, [number, number]> {
  const last = new Map<number, { t: number; pos: [number, number] }>();
  raw.time.forEach((iso, i) => {
    const lat = raw.lat[i];
    const lon = raw.lon[i];
    if (lat === null || lon === null) return;
    const t = Date.parse(iso);
    const bucket = Math.floor(t / widthMs) * widthMs;
    const seen = last.get(bucket);
    if (!seen || t >= seen.t) last.set(bucket, { t, pos: [lat, lon] });
  });
  return new Map([...last].map(([bucket, { pos }]) => [bucket, pos]));
}

Deno.test("1s, 10s and 1m carry the last position of each second or bucket from raw", async () => {
  const rider = await registerRider(t);
  const fit = await Deno.readFile(
    new URL("./fixtures/rides/outdoor_elemnt_autopause.fit", import.meta.url),
  );
  const res = await t.app.request("/api/workouts/import", {
    method: "POST",
    headers: {
      authorization: `Bearer ${rider.accessToken}`,
      "content-type": "application/vnd.ant.fit",
    },
    body: fit,
  });
  assert.equal(res.status, 201, await res.clone().text());
  const { workout } = await res.json();
  const get = async (resolution: string): Promise<Columns> => {
    const r = await t.request(
      "GET",
      `/api/workouts/${workout.id}/telemetry?resolution=${resolution}&fields=lat,lon`,
      { token: rider.accessToken },
    );
    assert.equal(r.status, 200);
    return await r.json();
  };
  const raw = await get("raw");
  assert.ok(raw.lat.filter((v) => v !== null).length > 1000, "the ride has GPS");
  for (const [resolution, widthMs] of [["1s", 1000], ["10s", 10_000], ["1m", 60_000]] as const) {
    const expected = lastPositions(raw, widthMs);
    const series = await get(resolution);
    const got = series.time.map((iso, i) => [Date.parse(iso), series.lat[i], series.lon[i]]);
    for (const [time, lat, lon] of got) {
      const want = expected.get(time as number) ?? [null, null];
      assert.deepEqual([lat, lon], want, `${resolution} at ${new Date(time!).toISOString()}`);
    }
    // Every bucket that has a position is in the series.
    assert.equal(got.filter(([, lat]) => lat !== null).length, expected.size, resolution);
  }
});
