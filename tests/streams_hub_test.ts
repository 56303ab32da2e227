import assert from "node:assert/strict";
import { delay } from "./local_servers.ts";
import { startTestApp, type TestApp } from "./support.ts";

/** The `data:` line's JSON text of one frame (after its `id:` line, when it has one). */
function dataOf(frame: string): string {
  return frame.replace(/^id: [^\n]*\n/, "").slice("data: ".length);
}

let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ streamPollMs: 20 });
});
Deno.test.afterAll(() => t.close());

Deno.test("viewers subscribing at once share one first read and miss no later entry", async () => {
  const name = `hub-race-${crypto.randomUUID().slice(0, 8)}`;
  await t.deps.streams.create(name, "shared");
  const received = Array.from({ length: 50 }, () => [] as string[]);
  const decoder = new TextDecoder();
  const readsBefore = t.deps.hub.stats().redisReads;
  // Posts keep arriving while the viewers subscribe.
  let posting = true;
  const poster = (async () => {
    for (let i = 0; posting; i++) {
      await t.deps.streams.post(name, { owner: "shared", message: `early ${i}` });
      await delay(2);
    }
  })();
  const unsubscribes = await Promise.all(received.map((frames) =>
    t.deps.hub.subscribe(name, {
      write: (bytes) => frames.push(decoder.decode(bytes)),
      end: () => {},
    })
  ));
  posting = false;
  await poster;
  const readsForSubscribing = t.deps.hub.stats().redisReads - readsBefore;
  assert.ok(readsForSubscribing <= 3, `subscribing cost ${readsForSubscribing} Redis reads`);

  const later: string[] = [];
  for (let i = 0; i < 10; i++) {
    const posted = await t.deps.streams.post(name, { owner: "shared", message: `late ${i}` });
    if (posted.ok) later.push(posted.messageId);
  }
  for (let i = 0; i < 100 && received.some((f) => !f.join("").includes(later.at(-1)!)); i++) {
    await delay(20);
  }
  for (const frames of received) {
    const ids = frames.map((f) => JSON.parse(dataOf(f)).id);
    for (const id of later) assert.ok(ids.includes(id), `a viewer missed ${id}`);
    assert.equal(new Set(ids).size, ids.length, "a viewer got an entry twice");
  }
  unsubscribes.forEach((unsubscribe) => unsubscribe());
  assert.equal(t.deps.hub.stats().viewers, 0);
});

Deno.test("a post on this instance reaches its viewers here without a Redis read", async () => {
  // A poll interval far longer than the test: only the local relay can deliver in time.
  const slow = await startTestApp({ streamPollMs: 60_000, apiKey: "test-shared-key" });
  try {
    const name = `hub-local-${crypto.randomUUID().slice(0, 8)}`;
    const headers = { "x-api-key": "test-shared-key" };
    await slow.request("POST", "/api/streams/create", { body: { streamName: name }, headers });
    const frames: string[] = [];
    const decoder = new TextDecoder();
    const unsubscribe = await slow.deps.hub.subscribe(name, {
      write: (bytes) => frames.push(decoder.decode(bytes)),
      end: () => {},
    });
    const readsBefore = slow.deps.hub.stats().redisReads;
    const posted: string[] = [];
    for (const message of ["first", "second", "third"]) {
      const res = await slow.request("POST", `/api/streams/${name}/messages`, {
        body: { message, author: "hub test" },
        headers,
      });
      assert.equal(res.status, 200);
      posted.push((await res.json()).messageId);
    }
    const got = frames.map((f) => JSON.parse(dataOf(f)));
    assert.deepEqual(got.map((g) => [g.type, g.id, g.data.message, g.data.author]), [
      ["message", posted[0], "first", "hub test"],
      ["message", posted[1], "second", "hub test"],
      ["message", posted[2], "third", "hub test"],
    ]);
    // The same bytes a poll would have produced: the entry as Redis stores it.
    const stored = await slow.deps.streams.range(name, posted[2], posted[2], 1);
    assert.equal(
      frames[2],
      `id: ${stored[0].id}\ndata: ${JSON.stringify({ type: "message", ...stored[0] })}\n\n`,
    );
    assert.equal(slow.deps.hub.stats().redisReads, readsBefore);
    unsubscribe();
  } finally {
    await slow.close();
  }
});

