// Answers of 1 KiB or more (JSON, exported ride files) are gzipped when the client accepts gzip;
// the decoded bytes are exactly the uncompressed answer. Small answers, clients that do not ask,
// and server-sent events are sent as they are.
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

const gzip = { "accept-encoding": "gzip, deflate, br" };

async function importedRide(token: string): Promise<string> {
  const fit = await Deno.readFile(
    new URL("./fixtures/rides/outdoor_edge810_vector.fit", import.meta.url),
  );
  const res = await t.app.request("/api/workouts/import", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/vnd.ant.fit" },
    body: fit as BodyInit,
  });
  assert.equal(res.status, 201);
  return (await res.json()).workout.id;
}

Deno.test("a large JSON answer is gzipped for a client that accepts it, and decodes to the same bytes", async () => {
  const rider = await registerRider(t);
  const id = await importedRide(rider.accessToken);
  const path = `/api/workouts/${id}/telemetry?resolution=1m`;
  const plain = await t.request("GET", path, { token: rider.accessToken });
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get("content-encoding"), null);
  assert.match(plain.headers.get("vary") ?? "", /accept-encoding/i);
  const plainBytes = new Uint8Array(await plain.arrayBuffer());
  assert.ok(plainBytes.length >= 1024, `the answer is ${plainBytes.length} bytes`);

  const zipped = await t.request("GET", path, { token: rider.accessToken, headers: gzip });
  assert.equal(zipped.status, 200);
  assert.equal(zipped.headers.get("content-encoding"), "gzip");
  assert.equal(zipped.headers.get("content-type"), plain.headers.get("content-type"));
  const zippedBytes = new Uint8Array(await zipped.arrayBuffer());
  assert.ok(zippedBytes.length < plainBytes.length / 2, `${zippedBytes.length} bytes gzipped`);
  assert.deepEqual(new Uint8Array(gunzipSync(zippedBytes)), plainBytes);
});

Deno.test("exports are gzipped too; small answers and clients that do not ask are not", async () => {
  const rider = await registerRider(t);
  const id = await importedRide(rider.accessToken);
  for (const format of ["gpx", "tcx", "csv", "fit"]) {
    const path = `/api/workouts/${id}/export?format=${format}`;
    const plain = new Uint8Array(
      await (await t.request("GET", path, { token: rider.accessToken })).arrayBuffer(),
    );
    const res = await t.request("GET", path, { token: rider.accessToken, headers: gzip });
    assert.equal(res.headers.get("content-encoding"), "gzip", format);
    assert.ok(res.headers.get("content-disposition")?.startsWith("attachment"), format);
    assert.deepEqual(new Uint8Array(gunzipSync(new Uint8Array(await res.arrayBuffer()))), plain);
  }
  // The rider's own profile is a few hundred bytes: not worth a gzip frame.
  const me = await t.request("GET", "/api/users/me", { token: rider.accessToken, headers: gzip });
  assert.equal(me.status, 200);
  assert.equal(me.headers.get("content-encoding"), null);
  assert.equal((await me.json()).id, rider.user.id);
  // q=0 refuses gzip.
  const refused = await t.request("GET", `/api/workouts/${id}/export?format=gpx`, {
    token: rider.accessToken,
    headers: { "accept-encoding": "gzip;q=0" },
  });
  assert.equal(refused.headers.get("content-encoding"), null);
  await refused.body?.cancel();
});

Deno.test("server-sent events are never compressed", async () => {
  const rider = await registerRider(t);
  const name = `gz-${crypto.randomUUID().slice(0, 8)}`;
  await t.request("POST", "/api/streams/create", {
    token: rider.accessToken,
    body: { streamName: name },
  });
  const res = await t.request("GET", `/api/streams/${name}/listen`, {
    token: rider.accessToken,
    headers: gzip,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  assert.equal(res.headers.get("content-encoding"), null);
  const reader = res.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.match(first, /^data: \{"type":"connected"/);
  await reader.cancel();
});
