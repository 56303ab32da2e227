import assert from "node:assert/strict";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

type HistoryEntry = { id: string; userId: string; ftp: number; source: string; createdAt: string };

/** `n` seconds of 1 Hz samples at a constant `watts` from `start` (epoch ms). */
function ride(start: number, n: number, watts: number) {
  return Array.from({ length: n }, (_, i) => ({ time: start + i * 1000, power: watts }));
}

async function importRide(token: string, samples: unknown[]) {
  const res = await t.request("POST", "/api/workouts/import", { token, body: { samples } });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()).workout as {
    id: string;
    summary: { intensityFactor: number | null; trainingLoad: number | null };
  };
}

async function getWorkout(token: string, id: string) {
  const res = await t.request("GET", `/api/workouts/${id}`, { token });
  assert.equal(res.status, 200);
  return await res.json();
}

async function putFtp(token: string, id: string, body: unknown) {
  return await t.request("PUT", `/api/users/${id}/ftp`, { token, body });
}

async function history(token: string, id = "me"): Promise<HistoryEntry[]> {
  const res = await t.request("GET", `/api/users/${id}/ftp-history`, { token });
  assert.equal(res.status, 200);
  return await res.json();
}

Deno.test("PUT /api/users/me/ftp records every change and PATCH /api/users/me records a new FTP", async () => {
  const rider = await registerRider(t);
  const token = rider.accessToken;
  assert.deepEqual(await history(token), []);

  const first = await putFtp(token, "me", { ftp: 200 });
  assert.equal(first.status, 200);
  assert.deepEqual(await first.json(), { ftp: 200 });

  const second = await putFtp(token, rider.user.id, { ftp: 250, source: "ramp-test" });
  assert.equal(second.status, 200);
  assert.deepEqual(await second.json(), { ftp: 250 });

  const patched = await t.request("PATCH", "/api/users/me", { token, body: { ftpWatts: 260 } });
  assert.equal(patched.status, 200);
  assert.equal((await patched.json()).ftpWatts, 260);
  // Saving the profile again with the same FTP is not a change.
  const same = await t.request("PATCH", "/api/users/me", {
    token,
    body: { ftpWatts: 260, displayName: "Eddy" },
  });
  assert.equal(same.status, 200);

  const entries = await history(token);
  assert.deepEqual(entries.map((e) => [e.ftp, e.source]), [
    [260, "profile"],
    [250, "ramp-test"],
    [200, "manual"],
  ]);
  for (const entry of entries) {
    assert.deepEqual(Object.keys(entry).sort(), ["createdAt", "ftp", "id", "source", "userId"]);
    assert.equal(entry.userId, rider.user.id);
    assert.ok(!Number.isNaN(Date.parse(entry.createdAt)));
  }
  assert.ok(entries[0].createdAt >= entries[1].createdAt);
  assert.deepEqual(await history(token, rider.user.id), entries);

  const me = await t.request("GET", `/api/users/${rider.user.id}`, { token });
  assert.equal(me.status, 200);
  const profile = await me.json();
  assert.equal(profile.id, rider.user.id);
  assert.equal(profile.ftpWatts, 260);
  assert.equal(profile.displayName, "Eddy");
  assert.equal(profile.passwordHash, undefined);
});

Deno.test("PUT /api/users/:id/ftp rejects a bad ftp with 400 and changes nothing", async () => {
  const rider = await registerRider(t);
  const token = rider.accessToken;
  await putFtp(token, "me", { ftp: 240 });
  const bad: unknown[] = [
    { ftp: 0 },
    { ftp: 3001 },
    { ftp: -5 },
    { ftp: 250.5 },
    { ftp: "250" },
    { ftp: null },
    {},
    { ftp: 250, source: "" },
    { ftp: 250, source: "x".repeat(51) },
    [],
  ];
  for (const body of bad) {
    const res = await putFtp(token, "me", body);
    assert.equal(res.status, 400, JSON.stringify(body));
    const error = await res.json();
    assert.equal(error.code, "validation_failed");
    assert.match(error.error, /^Invalid JSON body/);
  }
  const ftpError = await (await putFtp(token, "me", { ftp: 0 })).json();
  assert.match(ftpError.error, /ftp: must be a whole number of watts between 1 and 3000/);

  const patch = await t.request("PATCH", "/api/users/me", { token, body: { ftpWatts: null } });
  assert.equal(patch.status, 400);

  assert.deepEqual((await history(token)).map((e) => e.ftp), [240]);
  const me = await (await t.request("GET", "/api/users/me", { token })).json();
  assert.equal(me.ftpWatts, 240);
});

Deno.test("the users routes answer 404 for another rider's id and 400 for an id that is not one", async () => {
  const a = await registerRider(t);
  const b = await registerRider(t);
  await putFtp(a.accessToken, "me", { ftp: 222 });

  for (const [method, suffix] of [["GET", ""], ["GET", "/ftp-history"], ["GET", "/stats"]]) {
    const other = await t.request(method, `/api/users/${a.user.id}${suffix}`, {
      token: b.accessToken,
    });
    assert.equal(other.status, 404, `${method} ${suffix}`);
    assert.equal((await other.json()).error, "User not found");
    const notAnId = await t.request(method, `/api/users/not-a-uuid${suffix}`, {
      token: b.accessToken,
    });
    assert.equal(notAnId.status, 400, `${method} ${suffix}`);
    assert.match((await notAnId.json()).error, /id: must be me or a user id \(UUID\)/);
  }
  const put = await putFtp(b.accessToken, a.user.id, { ftp: 999 });
  assert.equal(put.status, 404);
  assert.equal((await put.json()).error, "User not found");

  const mine = await history(a.accessToken);
  assert.deepEqual(mine.map((e) => e.ftp), [222]);
  assert.deepEqual(await history(b.accessToken), []);

  const anonymous = await t.request("GET", `/api/users/${a.user.id}/stats`);
  assert.equal(anonymous.status, 401);
});

