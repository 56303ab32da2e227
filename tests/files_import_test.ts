// Ride files through POST /api/workouts/import: the real device files of
// tests/fixtures/rides (see its README) and every way an upload can be wrong.

import assert from "node:assert/strict";
import { summarize } from "../src/analytics/power.ts";
import { summaryJson } from "../src/workouts/workout_json.ts";
import { readRide } from "./analytics_reference.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

const rides = new URL("./fixtures/rides/", import.meta.url);

function readFile(name: string): Promise<Uint8Array> {
  return Deno.readFile(new URL(name, rides));
}

/** Posts a raw body to the import route. */
function upload(
  token: string,
  bytes: Uint8Array | string,
  options: { type?: string; query?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (options.type !== undefined) headers["content-type"] = options.type;
  return Promise.resolve(t.app.request(`/api/workouts/import${options.query ?? ""}`, {
    method: "POST",
    headers,
    body: bytes as BodyInit,
  }));
}

/** The summary the import must produce: the analytics of the decoded CSV (no FTP, no max HR). */
async function expectedSummary(csvName: string) {
  const summary = summarize(await readRide(csvName));
  // A rider's first ride has no CP and W′ before it: its W′ balance is null (a ride with power).
  if (summary.maxPower !== null) summary.wPrimeBalance = null;
  return JSON.parse(JSON.stringify(summaryJson(summary)));
}

/** The README's table: rows, start (UTC), elapsed and moving seconds under our rules. */
const fitRides = [
  {
    name: "outdoor_edge1000_zpider",
    rows: 8357,
    start: "2019-09-20T14:10:03.000Z",
    elapsedS: 8357,
    movingS: 8357,
  },
  {
    name: "outdoor_elemnt_autopause",
    rows: 13471,
    start: "2019-02-17T06:26:44.000Z",
    elapsedS: 23592,
    movingS: 13482,
  },
  {
    name: "indoor_edge800_trainer",
    rows: 2263,
    start: "2011-11-02T12:54:19.000Z",
    elapsedS: 2264,
    movingS: 2264,
  },
  {
    name: "outdoor_edge810_vector",
    rows: 4700,
    start: "2013-08-16T18:05:10.000Z",
    elapsedS: 4700,
    movingS: 4700,
  },
];

for (const ride of fitRides) {
  Deno.test(`POST /api/workouts/import turns ${ride.name}.fit into the README's ride`, async () => {
    const rider = await registerRider(t);
    const res = await upload(rider.accessToken, await readFile(`${ride.name}.fit`), {
      type: "application/vnd.ant.fit",
    });
    assert.equal(res.status, 201);
    const body = await res.json();
    assert.equal(body.archivedMessages, ride.rows);
    assert.equal(body.file.format, "fit");
    assert.equal(body.file.duplicate, false);
    const w = body.workout;
    assert.equal(w.status, "completed");
    assert.equal(w.sport, "cycling"); // the FIT session's sport
    assert.equal(w.startTime, ride.start); // the FIT file's own start
    assert.equal(w.duration, ride.elapsedS);
    assert.equal(w.summary.sampleCount, ride.rows);
    assert.equal(w.summary.elapsedTime, ride.elapsedS);
    assert.equal(w.summary.movingTime, ride.movingS);
    // Every figure equals the analytics of the README's decoded CSV.
    assert.deepEqual(w.summary, await expectedSummary(ride.name));
    assert.notEqual(w.summary.normalizedPower, null);
  });
}

Deno.test("the Strava GPX with <power> imports to the same power, heart rate and time as its FIT", async () => {
  const rider = await registerRider(t);
  const res = await upload(
    rider.accessToken,
    await readFile("outdoor_edge1000_zpider.strava.gpx"),
    {
      type: "application/gpx+xml",
    },
  );
  assert.equal(res.status, 201);
  const { workout } = await res.json();
  assert.equal(workout.title, "De benen op spanning zetten met Martijn"); // <trk><name>
  assert.equal(workout.sport, "cycling"); // Strava's <type>1</type>
  assert.equal(workout.startTime, "2019-09-20T14:10:03.000Z");
  assert.deepEqual(workout.summary, await expectedSummary("outdoor_edge1000_zpider_gpx"));
  const fit = await expectedSummary("outdoor_edge1000_zpider");
  for (const key of ["avgPower", "maxPower", "normalizedPower", "avgHeartrate", "powerCurve"]) {
    assert.deepEqual(workout.summary[key], fit[key], key);
  }
  assert.equal(workout.summary.totalDistance, null); // GPX carries no distance
  const [pos] = await t.sql`
    select count(*)::int as n from telemetry where workout_id = ${workout.id} and lat is not null
  `;
  assert.equal(pos.n, 8357);
});

Deno.test("a decoded fixture ride CSV imports as text/csv to the same summary", async () => {
  const rider = await registerRider(t);
  const res = await upload(rider.accessToken, await readFile("outdoor_edge810_vector.csv"), {
    type: "text/csv",
    query: "?title=Vector%20test&sport=cycling",
  });
  assert.equal(res.status, 201);
  const { workout } = await res.json();
  assert.equal(workout.title, "Vector test");
  assert.deepEqual(workout.summary, await expectedSummary("outdoor_edge810_vector"));
});

Deno.test("multipart/form-data takes the file field, title and sport; octet-stream is sniffed", async () => {
  const rider = await registerRider(t);
  const bytes = await readFile("indoor_edge800_trainer.fit");
  const form = new FormData();
  form.append("file", new File([bytes as BlobPart], "trainer.fit"));
  form.append("title", "Intervals");
  form.append("sport", "indoor cycling");
  const res = await t.app.request("/api/workouts/import", {
    method: "POST",
    headers: { authorization: `Bearer ${rider.accessToken}` },
    body: form,
  });
  assert.equal(res.status, 201);
  const body = await res.json();
  assert.equal(body.workout.title, "Intervals");
  assert.equal(body.workout.sport, "indoor cycling");
  assert.equal(body.file.format, "fit");

  const other = await registerRider(t);
  const raw = await upload(other.accessToken, bytes, {
    type: "application/octet-stream",
    query: "?filename=Tuesday%20trainer.fit",
  });
  assert.equal(raw.status, 201);
  const rawBody = await raw.json();
  assert.equal(rawBody.file.format, "fit"); // told by the ".FIT" magic bytes
  assert.equal(rawBody.workout.title, "Tuesday trainer"); // from the file name
  assert.equal(rawBody.workout.sport, "cycling");
});

Deno.test("the original file is kept byte for byte and goes with its workout", async () => {
  const rider = await registerRider(t);
  const bytes = await readFile("indoor_edge800_trainer.fit");
  const res = await upload(rider.accessToken, bytes, { type: "application/vnd.ant.fit" });
  assert.equal(res.status, 201);
  const { workout, file } = await res.json();
  const [row] = await t.sql<{ bytes: Uint8Array; sha256: Uint8Array; format: string }[]>`
    select bytes, sha256, format from workout_files where workout_id = ${workout.id}
  `;
  assert.deepEqual(new Uint8Array(row.bytes), bytes);
  assert.equal(row.format, "fit");
  assert.equal(Buffer.from(row.sha256).toString("hex"), file.sha256);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  assert.deepEqual(new Uint8Array(row.sha256), digest);
  const del = await t.request("DELETE", `/api/workouts/${workout.id}`, {
    token: rider.accessToken,
  });
  assert.equal(del.status, 200);
  await del.body?.cancel();
  const [left] = await t.sql`
    select count(*)::int as n from workout_files where workout_id = ${workout.id}
  `;
  assert.equal(left.n, 0);
});

Deno.test("uploading the same file again answers 200 with the same workout; another rider gets a new one", async () => {
  const rider = await registerRider(t);
  const bytes = await readFile("outdoor_edge810_vector.fit");
  const first = await upload(rider.accessToken, bytes, { type: "application/vnd.ant.fit" });
  assert.equal(first.status, 201);
  const a = await first.json();
  const again = await upload(rider.accessToken, bytes, { type: "application/octet-stream" });
  assert.equal(again.status, 200);
  const b = await again.json();
  assert.equal(b.workout.id, a.workout.id);
  assert.equal(b.file.duplicate, true);
  assert.equal(b.archivedMessages, 4700);
  const list = await (await t.request("GET", "/api/workouts", { token: rider.accessToken })).json();
  assert.equal(list.pagination.total, 1);

  const other = await registerRider(t);
  const theirs = await upload(other.accessToken, bytes, { type: "application/vnd.ant.fit" });
  assert.equal(theirs.status, 201);
  assert.notEqual((await theirs.json()).workout.id, a.workout.id);
});

Deno.test("concurrent uploads of one file make one workout", async () => {
  const rider = await registerRider(t);
  const bytes = await readFile("indoor_edge800_trainer.fit");
  const answers = await Promise.all(
    [0, 1, 2].map(() => upload(rider.accessToken, bytes, { type: "application/vnd.ant.fit" })),
  );
  const bodies = await Promise.all(answers.map((r) => r.json()));
  assert.deepEqual(answers.map((r) => r.status).sort(), [200, 200, 201]);
  assert.equal(new Set(bodies.map((b) => b.workout.id)).size, 1);
  const [n] = await t.sql`
    select count(*)::int as n from workouts where user_id = ${rider.user.id}
  `;
  assert.equal(n.n, 1);
});

Deno.test("an old ride refreshes its own aggregate window", async () => {
  const rider = await registerRider(t);
  const res = await upload(
    rider.accessToken,
    await readFile("indoor_edge800_trainer.fit"),
    { type: "application/vnd.ant.fit" },
  );
  assert.equal(res.status, 201);
  const { workout } = await res.json();
  const best = workout.summary.powerCurve.find((p: { duration: number }) => p.duration === 1200);
  const bests = await t.request(
    "GET",
    "/api/analytics/bests?duration=1200&bucket=day&from=2011-11-01&to=2011-11-03",
    { token: rider.accessToken },
  );
  assert.equal(bests.status, 200);
  assert.deepEqual((await bests.json()).bests, [
    { bucket: "2011-11-02T00:00:00.000Z", watts: best.watts },
  ]);
});

/** A FIT file with one byte changed inside its data: the CRC no longer holds. */
function flipped(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy[1000] ^= 0x5a;
  return copy;
}

Deno.test("corrupt, empty, unsupported and oversized files are clear 4xx and store nothing", async () => {
  const rider = await registerRider(t);
  const fit = await readFile("indoor_edge800_trainer.fit");
  const gpx = new TextDecoder().decode(await readFile("outdoor_edge1000_zpider.strava.gpx"));
  const cases: [string, Uint8Array | string, string, number, string][] = [
    ["truncated FIT", fit.slice(0, 20_000), "application/vnd.ant.fit", 400, "truncated_fit"],
    [
      "truncated FIT, sniffed",
      fit.slice(0, 20_000),
      "application/octet-stream",
      400,
      "truncated_fit",
    ],
    ["FIT with a bad CRC", flipped(fit), "application/vnd.ant.fit", 400, "fit_crc_mismatch"],
    ["not a FIT at all", "hello", "application/vnd.ant.fit", 400, "invalid_fit"],
    ["garbage XML", "<gpx><trk><trkseg><trkpt lat=", "application/gpx+xml", 400, "invalid_xml"],
    ["truncated GPX", gpx.slice(0, 100_000), "application/gpx+xml", 400, "invalid_xml"],
    ["XML that is not GPX", "<kml><Document/></kml>", "application/gpx+xml", 400, "invalid_gpx"],
    ["TCX without its root", "<Activities/>", "application/vnd.garmin.tcx+xml", 400, "invalid_tcx"],
    [
      "GPX without points",
      '<gpx version="1.1"><trk/></gpx>',
      "application/gpx+xml",
      422,
      "no_samples",
    ],
    ["CSV with a bad header", "a,b,c\n1,2,3\n", "text/csv", 400, "invalid_csv"],
    ["CSV without metrics", "epoch_ms\n1568988603000\n", "text/csv", 400, "invalid_csv"],
    ["CSV with a short row", "epoch_ms,power\n1568988603000\n", "text/csv", 400, "invalid_csv"],
    ["CSV with a bad time", "epoch_ms,power\nyesterday,100\n", "text/csv", 400, "invalid_csv"],
    ["CSV from 1970", "epoch_ms,power\n1000,100\n", "text/csv", 422, "invalid_time"],
    ["empty body", "", "application/vnd.ant.fit", 400, "empty_file"],
    ["empty octet-stream", "", "application/octet-stream", 400, "empty_file"],
    ["unknown bytes", "just some text", "application/octet-stream", 415, "unsupported_file"],
    ["an image", "\x89PNG", "image/png", 415, "unsupported_media_type"],
  ];
  for (const [what, body, type, status, code] of cases) {
    const res = await upload(rider.accessToken, body, { type });
    const json = await res.json();
    assert.equal(res.status, status, `${what}: ${JSON.stringify(json)}`);
    assert.equal(json.code, code, what);
    assert.equal(typeof json.error, "string", what);
    assert.match(json.error, /^[A-Z][^\n]*[^.]$/, what);
  }
  const noType = await t.app.request("/api/workouts/import", {
    method: "POST",
    headers: { authorization: `Bearer ${rider.accessToken}` },
    body: fit as BodyInit,
  });
  // Without a Content-Type the body is sent as bytes with none: 415, not a guess.
  assert.equal(noType.status, 415);
  await noType.body?.cancel();

  const [stored] = await t.sql`
    select (select count(*)::int from workouts where user_id = ${rider.user.id}) as workouts,
      (select count(*)::int from workout_files where user_id = ${rider.user.id}) as files,
      (select count(*)::int from telemetry where user_id = ${rider.user.id}) as samples
  `;
  assert.deepEqual(stored, { workouts: 0, files: 0, samples: 0 });
});

Deno.test("a file larger than the body limit is a 413 and a form without a file a 400", async () => {
  const small = await startTestApp({ bodyLimitBytes: 64 * 1024 });
  try {
    const rider = await registerRider(small);
    const res = await small.app.request("/api/workouts/import", {
      method: "POST",
      headers: {
        authorization: `Bearer ${rider.accessToken}`,
        "content-type": "application/vnd.ant.fit",
      },
      body: await readFile("outdoor_edge810_vector.fit") as BodyInit, // 148 KB
    });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).code, "payload_too_large");

    const form = new FormData();
    form.append("title", "No file");
    const noFile = await small.app.request("/api/workouts/import", {
      method: "POST",
      headers: { authorization: `Bearer ${rider.accessToken}` },
      body: form,
    });
    assert.equal(noFile.status, 400);
    assert.match((await noFile.json()).error, /file/);
  } finally {
    await small.close();
  }
});

Deno.test("a file with more samples than an import takes is a 413", async () => {
  const rider = await registerRider(t);
  const start = Date.UTC(2026, 0, 1);
  const rows = ["epoch_ms,power"];
  for (let i = 0; i <= 86_400; i++) rows.push(`${start + i * 1000},200`);
  const res = await upload(rider.accessToken, rows.join("\n"), { type: "text/csv" });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).code, "too_many_samples");
});

Deno.test("POST /api/workouts/import needs a rider", async () => {
  const res = await t.app.request("/api/workouts/import", {
    method: "POST",
    headers: { "content-type": "application/vnd.ant.fit" },
    body: await readFile("indoor_edge800_trainer.fit") as BodyInit,
  });
  assert.equal(res.status, 401);
  await res.body?.cancel();
});