Deno.test("a local post after another instance's entry waits for the poll, keeping the order", async () => {
  const slow = await startTestApp({ streamPollMs: 60_000, apiKey: "test-shared-key" });
  try {
    const name = `hub-order-${crypto.randomUUID().slice(0, 8)}`;
    const headers = { "x-api-key": "test-shared-key" };
    await slow.request("POST", "/api/streams/create", { body: { streamName: name }, headers });
    const frames: string[] = [];
    const unsubscribe = await slow.deps.hub.subscribe(name, {
      write: (bytes) => frames.push(new TextDecoder().decode(bytes)),
      end: () => {},
    });
    // Another instance appends first (straight to Redis: this hub hears nothing of it).
    await slow.deps.streams.post(name, { owner: "shared", message: "elsewhere" });
    const res = await slow.request("POST", `/api/streams/${name}/messages`, {
      body: { message: "here" },
      headers,
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await delay(300);
    assert.deepEqual(frames, [], "the local entry overtook one it had not seen");
    unsubscribe();
  } finally {
    await slow.close();
  }
});

Deno.test("listenAll viewers get a new stream's marker and first messages even when a single viewer subscribes first", async () => {
  const hub = t.deps.hub;
  const decoder = new TextDecoder();
  const everything: Record<string, unknown>[] = [];
  const unsubscribeAll = await hub.subscribe(null, {
    write: (bytes) => everything.push(JSON.parse(dataOf(decoder.decode(bytes)))),
    end: () => {},
  });
  const singles: (() => void)[] = [];
  const names: string[] = [];
  for (let i = 0; i < 6; i++) {
    const name = `hub-all-race-${crypto.randomUUID().slice(0, 8)}`;
    names.push(name);
    await t.deps.streams.create(name, "shared");
    await t.deps.streams.post(name, { owner: "shared", message: `first ${i}` });
    // A viewer of just this stream subscribes before the hub has read the creation event.
    const own: string[] = [];
    singles.push(
      await hub.subscribe(name, { write: (b) => own.push(decoder.decode(b)), end() {} }),
    );
    await t.deps.streams.post(name, { owner: "shared", message: `second ${i}` });
  }
  const has = (name: string, match: (data: Record<string, string>) => boolean) =>
    everything.some((f) =>
      f.type === "message" && f.stream === name && match(f.data as Record<string, string>)
    );
  for (let i = 0; i < 100; i++) {
    if (names.every((n, k) => has(n, (d) => d.message === `second ${k}`))) break;
    await delay(20);
  }
  names.forEach((name, k) => {
    assert.ok(has(name, (d) => d.type === "stream_created"), `${name}: the marker`);
    assert.ok(has(name, (d) => d.message === `first ${k}`), `${name}: the first message`);
    assert.ok(has(name, (d) => d.message === `second ${k}`), `${name}: the second message`);
  });
  // listenAll's stream_deleted names the stream in `stream`, as its other frames do.
  await t.deps.streams.remove(names[0]);
  for (let i = 0; i < 100 && !everything.some((f) => f.type === "stream_deleted"); i++) {
    await delay(20);
  }
  assert.deepEqual(everything.find((f) => f.type === "stream_deleted"), {
    type: "stream_deleted",
    stream: names[0],
    streamName: names[0],
  });
  singles.forEach((unsubscribe) => unsubscribe());
  unsubscribeAll();
  for (const name of names.slice(1)) await t.deps.streams.remove(name);
});
