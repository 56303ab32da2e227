import assert from "node:assert/strict";
import { hashSecret } from "../src/core/secrets.ts";
import { type Fetcher, openSse, type SseClient } from "./sse_client.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

// A rider's live stream is private (DESIGN §6): only its rider, a share-link holder, or anyone
// once the rider makes it public. Shared-key streams are the shared key's; the shared key never
// reads a rider's private stream. Every stream route × every kind of caller.

const sharedKey = "privacy-shared-key";

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ apiKey: sharedKey, streamPollMs: 20 });
});
Deno.test.afterAll(() => t.close());

type Caller = { label: string; headers: Record<string, string>; query: string };

function uniqueName(label = "workout"): string {
  return `${label}-${crypto.randomUUID().slice(0, 8)}`;
}

function telemetry(power: number) {
  return JSON.stringify({ power, timestamp: Date.now(), dataType: "workout_metrics" });
}

async function call(method: string, path: string, caller: Caller, body?: unknown) {
  const sep = path.includes("?") ? "&" : "?";
  const url = caller.query ? `${path}${sep}${caller.query}` : path;
  const res = await t.request(method, url, { headers: caller.headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const fetcher: Fetcher = (req) => t.app.fetch(req);

async function listen(path: string, caller: Caller): Promise<SseClient> {
  const sep = path.includes("?") ? "&" : "?";
  const url = `http://localhost${path}${caller.query ? `${sep}${caller.query}` : ""}`;
  return await openSse(fetcher, url, caller.headers);
}

/** A share link inserted as already expired (a link cannot be made so through the API). */
async function expiredShare(userId: string, name: string): Promise<string> {
  const token = `bpts_expired${crypto.randomUUID().replaceAll("-", "")}`;
  await t.sql`
    insert into stream_shares (user_id, stream_name, token_hash, created_at, expires_at)
    values (${userId}, ${name}, ${await hashSecret(token)}, now() - interval '2 hours',
      now() - interval '1 hour')
  `;
  return token;
}

async function setup() {
  const owner = await registerRider(t);
  const other = await registerRider(t);
  const name = uniqueName();
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const as = {
    owner: { label: "owner", headers: bearer(owner.accessToken), query: "" },
    other: { label: "other rider", headers: bearer(other.accessToken), query: "" },
    shared: { label: "shared key", headers: { "x-api-key": sharedKey }, query: "" },
    anonymous: { label: "anonymous", headers: {}, query: "" },
  } satisfies Record<string, Caller>;
  const created = await call("POST", "/api/streams/create", as.owner, { streamName: name });
  assert.equal(created.status, 200);
  assert.equal(
    (await call("POST", `/api/streams/${name}/messages`, as.owner, {
      message: telemetry(200),
    })).status,
    200,
  );
  const link = await call("POST", `/api/streams/${name}/shares`, as.owner, {
    expiresInMinutes: 60,
  });
  assert.equal(link.status, 201);
  assert.ok(link.body.token.startsWith("bpts_"));
  assert.equal(link.body.listenUrl, `/api/streams/${name}/listen?share=${link.body.token}`);
  const revoked = await call("POST", `/api/streams/${name}/shares`, as.owner, {});
  assert.equal(
    (await call("DELETE", `/api/streams/${name}/shares/${revoked.body.id}`, as.owner)).status,
    200,
  );
  const share: Caller = { label: "share link", headers: {}, query: `share=${link.body.token}` };
  const revokedLink: Caller = {
    label: "revoked link",
    headers: {},
    query: `share=${revoked.body.token}`,
  };
  const expiredLink: Caller = {
    label: "expired link",
    headers: {},
    query: `share=${await expiredShare(owner.user.id, name)}`,
  };
  return { owner, other, name, as: { ...as, share, revokedLink, expiredLink }, link: link.body };
}

Deno.test("every stream route answers each kind of caller as the stream's privacy says", async () => {
  const { name, as } = await setup();
  // The status each route answers each caller, in the order of `callers`.
  const callers = ["owner", "other", "shared", "anonymous", "share", "revokedLink", "expiredLink"];
  const expect: Record<string, number[]> = {
    messages: [200, 403, 403, 401, 200, 401, 401],
    listen: [200, 403, 403, 401, 200, 401, 401],
    post: [200, 403, 403, 401, 401, 401, 401],
    create: [200, 403, 403, 401, 401, 401, 401],
    shares: [201, 403, 401, 401, 401, 401, 401],
    visibility: [200, 403, 401, 401, 401, 401, 401],
  };
  for (const [who, caller] of Object.entries(as)) {
    const got: Record<string, number> = {};
    const read = await call("GET", `/api/streams/${name}/messages`, caller);
    got.messages = read.status;
    if (read.status === 200) {
      assert.ok(read.body.messages.length >= 2, `${caller.label} reads marker and message`);
    }
    const viewer = await listen(`/api/streams/${name}/listen`, caller);
    got.listen = viewer.status;
    await viewer.close();
    got.post = (await call("POST", `/api/streams/${name}/messages`, caller, {
      message: who === "owner" ? telemetry(201) : "intruder",
    })).status;
    got.create = (await call("POST", "/api/streams/create", caller, { streamName: name })).status;
    got.shares = (await call("POST", `/api/streams/${name}/shares`, caller, {})).status;
    got.visibility = (await call("PUT", `/api/streams/${name}/visibility`, caller, {
      visibility: "private",
    })).status;
    const column = callers.indexOf(who);
    const wanted = Object.fromEntries(
      Object.entries(expect).map(([route, statuses]) => [route, statuses[column]]),
    );
    assert.deepEqual(got, wanted, caller.label);
  }
  // Nothing the refused callers sent was stored: the marker, the owner's two messages.
  const after = await call("GET", `/api/streams/${name}/messages`, as.owner);
  assert.deepEqual(
    after.body.messages.map((m: { data: { message?: string } }) => m.data.message !== "intruder"),
    [true, true, true],
  );
  // DELETE last: only the owner.
  for (const caller of [as.other, as.shared, as.anonymous, as.share]) {
    const del = await call("DELETE", `/api/streams/${name}`, caller);
    assert.ok([401, 403].includes(del.status), `${caller.label} DELETE ${del.status}`);
  }
  assert.equal((await call("DELETE", `/api/streams/${name}`, as.owner)).status, 200);
});

Deno.test("GET /api/streams and listenAll show each caller only what it may see", async () => {
  const { name, as } = await setup();
  const sharedName = uniqueName("workout-sim");
  assert.equal(
    (await call("POST", "/api/streams/create", as.shared, { streamName: sharedName })).status,
    200,
  );
  const names = async (caller: Caller) =>
    ((await call("GET", "/api/streams", caller)).body.streams as { name: string }[])
      .map((s) => s.name);
  assert.ok((await names(as.owner)).includes(name));
  assert.ok(!(await names(as.owner)).includes(sharedName));
  assert.ok(!(await names(as.other)).includes(name));
  assert.ok(!(await names(as.shared)).includes(name));
  assert.ok((await names(as.shared)).includes(sharedName));
  assert.equal((await call("GET", "/api/streams", as.share)).status, 401);

  const views = {
    owner: await listen("/api/streams/listenAll", as.owner),
    other: await listen("/api/streams/listenAll", as.other),
    shared: await listen("/api/streams/listenAll", as.shared),
  };
  for (const v of Object.values(views)) await v.waitForCount(1);
  assert.equal(
    (await call("POST", `/api/streams/${name}/messages`, as.owner, {
      message: telemetry(321),
    })).status,
    200,
  );
  assert.equal(
    (await call("POST", `/api/streams/${sharedName}/messages`, as.shared, {
      message: "broadcast",
    })).status,
    200,
  );
  await views.owner.waitFor((f) => f.stream === name);
  await views.shared.waitFor((f) => f.stream === sharedName);
  await views.other.waitFor((f) => f.type === "connected");
  // Give the others' frames time to arrive if they were going to.
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(!views.other.frames.some((f) => f.stream === name || f.stream === sharedName));
  assert.ok(!views.shared.frames.some((f) => f.stream === name));
  assert.ok(!views.owner.frames.some((f) => f.stream === sharedName));
  for (const v of Object.values(views)) await v.close();
  await call("DELETE", `/api/streams/${name}`, as.owner);
  await call("DELETE", `/api/streams/${sharedName}`, as.shared);
});

Deno.test("a public stream may be watched and read by anyone; private again hides it", async () => {
  const { name, as } = await setup();
  const pub = await call("PUT", `/api/streams/${name}/visibility`, as.owner, {
    visibility: "public",
  });
  assert.deepEqual(pub, { status: 200, body: { streamName: name, visibility: "public" } });
  assert.equal((await call("GET", `/api/streams/${name}/messages`, as.other)).status, 200);
  assert.equal((await call("GET", `/api/streams/${name}/messages`, as.shared)).status, 200);
  const viewer = await listen(`/api/streams/${name}/listen`, as.other);
  assert.equal(viewer.status, 200);
  await viewer.waitForCount(1);
  await call("POST", `/api/streams/${name}/messages`, as.owner, { message: telemetry(250) });
  await viewer.waitFor((f) => f.type === "message");
  // Still only the owner may write or delete.
  assert.equal(
    (await call("POST", `/api/streams/${name}/messages`, as.other, { message: "x" })).status,
    403,
  );
  await call("PUT", `/api/streams/${name}/visibility`, as.owner, { visibility: "private" });
  assert.equal((await call("GET", `/api/streams/${name}/messages`, as.other)).status, 403);
  // The open viewer gets nothing more once the stream is private.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const seen = viewer.frames.length;
  await call("POST", `/api/streams/${name}/messages`, as.owner, { message: telemetry(260) });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(viewer.frames.length, seen);
  await viewer.close();
  await call("DELETE", `/api/streams/${name}`, as.owner);
});

Deno.test("a share link shows its one stream without an account until it is revoked", async () => {
  const { name, as, link } = await setup();
  const viewer = await listen(`/api/streams/${name}/listen`, as.share);
  assert.equal(viewer.status, 200);
  await viewer.waitForCount(1);
  await call("POST", `/api/streams/${name}/messages`, as.owner, { message: telemetry(280) });
  const got = await viewer.waitFor((f) => f.type === "message");
  assert.equal(JSON.parse((got.data as { message: string }).message).power, 280);
  // The link opens no other stream of the same rider.
  const second = uniqueName();
  await call("POST", "/api/streams/create", as.owner, { streamName: second });
  assert.equal((await call("GET", `/api/streams/${second}/messages`, as.share)).status, 403);
  assert.equal((await listen(`/api/streams/${second}/listen`, as.share)).status, 403);

  const listed = await call("GET", `/api/streams/${name}/shares`, as.owner);
  assert.equal(listed.status, 200);
  const mine = listed.body.shares.find((s: { id: string }) => s.id === link.id);
  assert.equal(mine.active, true);
  // Another rider sees none of the owner's links and cannot revoke them.
  assert.deepEqual((await call("GET", `/api/streams/${name}/shares`, as.other)).body.shares, []);
  assert.equal(
    (await call("DELETE", `/api/streams/${name}/shares/${link.id}`, as.other)).status,
    404,
  );

  // Revoking ends the open viewer and refuses the link from then on.
  assert.equal(
    (await call("DELETE", `/api/streams/${name}/shares/${link.id}`, as.owner)).status,
    200,
  );
  await viewer.ended;
  assert.equal((await call("GET", `/api/streams/${name}/messages`, as.share)).status, 401);
  const after = await call("GET", `/api/streams/${name}/shares`, as.owner);
  assert.equal(after.body.shares.find((s: { id: string }) => s.id === link.id).active, false);
  await call("DELETE", `/api/streams/${name}`, as.owner);
  await call("DELETE", `/api/streams/${second}`, as.owner);
});

Deno.test("share links refuse bad input: too long a life, not a number, another rider's stream", async () => {
  const { name, as } = await setup();
  const max = t.deps.config.shareLinkMaxDays * 24 * 60;
  for (
    const body of [{ expiresInMinutes: max + 1 }, { expiresInMinutes: 0 }, {
      expiresInMinutes: "soon",
    }]
  ) {
    const res = await call("POST", `/api/streams/${name}/shares`, as.owner, body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(typeof res.body.error, "string");
  }
  const malformed = await t.request("POST", `/api/streams/${name}/shares`, {
    headers: { ...as.owner.headers, "content-type": "application/json" },
    body: "{not json",
  });
  assert.equal(malformed.status, 400);
  await malformed.body?.cancel();
  // No body at all takes the defaults: 24 hours.
  const plain = await t.request("POST", `/api/streams/${name}/shares`, {
    headers: as.owner.headers,
  });
  assert.equal(plain.status, 201);
  const { expiresAt, createdAt } = await plain.json();
  const life = Date.parse(expiresAt) - Date.parse(createdAt);
  assert.ok(Math.abs(life - 24 * 3600_000) < 2000, `lives ${life} ms`);
  const [{ n }] = await t.sql`
    select count(*)::int as n from stream_shares where stream_name = ${name}
  `;
  assert.equal(n, 4); // setup's two, the expired one and the plain one; none of the refused
  await call("DELETE", `/api/streams/${name}`, as.owner);
});

Deno.test("SSE connections are capped per rider and per address for share-link viewers", async () => {
  const capped = await startTestApp({
    apiKey: sharedKey,
    sseMax: { perRider: 2, perAddress: 1 },
  });
  try {
    const rider = await registerRider(capped);
    const name = uniqueName();
    const headers = { authorization: `Bearer ${rider.accessToken}` };
    await capped.request("POST", "/api/streams/create", { headers, body: { streamName: name } });
    const open = (query = "", h: Record<string, string> = headers) =>
      openSse(
        (req) => capped.app.fetch(req),
        `http://localhost/api/streams/${name}/listen${query}`,
        h,
      );
    const first = await open();
    const second = await open();
    const third = await open();
    assert.deepEqual([first.status, second.status, third.status], [200, 200, 429]);
    assert.equal(JSON.parse(third.errorBody).code, "too_many_connections");
    // The cap counts across listenAll too, and frees a slot when a viewer leaves.
    await first.close();
    let again: SseClient | undefined;
    for (let i = 0; i < 50; i++) {
      again = await open();
      if (again.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(again?.status, 200);

    const link = await (await capped.request("POST", `/api/streams/${name}/shares`, {
      headers,
      body: {},
    })).json();
    const viaLink = await open(`?share=${link.token}`, {});
    const secondViaLink = await open(`?share=${link.token}`, {});
    assert.deepEqual([viaLink.status, secondViaLink.status], [200, 429]);
    for (const v of [second, again!, viaLink]) await v.close();
  } finally {
    await capped.close();
  }
});
