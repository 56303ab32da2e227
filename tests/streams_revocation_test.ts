import assert from "node:assert/strict";
import { openSse, type SseClient } from "./sse_client.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

// Revoking a credential ends its open SSE connections on every instance within one heartbeat
// (DESIGN §6): an API key revoked, a session logged out, an account deleted, a share link revoked.
// Two instances on the same database and Redis prefix, as behind a load balancer: the viewer is on
// B, the revocation is made on A.

const heartbeatS = 2;
let a: TestApp;
let b: TestApp;
Deno.test.beforeAll(async () => {
  a = await startTestApp({ sseHeartbeatS: heartbeatS, streamPollMs: 50 });
  b = await startTestApp({ sseHeartbeatS: heartbeatS, streamPollMs: 50 });
});
Deno.test.afterAll(async () => {
  await a.close();
  await b.close();
});

function uniqueName(): string {
  return `workout-${crypto.randomUUID().slice(0, 8)}`;
}

async function viewerOnB(path: string, headers: Record<string, string>): Promise<SseClient> {
  const viewer = await openSse((req) => b.app.fetch(req), `http://localhost${path}`, headers);
  assert.equal(viewer.status, 200, viewer.errorBody);
  await viewer.waitForCount(1);
  return viewer;
}

/** Waits for the viewer to be ended by the server; answers how long it took after `since`. */
async function endedWithinHeartbeat(viewer: SseClient, since: number): Promise<number> {
  const timeout = new Promise<"timeout">((resolve) =>
    setTimeout(() => resolve("timeout"), heartbeatS * 1000 + 500)
  );
  const outcome = await Promise.race([viewer.ended.then(() => "ended" as const), timeout]);
  const ms = Date.now() - since;
  await viewer.close();
  assert.equal(outcome, "ended", `still open ${ms} ms after the revocation`);
  return ms;
}

async function ridersStream(t: TestApp, token: string): Promise<string> {
  const name = uniqueName();
  const res = await t.request("POST", "/api/streams/create", { token, body: { streamName: name } });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  return name;
}

Deno.test("logging out on A ends that session's SSE viewers on B within a heartbeat", async () => {
  const rider = await registerRider(a);
  const name = await ridersStream(a, rider.accessToken);
  const headers = { authorization: `Bearer ${rider.accessToken}` };
  const viewer = await viewerOnB(`/api/streams/${name}/listen`, headers);
  const all = await viewerOnB("/api/streams/listenAll", headers);
  const since = Date.now();
  const out = await a.request("POST", "/api/auth/logout", { token: rider.accessToken });
  assert.equal(out.status, 200);
  await out.body?.cancel();
  const ms = await endedWithinHeartbeat(viewer, since);
  await endedWithinHeartbeat(all, since);
  console.log(`  logout on A -> viewer on B ended after ${ms} ms`);
});

Deno.test("revoking an API key on A ends the viewers that used it on B, not the rider's others", async () => {
  const rider = await registerRider(a);
  const name = await ridersStream(a, rider.accessToken);
  const created = await a.request("POST", "/api/users/me/api-keys", {
    token: rider.accessToken,
    body: { name: "dashboard" },
  });
  const key = await created.json();
  const byKey = await viewerOnB(`/api/streams/${name}/listen?apiKey=${key.key}`, {});
  const byToken = await viewerOnB(`/api/streams/${name}/listen`, {
    authorization: `Bearer ${rider.accessToken}`,
  });
  const since = Date.now();
  const revoked = await a.request("DELETE", `/api/users/me/api-keys/${key.id}`, {
    token: rider.accessToken,
  });
  assert.ok(revoked.ok, String(revoked.status));
  await revoked.body?.cancel();
  const ms = await endedWithinHeartbeat(byKey, since);
  console.log(`  API key revoked on A -> viewer on B ended after ${ms} ms`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(byToken.isEnded(), false, "the token's viewer stays");
  await byToken.close();
});

Deno.test("deleting the account on A ends its viewers and its share links' viewers on B", async () => {
  const rider = await registerRider(a);
  const name = await ridersStream(a, rider.accessToken);
  const link = await (await a.request("POST", `/api/streams/${name}/shares`, {
    token: rider.accessToken,
    body: {},
  })).json();
  const own = await viewerOnB(`/api/streams/${name}/listen`, {
    authorization: `Bearer ${rider.accessToken}`,
  });
  const shared = await viewerOnB(`/api/streams/${name}/listen?share=${link.token}`, {});
  // listenAll is not ended by the deletion of the rider's streams: only by the revocation.
  const all = await viewerOnB("/api/streams/listenAll", {
    authorization: `Bearer ${rider.accessToken}`,
  });
  const since = Date.now();
  const gone = await a.request("DELETE", "/api/users/me", { token: rider.accessToken });
  assert.equal(gone.status, 200);
  await gone.body?.cancel();
  await endedWithinHeartbeat(own, since);
  await endedWithinHeartbeat(shared, since);
  await endedWithinHeartbeat(all, since);
});

Deno.test("revoking a share link on A ends its viewers on B within a heartbeat", async () => {
  const rider = await registerRider(a);
  const name = await ridersStream(a, rider.accessToken);
  const link = await (await a.request("POST", `/api/streams/${name}/shares`, {
    token: rider.accessToken,
    body: {},
  })).json();
  const viewer = await viewerOnB(`/api/streams/${name}/listen?share=${link.token}`, {});
  const since = Date.now();
  const revoked = await a.request("DELETE", `/api/streams/${name}/shares/${link.id}`, {
    token: rider.accessToken,
  });
  assert.equal(revoked.status, 200);
  await revoked.body?.cancel();
  const ms = await endedWithinHeartbeat(viewer, since);
  console.log(`  share link revoked on A -> viewer on B ended after ${ms} ms`);
  const again = await b.request("GET", `/api/streams/${name}/messages?share=${link.token}`);
  assert.equal(again.status, 401);
  await again.body?.cancel();
});
