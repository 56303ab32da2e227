import assert from "node:assert/strict";
import { delay } from "./local_servers.ts";
import { startTestApp, type TestApp } from "./support.ts";

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
    const ids = frames.map((f) => JSON.parse(f.slice("data: ".length)).id);
    for (const id of later) assert.ok(ids.includes(id), `a viewer missed ${id}`);
    assert.equal(new Set(ids).size, ids.length, "a viewer got an entry twice");
  }
  unsubscribes.forEach((unsubscribe) => unsubscribe());
  assert.equal(t.deps.hub.stats().viewers, 0);
});
