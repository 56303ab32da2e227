import assert from "node:assert/strict";
import { createApp } from "../src/app.ts";
import { hashSecret } from "../src/core/secrets.ts";
import { openSse } from "./sse_client.ts";
import { registerRider, startTestApp, type TestApp } from "./support.ts";

// The old Express + Redis service's /api/streams contract (COMPAT "Live streams"), byte for byte
// where clients read it.

const sharedKey = "shared-key";
const key = { "x-api-key": sharedKey };

let t: TestApp;
Deno.test.beforeAll(async () => {
  // The rate limit is not under test here (one test posts 1,100 messages with the shared key).
  t = await startTestApp({ apiKey: sharedKey, rateLimitPerMinute: 0 });
});
Deno.test.afterAll(() => t.close());

/** Keys matching `pattern` that would outlive a minute (a short-lived tombstone is fine). */
async function lastingKeys(pattern: string): Promise<string[]> {
  const redis = t.deps.live.redis;
  const keys = await redis.keys(pattern);
  const ttls = await Promise.all(keys.map((k) => redis.pttl(k)));
  return keys.filter((_, i) => ttls[i] < 0 || ttls[i] > 60_000);
}

/** A stream name no other test (or concurrent run) uses. */
function uniqueName(label = "workout-sim"): string {
  return `${label}-${crypto.randomUUID().slice(0, 8)}`;
}

type Options = { body?: unknown; headers?: Record<string, string>; token?: string };

/** A request with the shared key (unless a token or other headers are given). */
function api(method: string, path: string, options: Options = {}) {
  const headers = options.token || options.headers ? options.headers : key;
  return t.request(method, path, { ...options, headers });
}

async function createStream(name: string, options: Options = {}) {
  const res = await api("POST", "/api/streams/create", { ...options, body: { streamName: name } });
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json() as { success: true; streamName: string; messageId: string };
}

async function postMessage(name: string, body: unknown, options: Options = {}) {
  const res = await api("POST", `/api/streams/${name}/messages`, { ...options, body });
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json() as { success: true; messageId: string; streamName: string };
}

type Entry = { id: string; data: Record<string, string> };

async function readMessages(name: string, query = "") {
  const res = await api("GET", `/api/streams/${name}/messages${query}`);
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json() as { streamName: string; messages: Entry[] };
}

async function listStreams() {
  const res = await api("GET", "/api/streams");
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).streams as {
    name: string;
    length: number;
    firstMessageId: string | null;
    lastMessageId: string | null;
  }[];
}

/** Asserts a 400 whose `error` is a string containing `fragment`. */
async function assert400(res: Response, fragment: string | null, what: string) {
  const text = await res.text();
  assert.equal(res.status, 400, `${what}: ${text}`);
  const body = JSON.parse(text);
  assert.equal(typeof body.error, "string", what);
  if (fragment !== null) assert.ok(body.error.includes(fragment), `${what}: ${body.error}`);
}

const redisId = /^\d+-\d+$/;

/** A personal API key for a rider (as tests/auth_test.ts makes one). */
async function personalKey(userId: string): Promise<string> {
  const secret = `bpt_${crypto.randomUUID().replaceAll("-", "")}`;
  await t.sql`
    insert into api_keys (user_id, name, prefix, key_hash)
    values (${userId}, 'bike computer', ${secret.slice(0, 12)}, ${await hashSecret(secret)})
  `;
  return secret;
}

