/**
 * Every read a rider can make of their history, for tests that change how it is stored (a
 * restore, the telemetry retention) and check that the answers stay.
 */
import assert from "node:assert/strict";
import type { TestApp } from "./support.ts";

const rides = new URL("./fixtures/rides/", import.meta.url);

/** Uploads a file of tests/fixtures/rides through the import route. */
export function upload(t: TestApp, token: string, name: string, type: string, query = "") {
  return Deno.readFile(new URL(name, rides)).then((bytes) =>
    t.app.request(`/api/workouts/import${query}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": type },
      body: bytes as BodyInit,
    })
  );
}

/**
 * Every read a rider can make of their history: path → answer (JSON, or bytes for exports). With
 * `samples: false`, without the telemetry and export reads.
 */
export async function everyAnswer(
  t: TestApp,
  token: string,
  options: { samples?: boolean } = {},
): Promise<Map<string, unknown>> {
  const answers = new Map<string, unknown>();
  const get = async (path: string, status = 200) => {
    const res = await t.request("GET", path, { token });
    assert.equal(res.status, status, `${path}: ${res.status} ${await res.clone().text()}`);
    const type = res.headers.get("content-type") ?? "";
    if (status !== 200) {
      const { requestId: _, ...error } = await res.json();
      answers.set(path, { status, error });
    } else {
      answers.set(
        path,
        type.includes("json") ? await res.json() : new Uint8Array(await res.arrayBuffer()),
      );
    }
  };
  const range = "from=2011-01-01T00:00:00Z&to=2027-01-01T00:00:00Z";
  for (const duration of [5, 60, 300, 1200, 3600]) {
    for (const bucket of ["day", "week", "month"]) {
      await get(`/api/analytics/bests?duration=${duration}&bucket=${bucket}&${range}`);
    }
  }
  await get(`/api/analytics/power-curve`);
  await get(
    `/api/analytics/power-curve?${range}&compareFrom=2019-01-01T00:00:00Z&compareTo=2020-01-01T00:00:00Z`,
  );
  for (const period of ["week", "month", "year"]) {
    for (const tz of ["UTC", "Europe/Berlin", "America/Los_Angeles"]) {
      await get(`/api/analytics/totals?period=${period}&from=2011-01-01&to=2026-12-31&tz=${tz}`);
    }
  }
  await get(`/api/analytics/records`);
  await get(`/api/analytics/records?tz=Pacific/Auckland`);
  await get(`/api/analytics/ftp?window=3650`);
  await get(`/api/analytics/ftp`);
  // Critical power over every ride: 422 not_enough_curve_points when the curve has too few points.
  const cpPath = `/api/analytics/critical-power?${range}`;
  const cp = await t.request("GET", cpPath, { token });
  await cp.body?.cancel();
  await get(cpPath, cp.status === 422 ? 422 : 200);
  for (const tz of ["UTC", "Asia/Tokyo"]) {
    await get(`/api/analytics/fitness?from=2011-10-01&to=2012-01-31&tz=${tz}`);
    await get(`/api/analytics/fitness?from=2019-01-01&to=2019-12-31&tz=${tz}`);
  }
  await get(`/api/analytics/fitness`);
  await get(`/api/analytics/zones?${range}`);
  await get(`/api/analytics/zones?from=2019-01-01T00:00:00Z&to=2019-12-31T00:00:00Z`);
  await get(`/api/users/me`);
  await get(`/api/users/me/weight-history`);
  await get(`/api/users/me/critical-power-history`);

  await get(`/api/workouts?limit=1000`);
  const list = answers.get(`/api/workouts?limit=1000`) as { workouts: { id: string }[] };
  await get(`/api/workouts?limit=2&page=2&startDate=2011-01-01&endDate=2020-01-01`);
  for (const { id } of list.workouts) {
    await get(`/api/workouts/${id}`);
    if (options.samples === false) continue; // without the reads of the samples themselves
    for (const resolution of ["raw", "1s", "10s", "1m"]) {
      await get(`/api/workouts/${id}/telemetry?resolution=${resolution}`);
    }
    for (const format of ["fit", "tcx", "csv"]) {
      await get(`/api/workouts/${id}/export?format=${format}`);
    }
    // Indoor rides and live rides without positions have no GPX (422 no_positions).
    const res = await t.request("GET", `/api/workouts/${id}/export?format=gpx`, { token });
    await res.body?.cancel();
    await get(`/api/workouts/${id}/export?format=gpx`, res.status === 422 ? 422 : 200);
  }
  return answers;
}

/**
 * The answer without what depends on the clock: the FTP window's start (`since`, now minus the
 * window) moves between two reads, so it is compared in whole days back from now.
 */
function withoutNow(path: string, answer: unknown): unknown {
  if (!path.startsWith("/api/analytics/ftp")) return answer;
  const { since, ...rest } = answer as { since: string };
  return { ...rest, sinceDaysAgo: Math.round((Date.now() - Date.parse(since)) / 86_400_000) };
}

/** Asserts that two sets of answers hold the same paths with equal answers. */
export function assertSameAnswers(after: Map<string, unknown>, before: Map<string, unknown>) {
  assert.deepEqual([...after.keys()], [...before.keys()]);
  for (const [path, answer] of before) {
    assert.deepEqual(withoutNow(path, after.get(path)), withoutNow(path, answer), path);
  }
}
