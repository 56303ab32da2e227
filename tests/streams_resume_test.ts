// A viewer that reconnects with Last-Event-ID (as EventSource does) gets every entry after that
// id, then the live ones, each once and in order — on the same instance or another one.
import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import { createLiveStore } from "../src/live/store.ts";
import { liveServices } from "../src/wiring.ts";
import { eventually, isPlainDataStream, openSse } from "./sse_client.ts";
import { startTestApp, type TestApp } from "./support.ts";

const key = { "x-api-key": "resume-key" };
let t: TestApp;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ apiKey: "resume-key", rateLimitPerMinute: 0 });
});
Deno.test.afterAll(() => t.close());

async function post(app: { request: typeof t.app.request }, name: string, n: number) {
  const res = await app.request(`/api/streams/${name}/messages`, {
    method: "POST",
    headers: { ...key, "content-type": "application/json" },
    body: JSON.stringify({ message: `message ${n}` }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).messageId as string;
}

const messages = (frames: Record<string, unknown>[]) =>
  frames.filter((f) => f.type === "message").map((f) => (f.data as { message: string }).message);

Deno.test("a viewer reconnecting with Last-Event-ID gets what it missed, then live entries, once each", async () => {
  const name = `resume-${crypto.randomUUID().slice(0, 8)}`;
  await t.app.request("/api/streams/create", {
    method: "POST",
    headers: { ...key, "content-type": "application/json" },
    body: JSON.stringify({ streamName: name }),
  });
  const url = `http://app/api/streams/${name}/listen`;
  const first = await openSse(t.app.request, url, key);
  await eventually(() => first.frames.length >= 1);
  const ids = [await post(t.app, name, 1), await post(t.app, name, 2)];
  await eventually(() => messages(first.frames).length === 2, 3000, "two messages");
  // Every message frame carries its entry id in an `id:` line.
  assert.deepEqual(first.ids, ids);
  await first.close();

  // Missed while away: 3 and 4. A second instance (same Redis) answers the reconnect.
  for (const n of [3, 4]) ids.push(await post(t.app, name, n));
  const live = createLiveStore({
    url: t.deps.config.redisRestUrl,
    token: t.deps.config.redisRestToken,
    prefix: t.deps.config.redisKeyPrefix,
    retries: 0,
  });
  const services = liveServices(live, t.deps.config, t.deps.log);
  const other = createApp({ ...t.deps, live, ...services });
  try {
    const again = await openSse(other.request, url, { ...key, "last-event-id": first.ids.at(-1)! });
    await eventually(() => messages(again.frames).length === 2, 3000, "the missed messages");
    // Live entries after the resume, posted on either instance.
    ids.push(await post(other, name, 5));
    ids.push(await post(t.app, name, 6));
    await eventually(() => messages(again.frames).length === 4, 3000, "the live messages");
    await new Promise((resolve) => setTimeout(resolve, 2 * t.deps.config.streamPollMs));
    assert.deepEqual(again.frames[0], { type: "connected", streamName: name });
    assert.deepEqual(messages(again.frames), ["message 3", "message 4", "message 5", "message 6"]);
    assert.deepEqual(again.ids, ids.slice(2));
    assert.ok(isPlainDataStream(again.raw()), JSON.stringify(again.raw()));
    await again.close();

    // An id that is not one of ours is ignored: from now on, as without one.
    const fresh = await openSse(t.app.request, url, { ...key, "last-event-id": "not-an-id" });
    await eventually(() => fresh.frames.length >= 1);
    await post(t.app, name, 7);
    await eventually(() => messages(fresh.frames).length === 1, 3000, "message 7");
    assert.deepEqual(messages(fresh.frames), ["message 7"]);
    await fresh.close();
  } finally {
    services.hub.close();
    live.close();
  }
});
