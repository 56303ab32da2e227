import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import type { Config } from "../src/core/config.ts";
import { liveServices } from "../src/wiring.ts";
import { createLiveStore } from "../src/live/store.ts";
import {
  eventually,
  isPlainDataStream,
  openSse,
  serveOnFreePort,
  type SseClient,
} from "./sse_client.ts";
import { startTestApp, type TestApp } from "./support.ts";

// SSE of the legacy streams (COMPAT "SSE") and the hub behind it (DESIGN §4): one reader per
// instance feeds every local viewer; instances share nothing but Redis.

const sharedKey = "shared-key";
const key = { "x-api-key": sharedKey };

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ apiKey: sharedKey, rateLimitPerMinute: 0 });
});
Deno.test.afterAll(() => t.close());

function uniqueName(label = "workout-sim"): string {
  return `${label}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Another instance of the service: its own Redis client, stream store and hub, same Redis. */
function secondInstance(overrides: Partial<Config> = {}) {
  const config = { ...t.deps.config, ...overrides };
  const live = createLiveStore({
    url: config.redisRestUrl,
    token: config.redisRestToken,
    prefix: config.redisKeyPrefix,
    retries: 0,
  });
  const services = liveServices(live, config, t.deps.log);
  const deps = { ...t.deps, config, live, ...services };
  return { app: createApp(deps), deps, close: () => services.hub.close() };
}

type Api = (method: string, path: string, body?: unknown) => Promise<Response>;

/** JSON calls with the shared key through an app. */
function apiOf(app: { request: typeof t.app.request }): Api {
  return (method, path, body) =>
    Promise.resolve(app.request(path, {
      method,
      headers: body === undefined ? key : { ...key, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }));
}

/** JSON calls with the shared key through the main instance (A). */
const api: Api = (method, path, body) => apiOf(t.app)(method, path, body);

async function ok(res: Promise<Response>) {
  const r = await res;
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
}

async function create(name: string, via: Api = api) {
  return await ok(via("POST", "/api/streams/create", { streamName: name })) as {
    messageId: string;
  };
}

async function post(name: string, body: unknown, via: Api = api) {
  return await ok(via("POST", `/api/streams/${name}/messages`, body)) as { messageId: string };
}

async function entries(name: string) {
  return (await ok(api("GET", `/api/streams/${name}/messages?count=1000`))).messages as {
    id: string;
    data: Record<string, string>;
  }[];
}

/** Every SSE client opened by the running test, closed before its server shuts down. */
const clients = new Set<SseClient>();

async function track(client: Promise<SseClient>): Promise<SseClient> {
  const c = await client;
  clients.add(c);
  return c;
}

/** Serves an app on a real loopback port for the duration of `body`. */
async function withServer<T>(
  app: { fetch: (req: Request) => Response | Promise<Response> },
  body: (url: string) => Promise<T>,
): Promise<T> {
  const server = serveOnFreePort((req) => app.fetch(req));
  try {
    return await body(server.url);
  } finally {
    // A failed assertion leaves viewers open, and shutdown() waits for open responses.
    await Promise.all([...clients].map((c) => c.close()));
    clients.clear();
    await withTimeout(server.close(), 5000, "the server to shut down");
  }
}

function listen(base: string, name: string): Promise<SseClient> {
  return track(openSse(fetch, `${base}/api/streams/${name}/listen?apiKey=${sharedKey}`));
}

function listenAll(base: string): Promise<SseClient> {
  return track(openSse(fetch, `${base}/api/streams/listenAll`, key));
}

/** Waits until a hub reads nothing any more (no viewers, its loop stopped). */
async function hubIdle(hub = t.deps.hub) {
  await eventually(() => hub.stats().viewers === 0, 3000, "no viewers");
  await eventually(() => hub.stats().readers === 0, 3000, "the reader to stop");
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const isMessage = (f: Record<string, unknown>) => f.type === "message";

Deno.test("GET /api/streams/:name/listen sends connected, then each later entry, then stream_deleted and ends", async () => {
  const name = uniqueName();
  await create(name);
  await post(name, { message: "before the viewer" });

  await withServer(t.app, async (base) => {
    const sse = await listen(base, name);
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get("content-type") ?? "", /^text\/event-stream/);
    await sse.waitForCount(1);
    assert.deepEqual(sse.frames[0], { type: "connected", streamName: name });
    assert.ok(
      sse.raw().startsWith(`data: ${JSON.stringify({ type: "connected", streamName: name })}\n\n`),
      JSON.stringify(sse.raw()),
    );

    // Posted as soon as the client saw `connected`.
    const first = await post(name, { message: "hello", author: "alice" });
    const second = await post(name, { message: { power: 250, dataType: "workout_metrics" } });
    await sse.waitFor((f) => f.id === second.messageId);
    const stored = await entries(name);
    const messages = sse.frames.filter(isMessage);
    assert.deepEqual(messages, [
      { type: "message", id: first.messageId, data: stored.at(-2)!.data },
      { type: "message", id: second.messageId, data: stored.at(-1)!.data },
    ]);
    assert.deepEqual(stored.at(-2)!.data.message, "hello");
    assert.deepEqual(stored.at(-2)!.data.author, "alice");
    assert.equal(stored.at(-1)!.data.message, '{"power":250,"dataType":"workout_metrics"}');

    assert.equal((await api("DELETE", `/api/streams/${name}`)).status, 200);
    await withTimeout(sse.ended, 3000, "the response to end after stream_deleted");
    assert.deepEqual(sse.frames.at(-1), { type: "stream_deleted", streamName: name });
    assert.equal(sse.frames.length, 4);
    assert.ok(isPlainDataStream(sse.raw()), JSON.stringify(sse.raw()));
    assert.deepEqual(sse.otherLines, []);
    assert.ok(!/^event:/m.test(sse.raw()));
    await sse.close();
  });
  await hubIdle();
});

Deno.test("a viewer that connects to a stream before it exists sees it being created and used", async () => {
  const name = uniqueName();
  await withServer(t.app, async (base) => {
    const sse = await listen(base, name);
    await sse.waitForCount(1);
    const created = await create(name);
    const posted = await post(name, { message: "first" });
    await sse.waitFor((f) => f.id === posted.messageId);
    const ids = sse.frames.filter(isMessage).map((f) => f.id);
    assert.deepEqual(ids, [created.messageId, posted.messageId]);
    assert.deepEqual(
      (sse.frames.find((f) => f.id === created.messageId) as { data: unknown }).data,
      (await entries(name))[0].data,
    );
    await sse.close();
  });
  assert.equal((await api("DELETE", `/api/streams/${name}`)).status, 200);
  await hubIdle();
});

Deno.test("a message posted right before the stream is deleted still reaches the viewer", async () => {
  const name = uniqueName();
  await create(name);
  await withServer(t.app, async (base) => {
    const sse = await listen(base, name);
    await sse.waitForCount(1);
    const last = await post(name, { message: "last words" });
    assert.equal((await api("DELETE", `/api/streams/${name}`)).status, 200);
    await withTimeout(sse.ended, 3000, "the response to end");
    assert.deepEqual(sse.frames.map((f) => f.type), ["connected", "message", "stream_deleted"]);
    assert.equal(sse.frames[1].id, last.messageId);
    await sse.close();
  });
  await hubIdle();
});

Deno.test("GET /api/streams/listenAll tags each entry with its stream and sees streams created later", async () => {
  const existing = uniqueName();
  await create(existing);
  await post(existing, { message: "old news" });

  await withServer(t.app, async (base) => {
    const sse = await listenAll(base);
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get("content-type") ?? "", /^text\/event-stream/);
    await sse.waitForCount(1);
    assert.deepEqual(sse.frames[0], { type: "connected", streamName: "all" });

    const a = await post(existing, { message: "news", author: "bob" });
    const later = uniqueName();
    const created = await create(later);
    const b = await post(later, { message: "brand new" });
    await sse.waitFor((f) => f.id === a.messageId);
    await sse.waitFor((f) => f.id === b.messageId);

    const mine = sse.frames.filter((f) =>
      isMessage(f) && (f.stream === existing || f.stream === later)
    );
    const storedA = (await entries(existing)).at(-1)!;
    const storedB = await entries(later);
    assert.deepEqual(mine.find((f) => f.stream === existing), {
      type: "message",
      stream: existing,
      id: a.messageId,
      data: storedA.data,
    });
    assert.equal(mine.filter((f) => f.stream === existing).length, 1);
    const fromLater = mine.filter((f) => f.stream === later);
    assert.deepEqual(fromLater.at(-1), {
      type: "message",
      stream: later,
      id: b.messageId,
      data: storedB[1].data,
    });
    // The new stream's marker entry is an entry newer than the connection too.
    assert.deepEqual(fromLater.map((f) => f.id), [created.messageId, b.messageId]);
    for (const f of sse.frames.filter(isMessage)) assert.equal(typeof f.stream, "string");

    // Deleting a stream tells listenAll viewers, who stay connected.
    const mark = sse.frames.length;
    assert.equal((await api("DELETE", `/api/streams/${later}`)).status, 200);
    await sse.waitFor((f) => f.type === "stream_deleted" && f.streamName === later, { from: mark });
    const after = await post(existing, { message: "still listening" });
    await sse.waitFor((f) => f.id === after.messageId);
    assert.equal(sse.isEnded(), false);
    assert.ok(isPlainDataStream(sse.raw()), JSON.stringify(sse.raw()));
    assert.deepEqual(sse.otherLines, []);
    await sse.close();
  });
  assert.equal((await api("DELETE", `/api/streams/${existing}`)).status, 200);
  await hubIdle();
});

Deno.test("a heartbeat comment keeps the connection alive without breaking data: parsers", async () => {
  const b = secondInstance({ sseHeartbeatS: 1 });
  const name = uniqueName();
  try {
    await create(name);
    await withServer(b.app, async (base) => {
      const sse = await listen(base, name);
      await sse.waitForCount(1);
      await eventually(() => sse.comments.length > 0, 2500, "a heartbeat comment");
      assert.deepEqual(sse.comments, [": ping"]);
      const posted = await post(name, { message: "after a ping" });
      await sse.waitFor((f) => f.id === posted.messageId);
      assert.ok(isPlainDataStream(sse.raw()), JSON.stringify(sse.raw()));
      assert.deepEqual(sse.frames.map((f) => f.type), ["connected", "message"]);
      await sse.close();
    });
    await hubIdle(b.deps.hub);
  } finally {
    b.close();
    await api("DELETE", `/api/streams/${name}`);
  }
});

Deno.test("two instances share one Redis: a message posted to A reaches a viewer on B", async () => {
  const b = secondInstance();
  const apiB = apiOf(b.app);
  const name = uniqueName();
  try {
    await create(name); // on A
    await withServer(b.app, async (baseB) => {
      const viewer = await listen(baseB, name);
      const all = await listenAll(baseB);
      await viewer.waitForCount(1);
      await all.waitForCount(1);

      const posted = await post(name, { message: "via A" }); // on A
      await viewer.waitFor((f) => f.id === posted.messageId);
      await all.waitFor((f) => f.id === posted.messageId && f.stream === name);

      // A stream created on A shows up on B's listenAll.
      const other = uniqueName();
      await create(other);
      const onOther = await post(other, { message: "new stream via A" });
      await all.waitFor((f) => f.id === onOther.messageId && f.stream === other);

      // And the other way round: posted to B, read on A.
      const back = await post(name, { message: "via B" }, apiB);
      assert.equal((await entries(name)).at(-1)!.id, back.messageId);
      await viewer.waitFor((f) => f.id === back.messageId);

      // Deleted on A: the viewer on B is told and its response ends.
      assert.equal((await api("DELETE", `/api/streams/${name}`)).status, 200);
      await withTimeout(viewer.ended, 3000, "B's viewer to end");
      assert.deepEqual(viewer.frames.at(-1), { type: "stream_deleted", streamName: name });
      await all.waitFor((f) => f.type === "stream_deleted" && f.streamName === name);
      assert.equal((await api("DELETE", `/api/streams/${other}`)).status, 200);
      await viewer.close();
      await all.close();
    });
    // A never had a viewer: it read nothing.
    assert.equal(t.deps.hub.stats().readers, 0);
    await hubIdle(b.deps.hub);
  } finally {
    b.close();
  }
});

Deno.test("200 viewers of one stream share one reader; when they leave the hub stops reading", async () => {
  const hub = t.deps.hub;
  await hubIdle();
  const name = uniqueName("stress-test");
  await create(name);
  await withServer(t.app, async (base) => {
    const viewers = await Promise.all(Array.from({ length: 200 }, () => listen(base, name)));
    await Promise.all(viewers.map((v) => v.waitForCount(1)));
    await eventually(() => hub.stats().viewers === 200, 3000, "200 viewers");
    assert.deepEqual(
      { ...hub.stats(), redisReads: 0 },
      { viewers: 200, watchedStreams: 1, readers: 1, redisReads: 0 },
    );

    // Reads per second do not depend on the number of viewers.
    const readsBefore = hub.stats().redisReads;
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const reads = hub.stats().redisReads - readsBefore;
    const polls = Math.ceil((Date.now() - started) / t.deps.config.streamPollMs) + 1;
    assert.ok(reads >= 1 && reads <= polls, `${reads} reads in one second (at most ${polls})`);

    const posted = await post(name, { message: "to everyone" });
    await Promise.all(viewers.map((v) => v.waitFor((f) => f.id === posted.messageId)));
    for (const v of viewers) {
      assert.deepEqual(v.frames.map((f) => f.type), ["connected", "message"]);
    }

    await Promise.all(viewers.map((v) => v.close()));
    await eventually(() => hub.stats().viewers === 0, 3000, "every viewer to be gone");
  });
  await eventually(() => hub.stats().readers === 0, 3000, "the reader to stop");
  assert.equal(hub.stats().watchedStreams, 0);
  const idle = hub.stats().redisReads;
  await new Promise((resolve) => setTimeout(resolve, 3 * t.deps.config.streamPollMs + 100));
  assert.equal(hub.stats().redisReads, idle, "no Redis reads without viewers");
  assert.equal((await api("DELETE", `/api/streams/${name}`)).status, 200);
});

Deno.test("every viewer gets every entry once and in order, posted here or on another instance", async () => {
  const name = uniqueName();
  await create(name);
  const b = secondInstance();
  try {
    await withServer(t.app, async (base) => {
      const viewers = await Promise.all(Array.from({ length: 50 }, () => listen(base, name)));
      await Promise.all(viewers.map((v) => v.waitForCount(1)));
      // Posts to this instance are relayed at once; posts to B arrive with this hub's next poll.
      // Both kinds interleaved must still reach every viewer in the stream's order.
      const posted: string[] = [];
      for (let i = 0; i < 20; i++) {
        const via = i % 3 === 2 ? apiOf(b.app) : api;
        posted.push((await post(name, { message: `entry ${i}` }, via)).messageId);
      }
      await Promise.all(viewers.map((v) => v.waitFor((f) => f.id === posted.at(-1))));
      const stored = (await entries(name)).map((e) => e.id).slice(-posted.length);
      assert.deepEqual(stored, posted);
      for (const v of viewers) {
        assert.deepEqual(v.frames.filter(isMessage).map((f) => f.id), posted);
      }
    });
  } finally {
    b.close();
  }
  assert.equal((await api("DELETE", `/api/streams/${name}`)).status, 200);
  await hubIdle();
});

Deno.test("a viewer that stops reading does not hold back the others, and leaving frees its place", async () => {
  const hub = t.deps.hub;
  await hubIdle();
  const name = uniqueName();
  await create(name);
  // A viewer whose response nobody reads: its frames queue up on its own response only.
  const stalled = await t.app.fetch(
    new Request(`http://localhost/api/streams/${name}/listen`, { headers: key }),
  );
  assert.equal(stalled.status, 200);
  await withServer(t.app, async (base) => {
    const reading = await listen(base, name);
    await reading.waitForCount(1);
    await eventually(() => hub.stats().viewers === 2, 3000, "both viewers");
    const posted: string[] = [];
    for (let i = 0; i < 30; i++) posted.push((await post(name, { message: `m${i}` })).messageId);
    await reading.waitFor((f) => f.id === posted.at(-1));
    assert.deepEqual(reading.frames.filter(isMessage).map((f) => f.id), posted);

    await stalled.body!.cancel();
    await eventually(() => hub.stats().viewers === 1, 3000, "the stalled viewer to be gone");
    const after = await post(name, { message: "after it left" });
    await reading.waitFor((f) => f.id === after.messageId);
    await reading.close();
  });
  await hubIdle();
  assert.equal((await api("DELETE", `/api/streams/${name}`)).status, 200);
});

