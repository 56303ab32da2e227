// Duplicate rides across formats, .gz uploads and GET /api/workouts/:id/original.

import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

const rides = new URL("./fixtures/rides/", import.meta.url);

function post(token: string, bytes: Uint8Array, type: string, query = ""): Promise<Response> {
  return Promise.resolve(t.app.request(`/api/workouts/import${query}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": type },
    body: bytes as BodyInit,
  }));
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("a FIT and the Strava GPX of the same ride: 201, then 409 naming it; keep stores it", async () => {
  const rider = await registerRider(t);
  const fit = await Deno.readFile(new URL("outdoor_edge1000_zpider.fit", rides));
  const gpx = await Deno.readFile(new URL("outdoor_edge1000_zpider.strava.gpx", rides));
  const first = await post(rider.accessToken, fit, "application/vnd.ant.fit");
  assert.equal(first.status, 201, await first.clone().text());
  const { workout } = await first.json();
  const second = await post(rider.accessToken, gpx, "application/gpx+xml");
  assert.equal(second.status, 409);
  const refused = await second.json();
  assert.equal(refused.code, "duplicate_workout");
  assert.equal(refused.existingWorkoutId, workout.id);
  const [n] = await t.sql`select count(*)::int as n from workouts where user_id = ${rider.user.id}`;
  assert.equal(n.n, 1);
  const kept = await post(rider.accessToken, gpx, "application/gpx+xml", "?duplicate=keep");
  assert.equal(kept.status, 201);
  await kept.body?.cancel();
});

Deno.test("a .gz upload imports its ride; the original comes back byte for byte, owner only", async () => {
  const rider = await registerRider(t);
  const fit = await Deno.readFile(new URL("indoor_edge800_trainer.fit", rides));
  const gz = new Uint8Array(gzipSync(fit));
  const res = await post(rider.accessToken, gz, "application/gzip", "?filename=ride.fit.gz");
  assert.equal(res.status, 201);
  const { workout, file } = await res.json();
  assert.equal(file.format, "fit");
  const original = await t.request("GET", `/api/workouts/${workout.id}/original`, {
    token: rider.accessToken,
  });
  assert.equal(original.status, 200);
  assert.equal(original.headers.get("content-type"), "application/gzip");
  assert.match(original.headers.get("content-disposition") ?? "", /ride\.fit\.gz/);
  assert.equal(await sha256(new Uint8Array(await original.arrayBuffer())), await sha256(gz));

  const other = await registerRider(t);
  const theirs = await t.request("GET", `/api/workouts/${workout.id}/original`, {
    token: other.accessToken,
  });
  assert.equal(theirs.status, 404);
  await theirs.body?.cancel();
});