/** The same app with other settings (same database, Redis and hub). */
function appWith(config: Partial<TestApp["deps"]["config"]>) {
  const app = createApp({ ...t.deps, config: { ...t.deps.config, ...config } });
  return (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    Promise.resolve(app.request(path, {
      method,
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    }));
}

// --- POST /api/streams/create ---------------------------------------------------------------

Deno.test("POST /api/streams/create answers the old success shape and starts with a marker entry", async () => {
  const name = uniqueName();
  const before = Date.now();
  const res = await api("POST", "/api/streams/create", { body: { streamName: name } });
  const after = Date.now();
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const body = await res.json();
  assert.equal(body.success, true);
  assert.equal(body.streamName, name);
  assert.equal(body.message, "Stream created successfully");
  assert.match(body.messageId, redisId);

  const { streamName, messages } = await readMessages(name);
  assert.equal(streamName, name);
  assert.equal(messages.length, 1);
  assert.equal(messages[0].id, body.messageId);
  assert.deepEqual(Object.keys(messages[0].data).sort(), ["timestamp", "type"]);
  assert.equal(messages[0].data.type, "stream_created");
  assert.equal(typeof messages[0].data.timestamp, "string");
  assert.match(messages[0].data.timestamp, /^\d+$/);
  const ts = Number(messages[0].data.timestamp);
  assert.ok(ts >= before && ts <= after, `timestamp ${ts} not in [${before}, ${after}]`);

  // Every Redis key of the stream carries the configured prefix.
  const keys = await t.deps.live.redis.keys(`*${name}*`);
  assert.ok(keys.length > 0);
  for (const k of keys) assert.ok(k.startsWith(t.deps.config.redisKeyPrefix), k);
});

Deno.test("POST /api/streams/create for an existing name is not an error and adds no second marker", async () => {
  const name = uniqueName();
  const first = await createStream(name);
  const again = await api("POST", "/api/streams/create", { body: { streamName: name } });
  assert.equal(again.status, 200);
  const body = await again.json();
  assert.equal(body.success, true);
  assert.equal(body.streamName, name);
  const { messages } = await readMessages(name);
  assert.equal(messages.length, 1);
  assert.equal(messages[0].id, first.messageId);
});

Deno.test("POST /api/streams/create accepts every name shape the clients use, up to 64 characters", async () => {
  const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
  const suffix = crypto.randomUUID().slice(0, 6);
  for (
    const name of [
      `workout-${stamp.slice(0, 8)}-${stamp.slice(8)}${suffix}`,
      `workout-${Date.now()}${suffix}`,
      `stress-test-${suffix}_A`,
      `x${suffix}`.padEnd(64, "z"),
    ]
  ) {
    const body = await createStream(name);
    assert.equal(body.streamName, name);
  }
});

Deno.test("POST /api/streams/create rejects a missing, long or non-alphanumeric name with 400", async () => {
  const cases: [unknown, string | null][] = [
    [{}, "required"],
    [{ streamName: "" }, "required"],
    [{ streamName: null }, "required"],
    [{ streamName: "a".repeat(65) }, "64 characters"],
    [{ streamName: "bad name" }, "alphanumeric"],
    [{ streamName: "bad!name" }, "alphanumeric"],
    [{ streamName: "../etc/passwd" }, "alphanumeric"],
    [{ streamName: "a/b" }, "alphanumeric"],
    [{ streamName: "a:b" }, "alphanumeric"],
    [{ streamName: "a*" }, "alphanumeric"],
    [{ streamName: "line\nbreak" }, "alphanumeric"],
    [{ streamName: "nul\u0000byte" }, "alphanumeric"],
    [{ streamName: "tab\there" }, "alphanumeric"],
    [{ streamName: "caf\u00e9" }, "alphanumeric"],
    [{ streamName: 123 }, null],
  ];
  for (const [body, fragment] of cases) {
    const res = await api("POST", "/api/streams/create", { body });
    await assert400(res, fragment, JSON.stringify(body));
  }
});

// --- POST /api/streams/:name/messages -------------------------------------------------------

Deno.test("POST /api/streams/:name/messages stores a string message with its author and server time", async () => {
  const name = uniqueName();
  await createStream(name);
  const before = Date.now();
  const res = await api("POST", `/api/streams/${name}/messages`, {
    body: { message: "hello riders", author: "alice" },
  });
  const after = Date.now();
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(body, { success: true, messageId: body.messageId, streamName: name });
  assert.match(body.messageId, redisId);

  const noAuthor = await postMessage(name, { message: "second" });
  const { messages } = await readMessages(name);
  assert.equal(messages.length, 3);
  assert.equal(messages[1].id, body.messageId);
  assert.deepEqual(Object.keys(messages[1].data).sort(), ["author", "message", "timestamp"]);
  assert.equal(messages[1].data.message, "hello riders");
  assert.equal(messages[1].data.author, "alice");
  assert.match(messages[1].data.timestamp, /^\d+$/);
  const ts = Number(messages[1].data.timestamp);
  assert.ok(ts >= before && ts <= after, `timestamp ${ts} not in [${before}, ${after}]`);
  assert.equal(messages[2].id, noAuthor.messageId);
  assert.deepEqual(Object.keys(messages[2].data).sort(), ["message", "timestamp"]);
  assert.ok(messages[1].id < messages[2].id || messages[1].id.length < messages[2].id.length);
});

Deno.test("POST /api/streams/:name/messages stores an object message as its JSON text", async () => {
  const name = uniqueName();
  await createStream(name);
  const telemetry = {
    power: 250,
    cadence: 90,
    heartrate: null,
    speed: 32.5,
    distance: 1234.5,
    altitude: 12,
    incline: -1.5,
    timestamp: 1764140000000,
    elapsed: "00:01:05",
    dataType: "workout_metrics",
    nested: { list: [1, "two", null], unicode: "\u00e9\u00e8 \u{1f6b2}", quote: '"' },
  };
  await postMessage(name, { message: telemetry });
  // A JSON text sent as a string is kept exactly, whitespace and all.
  const text = '{ "power" : 200,\n  "dataType": "workout_metrics" }';
  await postMessage(name, { message: text });
  // Strings that look like numbers or JSON scalars stay strings.
  await postMessage(name, { message: "42" });
  await postMessage(name, { message: "null" });

  const { messages } = await readMessages(name);
  assert.equal(messages[1].data.message, JSON.stringify(telemetry));
  assert.deepEqual(JSON.parse(messages[1].data.message), telemetry);
  assert.equal(messages[2].data.message, text);
  assert.equal(messages[3].data.message, "42");
  assert.equal(messages[4].data.message, "null");
  for (const m of messages) {
    for (const value of Object.values(m.data)) assert.equal(typeof value, "string");
  }
});

Deno.test("POST /api/streams/:name/messages to a stream that does not exist yet stores the message", async () => {
  const name = uniqueName("workout");
  const posted = await postMessage(name, { message: "first!" });
  assert.equal(posted.streamName, name);
  const { messages } = await readMessages(name);
  const entry = messages.find((m) => m.id === posted.messageId);
  assert.ok(entry, JSON.stringify(messages));
  assert.equal(entry.data.message, "first!");
  const listed = (await listStreams()).find((s) => s.name === name);
  assert.ok(listed);
  assert.equal(listed.lastMessageId, posted.messageId);
});

Deno.test("POST /api/streams/:name/messages rejects a missing, blank or oversized message with 400", async () => {
  const name = uniqueName();
  await createStream(name);
  const post = (body: unknown) => api("POST", `/api/streams/${name}/messages`, { body });
  await assert400(await post({}), null, "missing message");
  await assert400(await post({ author: "alice" }), null, "missing message with author");
  await assert400(await post({ message: "" }), null, "empty message");
  await assert400(await post({ message: "   \n\t " }), null, "blank message");
  await assert400(await post({ message: null }), null, "null message");
  await assert400(await post({ message: "x".repeat(100 * 1024 + 1) }), "100KB", "long string");
  await assert400(
    await post({ message: { blob: "x".repeat(100 * 1024) } }),
    "100KB",
    "long object",
  );
  // The limit counts UTF-8 bytes: 35,000 "€" are 105,000 bytes in 35,000 characters.
  await assert400(await post({ message: "€".repeat(35_000) }), "100KB", "long in bytes");
  await assert400(
    await post({ message: "hi", author: "a".repeat(65) }),
    "64 characters",
    "long author",
  );
  // Nothing was stored.
  assert.equal((await readMessages(name)).messages.length, 1);

  // Just under the limits is fine.
  await postMessage(name, { message: "y".repeat(100_000), author: "b".repeat(64) });
  const { messages } = await readMessages(name);
  assert.equal(messages.length, 2);
  assert.equal(messages[1].data.message.length, 100_000);
  assert.equal(messages[1].data.author, "b".repeat(64));
  // 34,133 "€" are 102,399 bytes: just under the limit too.
  await postMessage(name, { message: "€".repeat(34_133) });
  assert.equal((await readMessages(name)).messages.length, 3);
});

/** Bad names in a path: traversal, control characters, too long, other punctuation. */
const badPathNames = [
  "bad!name",
  "..%2Fetc",
  "a%2Fb",
  "a%0Ab",
  "a%00b",
  "a%20b",
  "a%3Ab",
  "caf%C3%A9",
  "a".repeat(65),
];

Deno.test("every /api/streams/:name route answers 400 for a bad name", async () => {
  for (const bad of badPathNames) {
    await assert400(
      await api("POST", `/api/streams/${bad}/messages`, { body: { message: "hi" } }),
      null,
      `POST messages ${bad}`,
    );
    await assert400(await api("GET", `/api/streams/${bad}/messages`), null, `GET messages ${bad}`);
    await assert400(await api("DELETE", `/api/streams/${bad}`), null, `DELETE ${bad}`);
    await assert400(await api("GET", `/api/streams/${bad}/listen`), null, `listen ${bad}`);
  }
  // None of them reached Redis.
  const keys = await t.deps.live.redis.keys(`${t.deps.config.redisKeyPrefix}*bad!name*`);
  assert.deepEqual(keys, []);
});

// --- GET /api/streams -----------------------------------------------------------------------

Deno.test("GET /api/streams lists each stream with its length and first and last ids", async () => {
  const a = uniqueName();
  const b = uniqueName();
  const createdA = await createStream(a);
  const createdB = await createStream(b);
  await postMessage(b, { message: "one" });
  const last = await postMessage(b, { message: "two" });

  const res = await api("GET", "/api/streams");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(Object.keys(body), ["streams"]);
  const byName = new Map(
    (body.streams as { name: string }[]).map((s) => [s.name, s]),
  );
  assert.deepEqual(byName.get(a), {
    name: a,
    length: 1,
    firstMessageId: createdA.messageId,
    lastMessageId: createdA.messageId,
  });
  assert.deepEqual(byName.get(b), {
    name: b,
    length: 3,
    firstMessageId: createdB.messageId,
    lastMessageId: last.messageId,
  });
  for (const s of body.streams) {
    assert.deepEqual(Object.keys(s).sort(), ["firstMessageId", "lastMessageId", "length", "name"]);
  }
});

// --- GET /api/streams/:name/messages --------------------------------------------------------

Deno.test("GET /api/streams/:name/messages pages with start, end and count", async () => {
  const name = uniqueName();
  const created = await createStream(name);
  const ids = [created.messageId];
  for (let i = 0; i < 5; i++) ids.push((await postMessage(name, { message: `m${i}` })).messageId);

  assert.deepEqual((await readMessages(name)).messages.map((m) => m.id), ids);
  // Exactly as COMPAT writes it: a raw `+` in a query string decodes to a space.
  assert.deepEqual(
    (await readMessages(name, "?start=-&end=+&count=100")).messages.map((m) => m.id),
    ids,
  );
  assert.deepEqual(
    (await readMessages(name, "?start=-&end=%2B&count=100")).messages.map((m) => m.id),
    ids,
  );
  assert.deepEqual(
    (await readMessages(name, "?count=2")).messages.map((m) => m.id),
    ids.slice(0, 2),
  );
  assert.deepEqual(
    (await readMessages(name, `?start=${ids[2]}&end=${ids[4]}`)).messages.map((m) => m.id),
    ids.slice(2, 5),
  );
  assert.deepEqual(
    (await readMessages(name, `?start=${ids[3]}&count=2`)).messages.map((m) => m.id),
    ids.slice(3, 5),
  );
  assert.deepEqual(
    (await readMessages(name, `?end=${ids[1]}`)).messages.map((m) => m.id),
    ids.slice(0, 2),
  );
  // A bare millisecond id, as Redis allows.
  const ms = ids[3].split("-")[0];
  const fromMs = (await readMessages(name, `?start=${ms}`)).messages.map((m) => m.id);
  assert.ok(fromMs.includes(ids[3]) && fromMs.includes(ids[5]));
});

Deno.test("GET /api/streams/:name/messages returns 100 by default and caps count at 1000", async () => {
  const name = uniqueName();
  await createStream(name);
  // 1,100 messages, posted 50 at a time.
  for (let i = 0; i < 1100; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, j) => postMessage(name, { message: `m${i + j}` })),
    );
  }
  assert.equal((await readMessages(name)).messages.length, 100);
  assert.equal((await readMessages(name, "?count=1000")).messages.length, 1000);
  assert.equal((await readMessages(name, "?count=5000")).messages.length, 1000);
  const list = (await listStreams()).find((s) => s.name === name);
  assert.equal(list?.length, 1101);
});