Deno.test("streams nobody watches cost the hub no Redis reads", async () => {
  const hub = t.deps.hub;
  await hubIdle();
  const before = hub.stats().redisReads;
  const name = uniqueName();
  await create(name);
  for (let i = 0; i < 5; i++) await post(name, { message: `unseen ${i}` });
  await new Promise((resolve) => setTimeout(resolve, 3 * t.deps.config.streamPollMs + 100));
  assert.deepEqual(hub.stats(), { viewers: 0, watchedStreams: 0, readers: 0, redisReads: before });

  // A viewer of another stream watches that stream only.
  const watched = uniqueName();
  await create(watched);
  await withServer(t.app, async (base) => {
    const sse = await listen(base, watched);
    await sse.waitForCount(1);
    await post(name, { message: "still unseen" });
    const seen = await post(watched, { message: "seen" });
    await sse.waitFor((f) => f.id === seen.messageId);
    assert.equal(hub.stats().watchedStreams, 1);
    assert.deepEqual(sse.frames.filter(isMessage).map((f) => f.id), [seen.messageId]);
    await sse.close();
  });
  await hubIdle();
  for (const n of [name, watched]) {
    assert.equal((await api("DELETE", `/api/streams/${n}`)).status, 200);
  }
});

Deno.test("in-process requests (app.request) stream SSE too and unsubscribe when cancelled", async () => {
  const name = uniqueName();
  await create(name);
  const sse = await openSse(
    (req) => t.app.fetch(req),
    `http://localhost/api/streams/${name}/listen`,
    key,
  );
  await sse.waitForCount(1);
  const posted = await post(name, { message: "in process" });
  await sse.waitFor((f) => f.id === posted.messageId);
  assert.equal(t.deps.hub.stats().viewers, 1);
  await sse.close();
  await hubIdle();
  assert.equal((await api("DELETE", `/api/streams/${name}`)).status, 200);
});