Deno.test("GET /api/users/me/stats counts completed workouts and their elapsed seconds", async () => {
  const rider = await registerRider(t);
  const token = rider.accessToken;
  const empty = await t.request("GET", "/api/users/me/stats", { token });
  assert.equal(empty.status, 200);
  assert.deepEqual(await empty.json(), { totalWorkouts: 0, totalDuration: 0 });

  const start = Date.UTC(2026, 9, 1, 6, 0, 0);
  await importRide(token, ride(start, 600, 200));
  await importRide(token, ride(start + 86_400_000, 1200, 200));
  // An active workout is not counted until it is completed.
  const active = await t.request("POST", "/api/workouts", { token, body: {} });
  assert.equal(active.status, 201);

  const res = await t.request("GET", `/api/users/${rider.user.id}/stats`, { token });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { totalWorkouts: 2, totalDuration: 1800 });
});

Deno.test("a ride's TSS uses the FTP in force when it was ridden, not the FTP at upload", async () => {
  const rider = await registerRider(t);
  const token = rider.accessToken;

  // FTP 200, then a ride from last week (imported now): IF 250/200, TSS 1 h × 1.25² × 100.
  await putFtp(token, "me", { ftp: 200 });
  const hour = 3600;
  const lastWeek = Date.now() - 7 * 86_400_000;
  const old = await importRide(token, ride(lastWeek, hour, 250));
  assert.equal(old.summary.intensityFactor, 1.25);
  // TSS answers to 1 decimal (docs/analytics.md, "Precision"); the stored value stays exact.
  assert.equal(old.summary.trainingLoad, 156.3);

  await putFtp(token, "me", { ftp: 300 });
  const oldAgain = await getWorkout(token, old.id);
  assert.equal(oldAgain.summary.trainingLoad, 156.3);
  const [stored] = await t.sql`select ftp_watts, tss from workouts where id = ${old.id}`;
  assert.deepEqual([stored.ftpWatts, stored.tss], [200, 156.25]);

  // A live ride after the change uses 300: IF 250/300.
  const startRes = await t.request("POST", "/api/workouts", { token, body: {} });
  const live = (await startRes.json()).workout;
  const posted = await t.request("POST", `/api/workouts/${live.id}/samples`, {
    token,
    body: { samples: ride(Date.now() + 1000, 600, 250) },
  });
  assert.equal(posted.status, 202);
  const done = await t.request("POST", `/api/workouts/${live.id}/complete`, { token });
  assert.equal(done.status, 200);
  const after = (await done.json()).workout;
  // Rounded at the edge (docs/analytics.md, "Precision"): IF to 3 decimals, TSS to 1.
  assert.equal(after.summary.intensityFactor, Math.round(250 / 300 * 1000) / 1000);
  assert.equal(
    after.summary.trainingLoad,
    Math.round((600 / 3600) * (250 / 300) * (250 / 300) * 100 * 10) / 10,
  );

  // A ride between the two changes, uploaded after both, still uses 200.
  const [at300, at200] = await history(token);
  const between = (Date.parse(at200.createdAt) + Date.parse(at300.createdAt)) / 2;
  assert.ok(between > Date.parse(at200.createdAt) && between < Date.parse(at300.createdAt));
  const late = await importRide(token, ride(Math.floor(between), 600, 250));
  assert.equal(late.summary.intensityFactor, 1.25);
});

Deno.test("a ride older than every FTP history row falls back to the rider's current FTP", async () => {
  const rider = await registerRider(t);
  const token = rider.accessToken;
  // An FTP set before history was kept (no history row): the current FTP is used.
  await t.sql`update users set ftp_watts = 250 where id = ${rider.user.id}`;
  const before = await importRide(token, ride(Date.UTC(2026, 0, 5, 7), 600, 250));
  assert.equal(before.summary.intensityFactor, 1);

  await putFtp(token, "me", { ftp: 125 });
  const older = await importRide(token, ride(Date.UTC(2026, 0, 6, 7), 600, 250));
  assert.equal(older.summary.intensityFactor, 2);
});

Deno.test("concurrent FTP changes leave the newest history entry equal to the current FTP", async () => {
  const rider = await registerRider(t);
  const token = rider.accessToken;
  for (let round = 0; round < 5; round++) {
    const values = Array.from({ length: 12 }, (_, i) => 100 + round * 20 + i);
    const answers = await Promise.all(
      values.map((ftp, i) =>
        i % 2 === 0
          ? putFtp(token, "me", { ftp })
          : t.request("PATCH", "/api/users/me", { token, body: { ftpWatts: ftp } })
      ),
    );
    for (const res of answers) assert.equal(res.status, 200);
    const me = await (await t.request("GET", "/api/users/me", { token })).json();
    const [newest] = await history(token);
    assert.equal(newest.ftp, me.ftpWatts, `round ${round}`);
  }
  assert.equal((await history(token)).length, 60);
});
