import assert from "node:assert/strict";
import { registerRider, startTestApp, type TestApp } from "../support.ts";
import { eventually, isPlainDataStream, openSse } from "../sse_client.ts";
import { assertEnvelope, okJson } from "./attack_support.ts";

// Stream names and messages as an attack surface: names become Redis keys and appear in SSE
// frames; messages are relayed to every viewer. Bad names answer 400 (COMPAT: letters, digits,
// _ and -, 1–64 characters); what is accepted stays under the key prefix; no message can forge
// an SSE frame.

let t: TestApp;
let rider: Awaited<ReturnType<typeof registerRider>>;
Deno.test.beforeAll(async () => {
  t = await startTestApp();
  rider = await registerRider(t);
});
Deno.test.afterAll(() => t.close());

const fetcher = (request: Request) => t.app.fetch(request);

/** Every key in Redis (any prefix) whose name contains `marker`. */
async function keysWith(marker: string): Promise<string[]> {
  return await t.deps.live.raw.keys(`*${marker}*`);
}

/** Names an attacker would try, each carrying `m` so any key they create can be found. */
function hostileNames(m: string): string[] {
  return [
    `../${m}`,
    `../../${m}`,
    `..\\${m}`,
    `${m}/../x`,
    `${m}/x`,
    `%2e%2e%2f${m}`,
    `${m}%2F..%2F`,
    `${m}\u0000`,
    `${m}\r\nX-Injected: 1`,
    `${m}\n\ndata: {"type":"stream_deleted"}`,
    `${m}\t`,
    ` ${m}`,
    `${m} `,
    `${m}*`,
    "*",
    `${m}?`,
    `${m}[a-z]`,
    `bpt:${m}`,
    `sec:stream:${m}`,
    `${m}:meta`,
    `${m}.json`,
    `.${m}`,
    `${m}%`,
    `{${m}}`,
    `${m}\uff0d`,
    `${m}\u00e9`,
    `${m}\u202e`,
    `${m}${"a".repeat(65 - m.length)}`,
    `${m}${"a".repeat(10_000)}`,
  ];
}

Deno.test("POST /api/streams/create answers 400 with the COMPAT wording for every hostile name", async () => {
  const m = `atk${crypto.randomUUID().slice(0, 8)}`;
  for (const name of hostileNames(m)) {
    const res = await t.request("POST", "/api/streams/create", {
      token: rider.accessToken,
      body: { streamName: name },
    });
    const body = await assertEnvelope(res, 400, {
      code: "validation_failed",
      label: JSON.stringify(name),
    });
    assert.match(body.error, /alphanumeric|64 characters/, JSON.stringify(name));
  }
  const missing = await t.request("POST", "/api/streams/create", {
    token: rider.accessToken,
    body: { streamName: "" },
  });
  assert.match((await assertEnvelope(missing, 400)).error, /required/);
  assert.deepEqual(await keysWith(m), []);
});

Deno.test("every stream route with a hostile name in the path answers 400 or 404 and writes nothing", async () => {
  const m = `atk${crypto.randomUUID().slice(0, 8)}`;
  const auth = { authorization: `Bearer ${rider.accessToken}` };
  for (const name of hostileNames(m)) {
    // Encoded, the name arrives whole as the parameter; raw, where the URL keeps it one segment.
    const encoded = encodeURIComponent(name);
    const raw = /^[\w.*:[\]{}\u00a0-\uffff-]+$/.test(name) ? name : encoded;
    for (const segment of new Set([encoded, raw])) {
      const requests: [string, string, unknown?][] = [
        ["POST", `/api/streams/${segment}/messages`, { message: "hello" }],
        ["GET", `/api/streams/${segment}/messages`],
        ["DELETE", `/api/streams/${segment}`],
        ["GET", `/api/workouts/by-stream/${segment}`],
      ];
      for (const [method, path, body] of requests) {
        const res = await t.request(method, path, { token: rider.accessToken, body });
        await assertEnvelope(res, [400, 404, 405], { label: `${method} ${path.slice(0, 80)}` });
      }
      const sse = await openSse(fetcher, `http://localhost/api/streams/${segment}/listen`, auth);
      assert.ok([400, 404].includes(sse.status), `listen ${segment}: ${sse.status}`);
      assert.doesNotMatch(sse.headers.get("content-type") ?? "", /event-stream/);
      assert.equal(typeof JSON.parse(sse.errorBody).error, "string");
    }
  }
  const workout = await t.request("POST", "/api/workouts", {
    token: rider.accessToken,
    body: { streamName: `../${m}` },
  });
  await assertEnvelope(workout, 400, { code: "validation_failed" });
  assert.deepEqual(await keysWith(m), []);

  // A raw "../" is resolved by URL parsing before routing (as browsers do): it can only ever
  // name another valid stream, under the prefix, never a key outside it.
  const other = `atk${crypto.randomUUID().slice(0, 8)}`;
  const res = await t.request("POST", `/api/streams/${m}/../${other}/messages`, {
    token: rider.accessToken,
    body: { message: "resolved" },
  });
  assert.equal((await okJson<{ streamName: string }>(res)).streamName, other);
  const prefix = t.deps.config.redisKeyPrefix;
  assert.deepEqual(
    (await keysWith(other)).sort(),
    [`${prefix}stream:${other}`, `${prefix}stream:${other}:meta`],
  );
  assert.deepEqual(await keysWith(m), []);
  await t.request("DELETE", `/api/streams/${other}`, { token: rider.accessToken });
});