Deno.test("GET /api/streams/:name/messages of an unknown stream answers 200 with no messages", async () => {
  const name = uniqueName("never-created");
  const res = await api("GET", `/api/streams/${name}/messages`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { streamName: name, messages: [] });
});

// --- DELETE /api/streams/:name ----------------------------------------------------------------

Deno.test("DELETE /api/streams/:name deletes the stream, then answers 404 Stream not found", async () => {
  const name = uniqueName();
  await createStream(name);
  await postMessage(name, { message: "bye" });
  const res = await api("DELETE", `/api/streams/${name}`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    success: true,
    message: `Stream ${name} deleted successfully`,
  });
  assert.deepEqual((await readMessages(name)).messages, []);
  assert.equal((await listStreams()).find((s) => s.name === name), undefined);
  assert.deepEqual(await lastingKeys(`*stream*${name}*`), []);

  const again = await api("DELETE", `/api/streams/${name}`);
  assert.equal(again.status, 404);
  assert.equal((await again.json()).error, "Stream not found");
  const never = await api("DELETE", `/api/streams/${uniqueName("never")}`);
  assert.equal(never.status, 404);
  assert.equal((await never.json()).error, "Stream not found");

  // The name can be used again afterwards.
  const recreated = await createStream(name);
  assert.equal((await readMessages(name)).messages[0].id, recreated.messageId);
  assert.equal((await api("DELETE", `/api/streams/${name}`)).status, 200);
});

