// Zip archive imports (Strava/Garmin bulk exports): a job per archive, per-file outcomes,
// duplicates inside the archive, limits checked before anything is stored, owner only.

import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { zipSync } from "fflate";
import { markInterruptedJobs } from "../src/workouts/import_jobs.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

const maxFileBytes = 8 * 1024 * 1024;
let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({
    imports: { maxFileBytes, zipMaxEntries: 20, zipMaxTotalBytes: 64 * 1024 * 1024 },
  });
});
Deno.test.afterAll(() => t.close());

const rides = new URL("./fixtures/rides/", import.meta.url);
const read = (name: string) => Deno.readFile(new URL(name, rides));
const gz = (bytes: Uint8Array) => new Uint8Array(gzipSync(bytes));

function postZip(token: string, zip: Uint8Array, type = "application/zip"): Promise<Response> {
  return Promise.resolve(t.app.request("/api/workouts/import", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": type },
    body: zip as BodyInit,
  }));
}

type Job = {
  id: string;
  state: string;
  reason: string | null;
  filesTotal: number;
  filesDone: number;
  imported: number;
  duplicates: number;
  failed: number;
  skipped: number;
  files: { name: string; outcome: string; reason: string | null; workoutId: string | null }[];
};

async function finished(token: string, location: string): Promise<Job> {
  for (let i = 0; i < 600; i++) {
    const res = await t.request("GET", location, { token });
    assert.equal(res.status, 200);
    const { job } = await res.json();
    if (job.state !== "running") return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("The import job did not end");
}

async function stored(userId: string): Promise<{ workouts: number; jobs: number }> {
  const [row] = await t.sql<{ workouts: number; jobs: number }[]>`
    select
      (select count(*)::int from workouts where user_id = ${userId}::uuid) as workouts,
      (select count(*)::int from import_jobs where user_id = ${userId}::uuid) as jobs
  `;
  return row;
}

/** A TCX of the Edge 810 ride, as the app exports it (no TCX fixture is recorded). */
async function vectorTcx(): Promise<Uint8Array> {
  const other = await registerRider(t);
  const res = await t.app.request("/api/workouts/import", {
    method: "POST",
    headers: { authorization: `Bearer ${other.accessToken}`, "content-type": "text/csv" },
    body: await read("outdoor_edge810_vector.csv"),
  });
  assert.equal(res.status, 201);
  const { workout } = await res.json();
  const tcx = await t.request("GET", `/api/workouts/${workout.id}/export?format=tcx`, {
    token: other.accessToken,
  });
  return new Uint8Array(await tcx.arrayBuffer());
}

Deno.test("a Strava-style zip: imported, duplicate, failed and skipped files, with reasons", async () => {
  const rider = await registerRider(t);
  const zip = zipSync({
    "activities/1001.fit": await read("outdoor_edge1000_zpider.fit"),
    // The same ride as Strava's GPX: a duplicate of the FIT just imported.
    "activities/1001.gpx": await read("outdoor_edge1000_zpider.strava.gpx"),
    "activities/1002.fit.gz": gz(await read("indoor_edge800_trainer.fit")),
    "activities/1003.tcx.gz": gz(await vectorTcx()),
    "activities/1004.fit": new TextEncoder().encode("not a FIT file at all"),
    "media/photo.jpg": new Uint8Array([0xff, 0xd8, 0xff, 0xe0]),
    "activities/": new Uint8Array(0),
  });
  const res = await postZip(rider.accessToken, zip);
  assert.equal(res.status, 202, await res.clone().text());
  const location = res.headers.get("location")!;
  const { job: started } = await res.json();
  assert.equal(location, `/api/workouts/import-jobs/${started.id}`);
  assert.equal(started.filesTotal, 6);

  // SSE: progress events, then the whole job at the end.
  const events = await t.request("GET", `${location}/events`, { token: rider.accessToken });
  assert.equal(events.status, 200);
  assert.match(events.headers.get("content-type") ?? "", /text\/event-stream/);
  const text = await events.text();
  assert.match(text, /event: progress/);
  const end = text.split("\n\n").find((e) => e.startsWith("event: end"));
  assert.ok(end, text);
  const fromEvents = JSON.parse(end.split("\n").find((l) => l.startsWith("data: "))!.slice(6));

  const job = await finished(rider.accessToken, location);
  assert.deepEqual(fromEvents, JSON.parse(JSON.stringify(job)));
  assert.equal(job.state, "done");
  assert.deepEqual(
    [job.filesDone, job.imported, job.duplicates, job.failed, job.skipped],
    [6, 3, 1, 1, 1],
  );
  const byName = Object.fromEntries(job.files.map((f) => [f.name, f]));
  const fit = byName["activities/1001.fit"];
  assert.equal(fit.outcome, "imported");
  assert.equal(byName["activities/1001.gpx"].outcome, "duplicate");
  assert.equal(byName["activities/1001.gpx"].workoutId, fit.workoutId);
  assert.equal(byName["activities/1004.fit"].outcome, "failed");
  assert.ok(byName["activities/1004.fit"].reason);
  assert.equal(byName["media/photo.jpg"].outcome, "skipped");
  assert.match(byName["media/photo.jpg"].reason!, /Not a ride file/);
  assert.equal((await stored(rider.user.id)).workouts, 3);

  // The .fit.gz entry's original is that entry, as it was in the archive.
  const gzEntry = byName["activities/1002.fit.gz"];
  const original = await t.request("GET", `/api/workouts/${gzEntry.workoutId}/original`, {
    token: rider.accessToken,
  });
  assert.equal(original.headers.get("content-type"), "application/gzip");
  await original.body?.cancel();

  // The same archive again: every ride is recognised, none stored twice.
  const again = await postZip(rider.accessToken, zip, "application/octet-stream");
  assert.equal(again.status, 202);
  const second = await finished(rider.accessToken, again.headers.get("location")!);
  assert.deepEqual([second.imported, second.duplicates], [0, 4]);
  assert.equal((await stored(rider.user.id)).workouts, 3);

  // Another rider: 404 on the job and on its events.
  const other = await registerRider(t);
  for (const path of [location, `${location}/events`]) {
    const theirs = await t.request("GET", path, { token: other.accessToken });
    assert.equal(theirs.status, 404);
    await theirs.body?.cancel();
  }
});

Deno.test("a zip bomb is refused with 413 before anything is stored", async () => {
  const rider = await registerRider(t);
  const bomb = zipSync({
    "ok.fit.gz": gz(await read("indoor_edge800_trainer.fit")),
    // 9 MiB of zeros compress to a few KB; its declared size passes IMPORT_MAX_FILE_BYTES.
    "bomb.gpx": new Uint8Array(maxFileBytes + 1024 * 1024),
  });
  assert.ok(bomb.length < 100_000);
  const res = await postZip(rider.accessToken, bomb);
  assert.equal(res.status, 413);
  assert.equal((await res.json()).code, "payload_too_large");
  assert.deepEqual(await stored(rider.user.id), { workouts: 0, jobs: 0 });
});

Deno.test("an archive with too many entries is refused with 413, nothing stored", async () => {
  const rider = await registerRider(t);
  const many = zipSync(
    Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`f${i}.csv`, new Uint8Array([1])])),
  );
  const res = await postZip(rider.accessToken, many);
  assert.equal(res.status, 413);
  assert.equal((await res.json()).code, "too_many_entries");
  assert.deepEqual(await stored(rider.user.id), { workouts: 0, jobs: 0 });
  const broken = await postZip(rider.accessToken, many.slice(0, many.length - 30));
  assert.equal(broken.status, 400);
  assert.equal((await broken.json()).code, "invalid_zip");
});

Deno.test("a job a stopped process left running is marked interrupted with its reason", async () => {
  const rider = await registerRider(t);
  const [job] = await t.sql<{ id: string }[]>`
    insert into import_jobs (user_id, files_total, files_done, updated_at)
    values (${rider.user.id}::uuid, 10, 4, now() - interval '5 minutes')
    returning id
  `;
  assert.ok((await markInterruptedJobs(t.sql)) >= 1);
  const res = await t.request("GET", `/api/workouts/import-jobs/${job.id}`, {
    token: rider.accessToken,
  });
  const { job: shown } = await res.json();
  assert.equal(shown.state, "interrupted");
  assert.match(shown.reason, /4 of 10 files/);
});
