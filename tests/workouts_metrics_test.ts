// Ride metrics through the HTTP app: the profile's resting HR and LTHR, a real FIT ride with power
// and heart rate imported, its VI, EF, decoupling, TRIMP, LTHR zones and best-effort positions
// against the naive reference (tests/analytics_reference.ts); another rider never sees them.

import assert from "node:assert/strict";
import {
  assertClose,
  readRide,
  refDecoupling,
  refGrid,
  refMmp,
  refTrimp,
} from "./analytics_reference.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
});
Deno.test.afterAll(() => t.close());

Deno.test("the profile keeps resting HR and LTHR and refuses bad ones", async () => {
  const rider = await registerRider(t);
  const token = rider.accessToken;
  const ok = await t.request("PATCH", "/api/users/me", {
    token,
    body: { restingHr: 48, lthr: 165 },
  });
  assert.equal(ok.status, 200);
  const user = await ok.json();
  assert.equal(user.restingHr, 48);
  assert.equal(user.lthr, 165);
  for (const body of [{ restingHr: 0 }, { lthr: 300 }, { restingHr: 60.5 }]) {
    const bad = await t.request("PATCH", "/api/users/me", { token, body });
    assert.equal(bad.status, 400, JSON.stringify(body));
  }
  const again = await (await t.request("GET", "/api/users/me", { token })).json();
  assert.equal(again.restingHr, 48);
  assert.equal(again.lthr, 165);
});

Deno.test("an imported FIT ride answers VI, EF, decoupling, TRIMP and positions; others get 404", async () => {
  const rider = await registerRider(t);
  const token = rider.accessToken;
  const settings = { maxHr: 190, restingHr: 50, lthr: 168 };
  assert.equal((await t.request("PATCH", "/api/users/me", { token, body: settings })).status, 200);
  const bytes = await Deno.readFile(
    new URL("./fixtures/rides/indoor_edge800_trainer.fit", import.meta.url),
  );
  const res = await t.app.request("/api/workouts/import", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/vnd.ant.fit" },
    body: bytes,
  });
  assert.equal(res.status, 201, await res.clone().text());
  const { workout } = await res.json();
  const got = await t.request("GET", `/api/workouts/${workout.id}`, { token });
  assert.equal(got.status, 200);
  const s = (await got.json()).summary;

  const rows = refGrid(await readRide("indoor_edge800_trainer"));
  // Rounded at the edge (docs/analytics.md, "Precision"): compare within that precision.
  const near = (actual: number, expected: number, step: number) =>
    assert.ok(Math.abs(actual - expected) <= step / 2 + 1e-12, `${actual} vs ${expected}`);
  near(s.decouplingPct, refDecoupling(rows)!, 0.01);
  near(s.trimp, refTrimp(rows, 50, 190)!, 0.1);
  near(s.variabilityIndex, s.normalizedPower / s.avgPower, 0.002);
  near(s.efficiencyFactor, s.normalizedPower / s.avgHeartrate, 0.002);
  assert.equal(s.restingHr, 50);
  assert.equal(s.lthr, 168);
  assert.equal(
    s.lthrZones.reduce((a: number, z: { seconds: number }) => a + z.seconds, 0),
    rows.filter((r) => r.moving && r.heartRate !== null).length,
  );
  assertClose(
    s.powerCurve.map((e: { startOffsetS: number | null }) => e.startOffsetS),
    refMmp(rows).map((e) => e.startOffsetS),
  );

  const other = await registerRider(t);
  const peek = await t.request("GET", `/api/workouts/${workout.id}`, { token: other.accessToken });
  assert.equal(peek.status, 404);
});