// --- DELETE /api/streams/cleanup --------------------------------------------------------------

Deno.test("DELETE /api/streams/cleanup deletes only streams whose last entry is older than retention", async () => {
  // A prefix of its own, so the sweep sees only this test's streams (the test Redis is shared).
  const prefix = `bpt-cleanup-${crypto.randomUUID().slice(0, 8)}:`;
  const own = await startTestApp({ apiKey: sharedKey, redisKeyPrefix: prefix });
  try {
    const call = (method: string, path: string, body?: unknown) =>
      own.request(method, path, { body, headers: key });
    const create = async (name: string) =>
      assert.equal((await call("POST", "/api/streams/create", { streamName: name })).status, 200);

    // A stream named "cleanup" must not be mistaken for the cleanup route (or vice versa).
    await create("cleanup");
    await create("old");
    await create("revived");
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await create("fresh");
    const post = await call("POST", "/api/streams/revived/messages", { message: "still here" });
    assert.equal(post.status, 200);

    const nothing = await call("DELETE", "/api/streams/cleanup");
    assert.equal(nothing.status, 200);
    assert.deepEqual(await nothing.json(), {
      success: true,
      deletedCount: 0,
      message: "Deleted 0 inactive streams",
    });

    const res = await call("DELETE", "/api/streams/cleanup?retention=1000");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      success: true,
      deletedCount: 2,
      message: "Deleted 2 inactive streams",
    });
    const left = (await (await call("GET", "/api/streams")).json()).streams
      .map((s: { name: string }) => s.name).sort();
    assert.deepEqual(left, ["fresh", "revived"]);

    const all = await call("DELETE", "/api/streams/cleanup?retention=0");
    assert.equal((await all.json()).deletedCount, 2);
    assert.deepEqual((await (await call("GET", "/api/streams")).json()).streams, []);
  } finally {
    const leftovers = await own.deps.live.redis.keys(`${prefix}*`);
    if (leftovers.length > 0) await own.deps.live.redis.del(...leftovers);
    await own.close();
  }
});