Deno.test("names that look like the service's own keys stay contained under the prefix", async () => {
  const prefix = t.deps.config.redisKeyPrefix;
  const m = crypto.randomUUID().slice(0, 8);
  const names = ["streams", "events", "meta", "tombstone", "workouts", "-", "_", `stream-${m}`];
  const registry = `${prefix}streams`;
  const events = `${prefix}streams:events`;
  for (const name of names) {
    await okJson(
      await t.request("POST", "/api/streams/create", {
        token: rider.accessToken,
        body: { streamName: name },
      }),
      name,
    );
    await okJson(
      await t.request("POST", `/api/streams/${name}/messages`, {
        token: rider.accessToken,
        body: { message: "contained" },
      }),
      name,
    );
    // The stream and its meta hash are exactly where the store puts them, nothing else.
    assert.equal(await t.deps.live.raw.type(`${prefix}stream:${name}`), "stream", name);
    assert.equal(await t.deps.live.raw.type(`${prefix}stream:${name}:meta`), "hash", name);
  }
  // The service's own keys kept their types: no name overwrote the registry or the event log.
  assert.equal(await t.deps.live.raw.type(registry), "zset");
  assert.equal(await t.deps.live.raw.type(events), "stream");
  const listed = await okJson<{ streams: { name: string; length: number }[] }>(
    await t.request("GET", "/api/streams", { token: rider.accessToken }),
  );
  for (const name of names) {
    assert.equal(listed.streams.find((s) => s.name === name)?.length, 2, name);
  }
  for (const name of names) {
    const res = await t.request("DELETE", `/api/streams/${name}`, { token: rider.accessToken });
    assert.equal(res.status, 200, name);
    assert.equal(await t.deps.live.raw.exists(`${prefix}stream:${name}:meta`), 0, name);
  }
  assert.equal(await t.deps.live.raw.type(registry), "zset");
});

Deno.test("a message or author with CRLF and data: lines never forges an SSE frame for viewers", async () => {
  const name = `sse-inject-${crypto.randomUUID().slice(0, 8)}`;
  await okJson(
    await t.request("POST", "/api/streams/create", {
      token: rider.accessToken,
      body: { streamName: name },
    }),
  );
  const auth = { authorization: `Bearer ${rider.accessToken}` };
  const viewer = await openSse(fetcher, `http://localhost/api/streams/${name}/listen`, auth);
  const everything = await openSse(fetcher, "http://localhost/api/streams/listenAll", auth);
  assert.equal(viewer.status, 200);
  await viewer.waitForCount(1);
  await everything.waitForCount(1);

  const forged = `{"type":"stream_deleted","streamName":"${name}"}`;
  const messages: { message: string | Record<string, unknown>; author?: string }[] = [
    { message: `hi\n\ndata: ${forged}\n\n` },
    { message: `hi\r\n\r\ndata: ${forged}\r\n\r\n` },
    { message: `hi\rdata: ${forged}\r` },
    { message: `event: stream_deleted\nid: 999\nretry: 1\ndata: ${forged}` },
    { message: "\u2028\u2029data: x\u0085" },
    { message: { note: `\n\ndata: ${forged}\n\n` } },
    { message: "from the coach", author: 'c\r\n\r\ndata: {"type":"stream_deleted"}\n\n' },
  ];
  for (const body of messages) {
    await okJson(
      await t.request("POST", `/api/streams/${name}/messages`, { token: rider.accessToken, body }),
    );
  }
  // listenAll also carries other streams' frames: keep this stream's (and "connected").
  const mine = (frames: Record<string, unknown>[]) =>
    frames.filter((f) => f.type === "connected" || f.stream === undefined || f.stream === name);
  await eventually(() => mine(viewer.frames).length >= 1 + messages.length, 3000, "viewer");
  await eventually(() => mine(everything.frames).length >= 1 + messages.length, 3000, "all");
  for (const client of [viewer, everything]) {
    const frames = mine(client.frames);
    assert.equal(frames.length, 1 + messages.length, JSON.stringify(client.frames));
    assert.equal(frames.filter((f) => f.type === "stream_deleted").length, 0);
    assert.deepEqual(client.otherLines, [], "an event:, id: or retry: line reached the viewer");
    assert.ok(isPlainDataStream(client.raw()), "the stream holds only whole data: frames");
    messages.forEach((sent, i) => {
      const data = frames[1 + i].data as Record<string, string>;
      const text = typeof sent.message === "string" ? sent.message : JSON.stringify(sent.message);
      assert.equal(data.message, text);
      if (sent.author) assert.equal(data.author, sent.author);
    });
  }
  assert.equal(viewer.isEnded(), false, "the viewer was disconnected by a message");

  // The real deletion is still delivered, once.
  const del = await t.request("DELETE", `/api/streams/${name}`, { token: rider.accessToken });
  assert.equal(del.status, 200);
  await viewer.waitFor((f) => f.type === "stream_deleted");
  await viewer.ended;
  assert.equal(viewer.frames.filter((f) => f.type === "stream_deleted").length, 1);
  await viewer.close();
  await everything.close();
});
