// GET /api/workouts/:id/export and import -> export -> import round trips for every format.

import assert from "node:assert/strict";
import { Decoder, Stream } from "@garmin/fitsdk";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

const rides = new URL("./fixtures/rides/", import.meta.url);

const types = {
  fit: "application/vnd.ant.fit",
  tcx: "application/vnd.garmin.tcx+xml",
  gpx: "application/gpx+xml",
  csv: "text/csv",
} as const;

type Format = keyof typeof types;

/** A round trip imports the same ride again on purpose: not refused as a duplicate (409). */
const keep = "?duplicate=keep";

async function importBytes(token: string, bytes: Uint8Array, type: string, query = "") {
  const res = await t.app.request(`/api/workouts/import${query}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": type },
    body: bytes as BodyInit,
  });
  const body = await res.json();
  assert.equal(res.status, 201, JSON.stringify(body));
  return body.workout;
}

async function exportBytes(token: string, id: string, format: Format) {
  const res = await t.request("GET", `/api/workouts/${id}/export?format=${format}`, { token });
  assert.equal(res.status, 200, format);
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

/** The summary without what a format cannot carry. */
function without(summary: Record<string, unknown>, keys: string[]) {
  return Object.fromEntries(Object.entries(summary).filter(([k]) => !keys.includes(k)));
}

const noSpeedOrDistance = ["avgSpeed", "maxSpeed", "totalDistance"];

for (const format of ["fit", "tcx", "gpx", "csv"] as const) {
  Deno.test(`a FIT ride exported as ${format} and imported again has the same summary`, async () => {
    const rider = await registerRider(t);
    const original = await importBytes(
      rider.accessToken,
      await Deno.readFile(new URL("outdoor_edge1000_zpider.fit", rides)),
      types.fit,
      "?title=Zpider%20ride",
    );
    const { res, bytes } = await exportBytes(rider.accessToken, original.id, format);
    assert.equal(res.headers.get("content-type")?.split(";")[0], types[format]);
    assert.equal(
      res.headers.get("content-disposition"),
      `attachment; filename="Zpider_ride.${format}"`,
    );
    const again = await importBytes(rider.accessToken, bytes, types[format], keep);
    assert.equal(again.startTime, original.startTime);
    assert.equal(again.summary.sampleCount, 8357);
    if (format === "gpx") {
      // GPX has no place for speed or distance; everything else is exact.
      assert.deepEqual(
        without(again.summary, noSpeedOrDistance),
        without(original.summary, noSpeedOrDistance),
      );
      assert.equal(again.summary.totalDistance, null);
    } else {
      // FIT, TCX and CSV carry every recorded field of this ride losslessly: exact.
      assert.deepEqual(again.summary, original.summary);
    }
    assert.notEqual(again.summary.normalizedPower, null);
    assert.notEqual(again.summary.totalDistance === null, format !== "gpx");

    // A second export of the re-import is the same file (a fixed point), title aside.
    if (format !== "gpx" && format !== "tcx") {
      const second = await exportBytes(rider.accessToken, again.id, format);
      assert.deepEqual(second.bytes, bytes);
    }
  });
}

Deno.test("a FIT export decodes with Garmin's SDK without integrity errors", async () => {
  const rider = await registerRider(t);
  const original = await importBytes(
    rider.accessToken,
    await Deno.readFile(new URL("outdoor_elemnt_autopause.fit", rides)),
    types.fit,
  );
  const { bytes } = await exportBytes(rider.accessToken, original.id, "fit");
  const decoder = new Decoder(Stream.fromByteArray(bytes));
  assert.equal(decoder.isFIT(), true);
  assert.equal(decoder.checkIntegrity(), true);
  const { messages, errors } = decoder.read();
  assert.deepEqual(errors, []);
  assert.equal(messages.recordMesgs?.length, 13471);
  assert.equal(messages.fileIdMesgs?.[0].type, "activity");
  const session = messages.sessionMesgs?.[0];
  assert.equal(session?.sport, "cycling");
  assert.equal((session?.startTime as Date).toISOString(), "2019-02-17T06:26:44.000Z");
  assert.equal(messages.activityMesgs?.length, 1);
});

Deno.test("an indoor ride round-trips through FIT, TCX and CSV; GPX without positions is a 422", async () => {
  const rider = await registerRider(t);
  const original = await importBytes(
    rider.accessToken,
    await Deno.readFile(new URL("indoor_edge800_trainer.fit", rides)),
    types.fit,
  );
  for (const format of ["fit", "tcx", "csv"] as const) {
    const { bytes } = await exportBytes(rider.accessToken, original.id, format);
    const again = await importBytes(rider.accessToken, bytes, types[format], keep);
    assert.deepEqual(again.summary, original.summary, format);
  }
  const gpx = await t.request("GET", `/api/workouts/${original.id}/export?format=gpx`, {
    token: rider.accessToken,
  });
  assert.equal(gpx.status, 422);
  assert.equal((await gpx.json()).code, "no_positions");
});

Deno.test("CSV, GPX and TCX imports round-trip through their own format", async () => {
  const rider = await registerRider(t);
  const sources: [Format, string][] = [
    ["csv", "outdoor_edge810_vector.csv"],
    ["gpx", "outdoor_edge1000_zpider.strava.gpx"],
  ];
  for (const [format, file] of sources) {
    const first = await importBytes(
      rider.accessToken,
      await Deno.readFile(new URL(file, rides)),
      types[format],
    );
    const { bytes } = await exportBytes(rider.accessToken, first.id, format);
    const again = await importBytes(rider.accessToken, bytes, types[format], keep);
    assert.deepEqual(again.summary, first.summary, format);
    assert.equal(again.title, first.title, format);
  }
  // TCX: from a JSON import with fractional speeds and odd distances.
  const start = Date.UTC(2026, 5, 1, 6);
  const samples = Array.from({ length: 600 }, (_, i) => ({
    time: start + i * 1000,
    power: 150 + (i % 50),
    cadence: 80 + (i % 7),
    heartRate: 120 + (i % 30),
    speed: 25.123 + (i % 10) / 7,
    distance: i * 7.03,
    altitude: 100 + i / 3,
  }));
  const res = await t.request("POST", "/api/workouts/import", {
    token: rider.accessToken,
    body: { title: "Tempo & <tests>", samples },
  });
  assert.equal(res.status, 201);
  const json = (await res.json()).workout;
  const tcx = await exportBytes(rider.accessToken, json.id, "tcx");
  const back = await importBytes(rider.accessToken, tcx.bytes, types.tcx, keep);
  assert.equal(back.title, "Tempo & <tests>"); // TCX <Notes>
  for (const key of ["avgPower", "normalizedPower", "totalDistance", "avgHeartrate"]) {
    assert.equal(back.summary[key], json.summary[key], key);
  }
  // Speed goes through m/s text: equal to 6 decimals.
  assert.ok(Math.abs(back.summary.avgSpeed - json.summary.avgSpeed) < 1e-6);
});

Deno.test("GET /api/workouts/:id/export is the owner's only, completed only, known formats only", async () => {
  const owner = await registerRider(t);
  const other = await registerRider(t);
  const workout = await importBytes(
    owner.accessToken,
    await Deno.readFile(new URL("indoor_edge800_trainer.fit", rides)),
    types.fit,
  );
  const theirs = await t.request("GET", `/api/workouts/${workout.id}/export?format=csv`, {
    token: other.accessToken,
  });
  assert.equal(theirs.status, 404);
  assert.equal((await theirs.json()).error, "Workout not found");

  const unknown = await t.request("GET", `/api/workouts/${crypto.randomUUID()}/export`, {
    token: owner.accessToken,
  });
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();

  const bad = await t.request("GET", `/api/workouts/${workout.id}/export?format=kml`, {
    token: owner.accessToken,
  });
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /format must be fit, tcx, gpx or csv/);

  const anonymous = await t.request("GET", `/api/workouts/${workout.id}/export`);
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();

  const started = await t.request("POST", "/api/workouts", {
    token: owner.accessToken,
    body: { title: "Live" },
  });
  assert.equal(started.status, 201);
  const live = (await started.json()).workout;
  const active = await t.request("GET", `/api/workouts/${live.id}/export?format=fit`, {
    token: owner.accessToken,
  });
  assert.equal(active.status, 409);
  assert.equal((await active.json()).code, "workout_active");

  // Default format is FIT; an untitled ride is named by its date.
  const untitled = await t.request("GET", `/api/workouts/${workout.id}/export`, {
    token: owner.accessToken,
  });
  assert.equal(untitled.status, 200);
  assert.equal(
    untitled.headers.get("content-disposition"),
    'attachment; filename="workout-2011-11-02.fit"',
  );
  await untitled.body?.cancel();
});

Deno.test("an export file name is safe whatever the title", async () => {
  const rider = await registerRider(t);
  const res = await t.request("POST", "/api/workouts/import", {
    token: rider.accessToken,
    body: {
      title: 'Col du "Télégraphe"\r\n/../etc; rm -rf',
      samples: [{ time: Date.UTC(2026, 0, 1), power: 100 }, {
        time: Date.UTC(2026, 0, 1, 0, 0, 1),
        power: 110,
      }],
    },
  });
  assert.equal(res.status, 201);
  const { workout } = await res.json();
  const csv = await exportBytes(rider.accessToken, workout.id, "csv");
  const disposition = csv.res.headers.get("content-disposition")!;
  assert.equal(disposition, 'attachment; filename="Col_du_Telegraphe_etc_rm_-rf.csv"');
  assert.equal(
    new TextDecoder().decode(csv.bytes),
    "epoch_ms,power,cadence,heart_rate,speed_kmh,distance_m,altitude_m,lat,lon\n" +
      "1767225600000,100,,,,,,,\n1767225601000,110,,,,,,,\n",
  );
});

Deno.test("a GPX export gives a point without a position the nearest earlier one (else the first)", async () => {
  const rider = await registerRider(t);
  const start = Date.UTC(2026, 5, 1, 6);
  const res = await t.request("POST", "/api/workouts/import", {
    token: rider.accessToken,
    body: {
      samples: [
        { time: start, power: 100 },
        { time: start + 1000, power: 110, lat: 45.5, lon: 6.5 },
        { time: start + 2000, power: 120 },
        { time: start + 3000, power: 130, lat: 45.6, lon: 6.6 },
      ],
    },
  });
  assert.equal(res.status, 201);
  const { workout } = await res.json();
  const gpx = await exportBytes(rider.accessToken, workout.id, "gpx");
  const points = [
    ...new TextDecoder().decode(gpx.bytes).matchAll(/<trkpt lat="([^"]+)" lon="([^"]+)">/g),
  ]
    .map((m) => [Number(m[1]), Number(m[2])]);
  assert.deepEqual(points, [[45.5, 6.5], [45.5, 6.5], [45.5, 6.5], [45.6, 6.6]]);
  // Uploaded as a form file of unknown type, the GPX is told by its root element.
  const form = new FormData();
  form.append(
    "file",
    new File([gpx.bytes as BlobPart], "export", { type: "application/octet-stream" }),
  );
  const again = await t.app.request(`/api/workouts/import${keep}`, {
    method: "POST",
    headers: { authorization: `Bearer ${rider.accessToken}` },
    body: form,
  });
  assert.equal(again.status, 201);
  const body = await again.json();
  assert.equal(body.file.format, "gpx");
  assert.equal(body.workout.summary.avgPower, workout.summary.avgPower);
});