Deno.test("DELETE /api/streams/cleanup needs the shared key: riders and anonymous callers are refused", async () => {
  const rider = await registerRider(t);
  const res = await api("DELETE", "/api/streams/cleanup?retention=0", {
    token: rider.accessToken,
  });
  assert.equal(res.status, 403);
  const body = await res.json();
  assert.equal(body.code, "forbidden");
  assert.equal(typeof body.error, "string");
  const withKey = await api("DELETE", "/api/streams/cleanup?retention=0", {
    headers: { "x-api-key": await personalKey(rider.user.id) },
  });
  assert.equal(withKey.status, 403);

  // Nor may an anonymous caller where anonymous streams are allowed: a sweep would end every
  // rider's live ride. (A huge retention, so a wrongly allowed call deletes nothing.)
  const open = appWith({ apiKey: undefined, allowAnonymousStreams: true });
  const anonymous = await open("DELETE", "/api/streams/cleanup?retention=99999999999");
  const text = await anonymous.text();
  assert.ok(
    [401, 403].includes(anonymous.status),
    `anonymous cleanup: ${anonymous.status} ${text}`,
  );
});

// --- CORS ----------------------------------------------------------------------------------

Deno.test("OPTIONS on every stream route answers 2xx with the CORS headers, without a key", async () => {
  const name = uniqueName();
  const paths: [string, string][] = [
    ["/api/streams", "GET"],
    ["/api/streams/create", "POST"],
    [`/api/streams/${name}/messages`, "POST"],
    [`/api/streams/${name}/messages`, "GET"],
    [`/api/streams/${name}`, "DELETE"],
    ["/api/streams/cleanup", "DELETE"],
    [`/api/streams/${name}/listen`, "GET"],
    ["/api/streams/listenAll", "GET"],
  ];
  for (const [path, method] of paths) {
    const res = await t.app.request(path, {
      method: "OPTIONS",
      headers: {
        origin: "https://pwa.example",
        "access-control-request-method": method,
        "access-control-request-headers": "content-type,x-api-key",
      },
    });
    assert.ok(res.status >= 200 && res.status < 300, `${path}: ${res.status}`);
    assert.equal(res.headers.get("access-control-allow-origin"), "*", path);
    const methods = res.headers.get("access-control-allow-methods") ?? "";
    for (const m of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
      assert.ok(methods.includes(m), `${path} allows ${m}: ${methods}`);
    }
    const headers = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const h of ["content-type", "authorization", "x-api-key"]) {
      assert.ok(headers.includes(h), `${path} allows ${h}: ${headers}`);
    }
    await res.body?.cancel();
  }
  // Simple requests carry the origin header too, errors included.
  const ok = await api("GET", "/api/streams", {
    headers: { ...key, origin: "https://pwa.example" },
  });
  assert.equal(ok.headers.get("access-control-allow-origin"), "*");
  await ok.body?.cancel();
  const denied = await api("GET", "/api/streams", { headers: { origin: "https://pwa.example" } });
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get("access-control-allow-origin"), "*");
  await denied.body?.cancel();
});

// --- Auth ----------------------------------------------------------------------------------

async function assertInvalidKey(res: Response, what: string) {
  const text = await res.text();
  assert.equal(res.status, 401, `${what}: ${text}`);
  const body = JSON.parse(text);
  assert.equal(body.error, "Unauthorized: Invalid API Key", what);
  assert.equal(body.hint, "Use the X-API-Key header for authentication", what);
}

Deno.test("with API_KEY set every stream route needs X-API-Key, and a wrong key is 401", async () => {
  const name = uniqueName();
  await createStream(name);
  const routes: [string, string, unknown?][] = [
    ["POST", "/api/streams/create", { streamName: uniqueName() }],
    ["POST", `/api/streams/${name}/messages`, { message: "hi" }],
    ["GET", "/api/streams"],
    ["GET", `/api/streams/${name}/messages`],
    ["DELETE", `/api/streams/${name}`],
    ["DELETE", "/api/streams/cleanup"],
    ["GET", `/api/streams/${name}/listen`],
    ["GET", "/api/streams/listenAll"],
  ];
  for (const [method, path, body] of routes) {
    await assertInvalidKey(await t.request(method, path, { body }), `${method} ${path} no key`);
    await assertInvalidKey(
      await t.request(method, path, { body, headers: { "x-api-key": "wrong-key" } }),
      `${method} ${path} wrong key`,
    );
    await assertInvalidKey(
      await t.request(method, path, { body, headers: { "x-api-key": `${sharedKey}x` } }),
      `${method} ${path} longer key`,
    );
  }
  // Nothing was changed by the refused calls.
  assert.equal((await readMessages(name)).messages.length, 1);
});

Deno.test("?apiKey= is accepted on the two SSE routes only", async () => {
  const name = uniqueName();
  await createStream(name);
  const q = `apiKey=${sharedKey}`;
  const routes: [string, string, unknown?][] = [
    ["POST", `/api/streams/create?${q}`, { streamName: uniqueName() }],
    ["POST", `/api/streams/${name}/messages?${q}`, { message: "hi" }],
    ["GET", `/api/streams?${q}`],
    ["GET", `/api/streams/${name}/messages?${q}`],
    ["DELETE", `/api/streams/${name}?${q}`],
    ["DELETE", `/api/streams/cleanup?${q}`],
  ];
  for (const [method, path, body] of routes) {
    await assertInvalidKey(await t.request(method, path, { body }), `${method} ${path}`);
  }
  assert.equal((await readMessages(name)).messages.length, 1);

  const fetcher = (req: Request) => t.app.fetch(req);
  for (const path of [`/api/streams/${name}/listen`, "/api/streams/listenAll"]) {
    const sse = await openSse(fetcher, `http://localhost${path}?${q}`);
    assert.equal(sse.status, 200, `${path}: ${sse.errorBody}`);
    assert.match(sse.headers.get("content-type") ?? "", /^text\/event-stream/);
    await sse.waitForCount(1);
    assert.equal(sse.frames[0].type, "connected");
    await sse.close();

    const wrong = await openSse(fetcher, `http://localhost${path}?apiKey=wrong`);
    assert.equal(wrong.status, 401, path);
    assert.equal(JSON.parse(wrong.errorBody).error, "Unauthorized: Invalid API Key");
    const none = await openSse(fetcher, `http://localhost${path}`);
    assert.equal(none.status, 401, path);
  }
});

Deno.test("a Bearer token or a personal API key works on the stream routes with API_KEY set", async () => {
  const rider = await registerRider(t);
  const personal = await personalKey(rider.user.id);
  const viaToken = uniqueName();
  await createStream(viaToken, { token: rider.accessToken });
  await postMessage(viaToken, { message: "from the token" }, { token: rider.accessToken });
  await postMessage(viaToken, { message: "from the key" }, { headers: { "x-api-key": personal } });
  const read = await api("GET", `/api/streams/${viaToken}/messages`, {
    headers: { "x-api-key": personal },
  });
  assert.equal(read.status, 200);
  assert.equal((await read.json()).messages.length, 3);
  const listed = await api("GET", "/api/streams", { token: rider.accessToken });
  assert.equal(listed.status, 200);

  const viaKey = uniqueName();
  await createStream(viaKey, { headers: { "x-api-key": personal } });
  assert.equal(
    (await api("DELETE", `/api/streams/${viaKey}`, { token: rider.accessToken })).status,
    200,
  );
  assert.equal(
    (await api("DELETE", `/api/streams/${viaToken}`, { headers: { "x-api-key": personal } }))
      .status,
    200,
  );
  // A bad token is refused, not treated as anonymous.
  const bad = await api("GET", "/api/streams", { token: "not-a-token" });
  assert.equal(bad.status, 401);
});

Deno.test("without API_KEY, anonymous stream calls are 401 unless ALLOW_ANONYMOUS_STREAMS is on", async () => {
  const closed = appWith({ apiKey: undefined, allowAnonymousStreams: false });
  const name = uniqueName();
  const refused: [string, string, unknown?][] = [
    ["POST", "/api/streams/create", { streamName: name }],
    ["POST", `/api/streams/${name}/messages`, { message: "hi" }],
    ["GET", "/api/streams"],
    ["GET", `/api/streams/${name}/messages`],
    ["DELETE", `/api/streams/${name}`],
    ["GET", `/api/streams/${name}/listen`],
    ["GET", "/api/streams/listenAll"],
  ];
  for (const [method, path, body] of refused) {
    const res = await closed(method, path, body);
    const text = await res.text();
    assert.equal(res.status, 401, `${method} ${path}: ${text}`);
    assert.equal(typeof JSON.parse(text).error, "string");
  }
  assert.equal((await readMessages(name)).messages.length, 0);

  // A signed-in rider still may.
  const rider = await registerRider(t);
  const riderStream = uniqueName();
  const riderCreate = await closed("POST", "/api/streams/create", { streamName: riderStream }, {
    authorization: `Bearer ${rider.accessToken}`,
  });
  assert.equal(riderCreate.status, 200);

  const open = appWith({ apiKey: undefined, allowAnonymousStreams: true });
  const created = await open("POST", "/api/streams/create", { streamName: name });
  assert.equal(created.status, 200, await created.clone().text());
  assert.equal((await created.json()).message, "Stream created successfully");
  const posted = await open("POST", `/api/streams/${name}/messages`, { message: "anon" });
  assert.equal(posted.status, 200);
  const read = await open("GET", `/api/streams/${name}/messages`);
  assert.equal((await read.json()).messages.length, 2);
  const list = await open("GET", "/api/streams");
  assert.ok((await list.json()).streams.some((s: { name: string }) => s.name === name));
  const deleted = await open("DELETE", `/api/streams/${name}`);
  assert.equal(deleted.status, 200);

  // ALLOW_ANONYMOUS_STREAMS does not override a configured API_KEY.
  const keyed = appWith({ apiKey: sharedKey, allowAnonymousStreams: true });
  await assertInvalidKey(await keyed("GET", "/api/streams"), "anonymous with API_KEY set");
});

// --- Ownership -------------------------------------------------------------------------------

Deno.test("a rider's stream is theirs: another rider posting or deleting gets 403", async () => {
  const owner = await registerRider(t);
  const other = await registerRider(t);
  const name = uniqueName();
  await createStream(name, { token: owner.accessToken });

  const post = await api("POST", `/api/streams/${name}/messages`, {
    token: other.accessToken,
    body: { message: "not mine" },
  });
  assert.equal(post.status, 403);
  const postBody = await post.json();
  assert.equal(postBody.code, "forbidden");
  assert.equal(typeof postBody.error, "string");

  const otherKey = await personalKey(other.user.id);
  const viaKey = await api("POST", `/api/streams/${name}/messages`, {
    headers: { "x-api-key": otherKey },
    body: { message: "not mine either" },
  });
  assert.equal(viaKey.status, 403);

  const del = await api("DELETE", `/api/streams/${name}`, { token: other.accessToken });
  assert.equal(del.status, 403);
  const delBody = await del.json();
  assert.equal(delBody.code, "forbidden");
  assert.equal(typeof delBody.error, "string");

  // Nothing changed; the owner still may.
  const read = await api("GET", `/api/streams/${name}/messages`, { token: owner.accessToken });
  assert.equal((await read.json()).messages.length, 1);
  await postMessage(name, { message: "mine" }, { token: owner.accessToken });
  assert.equal(
    (await api("DELETE", `/api/streams/${name}`, { token: owner.accessToken })).status,
    200,
  );
});

Deno.test("a shared-key or anonymous stream is shared by every shared-key and anonymous caller", async () => {
  const name = uniqueName();
  await createStream(name);
  const open = appWith({ apiKey: undefined, allowAnonymousStreams: true });
  const anon = await open("POST", `/api/streams/${name}/messages`, { message: "anonymous" });
  assert.equal(anon.status, 200);
  await postMessage(name, { message: "shared key" });

  const anonName = uniqueName();
  assert.equal((await open("POST", "/api/streams/create", { streamName: anonName })).status, 200);
  await postMessage(anonName, { message: "shared key into an anonymous stream" });
  assert.equal((await readMessages(anonName)).messages.length, 2);
  assert.equal((await api("DELETE", `/api/streams/${anonName}`)).status, 200);
  assert.equal((await readMessages(name)).messages.length, 3);
  assert.equal((await open("DELETE", `/api/streams/${name}`)).status, 200);
});

Deno.test("POST /api/streams/:name/messages answers 503 while Redis REST cannot be reached", async () => {
  // Nothing listens on port 9 (discard): every round trip fails fast.
  const down = await startTestApp({ apiKey: sharedKey, redisRestUrl: "http://127.0.0.1:9" });
  try {
    const res = await down.request("POST", "/api/streams/nowhere/messages", {
      body: { message: "lost?" },
      headers: key,
    });
    assert.equal(res.status, 503);
    const body = await res.json();
    assert.equal(body.code, "service_unavailable");
    assert.match(body.error, /live store \(Redis\) is unavailable/);
  } finally {
    await down.close();
  }
});

/** The body the old service answered for GET messages: the entries as Redis holds them. */
async function oldBody(name: string, start = "-", end = "+", count = 100): Promise<string> {
  const { live } = t.deps;
  const raw = await live.raw.xrange(live.keys.stream(name), start, end, count) as unknown as [
    string,
    string[],
  ][];
  const messages = raw.map(([id, fields]) => {
    const data: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) data[fields[i]] = fields[i + 1];
    return { id, data };
  });
  return JSON.stringify({ streamName: name, messages });
}

Deno.test("GET /api/streams/:name/messages answers exactly the old body, gzipped when the client accepts it", async () => {
  const name = uniqueName("read-bytes");
  await createStream(name);
  for (let i = 0; i < 30; i++) {
    await postMessage(name, {
      message: JSON.stringify({ power: 200 + i, note: 'a "quoted" </script> 功率 \u2028', i }),
      author: i % 2 ? "bike" : undefined,
    });
  }
  // An entry an old deployment wrote with other fields, one named like an array index.
  const { live } = t.deps;
  await live.redis.xadd(live.keys.stream(name), "*", { type: "note", "0": "zero", text: "x" });
  const expected = await oldBody(name);

  const plain = await api("GET", `/api/streams/${name}/messages?count=100`);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get("content-type"), "application/json");
  assert.equal(plain.headers.get("content-encoding"), null);
  assert.equal(await plain.text(), expected);

  const gzipped = await api("GET", `/api/streams/${name}/messages?count=100`, {
    headers: { ...key, "accept-encoding": "gzip, deflate, br" },
  });
  assert.equal(gzipped.status, 200);
  assert.equal(gzipped.headers.get("content-encoding"), "gzip");
  assert.match(gzipped.headers.get("vary") ?? "", /Accept-Encoding/);
  const bytes = new Uint8Array(await gzipped.arrayBuffer());
  assert.ok(bytes.length < expected.length / 4, `${bytes.length} gzipped bytes`);
  const text = await new Response(
    new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
  ).text();
  assert.equal(text, expected);

  // A small answer, or gzip refused (q=0), goes uncompressed.
  const refused = await api("GET", `/api/streams/${name}/messages?count=100`, {
    headers: { ...key, "accept-encoding": "gzip;q=0, identity" },
  });
  assert.equal(refused.headers.get("content-encoding"), null);
  assert.equal(await refused.text(), expected);
  const small = await api("GET", `/api/streams/${name}/messages?count=1`, {
    headers: { ...key, "accept-encoding": "gzip" },
  });
  assert.equal(small.headers.get("content-encoding"), null);
  assert.equal((await small.json()).messages.length, 1);
});

Deno.test("GET /api/streams/:name/messages answers what Redis holds after every change, never an older answer", async () => {
  const name = uniqueName("read-fresh");
  const { live } = t.deps;
  const get = async (query = "?count=100") => {
    const res = await api("GET", `/api/streams/${name}/messages${query}`);
    assert.equal(res.status, 200);
    return await res.text();
  };
  assert.equal(await get(), await oldBody(name)); // no stream yet
  await createStream(name);
  for (let i = 0; i < 3; i++) await postMessage(name, { message: `m${i}` });
  assert.equal(await get(), await oldBody(name));
  assert.equal(await get(), await oldBody(name)); // again, unchanged
  assert.equal(await get("?count=2"), await oldBody(name, "-", "+", 2));

  await postMessage(name, { message: "m3" }); // through this instance
  assert.equal(await get(), await oldBody(name));
  const other = await live.redis.xadd(live.keys.stream(name), "*", {
    message: "m4",
    timestamp: "1",
  });
  assert.equal(await get(), await oldBody(name)); // another instance's write
  assert.match(await get(), new RegExp(`"id":"${other}"`));
  assert.equal(await get(`?start=${other}&end=%2B&count=100`), await oldBody(name, other));

  // Entries removed behind this instance's back: the last, then the first.
  await live.redis.xdel(live.keys.stream(name), other);
  assert.equal(await get(), await oldBody(name));
  assert.doesNotMatch(await get(), new RegExp(`"id":"${other}"`));
  await live.transport.send([["XTRIM", live.keys.stream(name), "MAXLEN", "2"]]);
  assert.equal(await get(), await oldBody(name));
  assert.equal(JSON.parse(await get()).messages.length, 2);

  // Deleted, then created again under the same name.
  const deleted = await api("DELETE", `/api/streams/${name}`);
  assert.equal(deleted.status, 200);
  assert.deepEqual(JSON.parse(await get()).messages, []);
  await createStream(name);
  await postMessage(name, { message: "again" });
  assert.equal(await get(), await oldBody(name));
  assert.deepEqual(JSON.parse(await get()).messages.map((m: Entry) => m.data.message), [
    undefined, // the stream_created marker
    "again",
  ]);
});
