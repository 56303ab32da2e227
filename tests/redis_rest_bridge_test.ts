// The Upstash REST bridge, driven by the real @upstash/redis client against a real redis-server
// that this file starts on a free port (and restarts once, to prove the bridge recovers).

import assert from "node:assert/strict";
import { Redis } from "@upstash/redis";
import { type Bridge, startBridge } from "../scripts/redis_rest_bridge.ts";
import { delay, type RedisServer, startRedisServer } from "./local_servers.ts";

const TOKEN = "test-token";
const PREFIX = "bpt:bridge-test:";

let redisServer: RedisServer;
let bridge: Bridge;
let redis: Redis;

/** One raw request to the bridge, body always consumed. */
async function raw(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: unknown; syncToken: string | null }> {
  const res = await fetch(`${bridge.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, ...headers },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    json: await res.json(),
    syncToken: res.headers.get("upstash-sync-token"),
  };
}

Deno.test.beforeAll(async () => {
  redisServer = await startRedisServer();
  bridge = await startBridge({
    port: 0,
    redisUrl: redisServer.url,
    token: TOKEN,
  });
  redis = new Redis({ url: bridge.url, token: TOKEN });
});

Deno.test.afterAll(async () => {
  await bridge?.shutdown();
  await redisServer.stop();
});

Deno.test("strings, numbers, unicode, empty string and nil round-trip", async () => {
  const unicode = "🚴‍♀️ 功率 250 W — Ärger ½ 𝄞";
  await Promise.all([
    redis.set(`${PREFIX}s`, "hello"),
    redis.set(`${PREFIX}n`, 42),
    redis.set(`${PREFIX}f`, 3.25),
    redis.set(`${PREFIX}u`, unicode),
    redis.set(`${PREFIX}e`, ""),
    redis.set(`${PREFIX}j`, { power: 250, ok: true }),
  ]);
  const [s, n, f, u, e, j, missing] = await Promise.all([
    redis.get(`${PREFIX}s`),
    redis.get(`${PREFIX}n`),
    redis.get(`${PREFIX}f`),
    redis.get(`${PREFIX}u`),
    redis.get(`${PREFIX}e`),
    redis.get(`${PREFIX}j`),
    redis.get(`${PREFIX}missing`),
  ]);
  assert.equal(s, "hello");
  assert.equal(n, 42);
  assert.equal(f, 3.25);
  assert.equal(u, unicode);
  assert.equal(e, "");
  assert.deepEqual(j, { power: 250, ok: true });
  assert.equal(missing, null);
  assert.equal(await redis.strlen(`${PREFIX}u`), new TextEncoder().encode(unicode).length);
});

Deno.test("responseEncoding and automaticDeserialization off give the raw strings", async () => {
  const plain = new Redis({
    url: bridge.url,
    token: TOKEN,
    responseEncoding: false,
    automaticDeserialization: false,
  });
  const doc = '{"power":250,"t":"1e3","id":"12345678901234567890"}';
  await plain.set(`${PREFIX}plain:doc`, doc);
  await plain.set(`${PREFIX}plain:u`, "功率 🚴");
  assert.equal(await plain.get(`${PREFIX}plain:doc`), doc);
  assert.equal(await plain.get(`${PREFIX}plain:u`), "功率 🚴");
  assert.equal(await plain.get(`${PREFIX}plain:missing`), null);
  await plain.hset(`${PREFIX}plain:h`, { a: "1", b: "x" });
  // With automaticDeserialization off the client hands back the wire reply untouched.
  assert.deepEqual(await plain.hgetall(`${PREFIX}plain:h`), ["a", "1", "b", "x"]);
});

Deno.test("an array reply mixing ASCII, unicode and invalid UTF-8 gives each string as GET does", async () => {
  const key = `${PREFIX}mixed`;
  // Enough strings that the bridge decodes them as one span where it can (16 or more).
  const filler = Array.from({ length: 16 }, (_, i) => `v${i}`);
  const values = [
    "plain",
    "🚴 功率",
    "",
    '{"power":250,"note":"a \\"quote\\""}',
    "x".repeat(5000),
    ...filler,
  ];
  await raw("/pipeline", [
    ["DEL", key],
    ...values.map((v) => ["RPUSH", key, v]),
    ["EVAL", "redis.call('RPUSH', KEYS[1], '\\255\\128ok\\226\\130')", "1", key],
  ]);
  const single = await raw(
    "/pipeline",
    values.map((_, i) => ["LINDEX", key, String(i)]).concat(
      [["LINDEX", key, String(values.length)]],
    ),
  );
  const whole = await raw("/pipeline", [["LRANGE", key, "0", "-1"]]);
  const one = (single.json as { result: string }[]).map((r) => r.result);
  assert.deepEqual(one.slice(0, values.length), values);
  assert.equal(one[values.length], "\uFFFD\uFFFDok\uFFFD");
  assert.deepEqual(whole.json, [{ result: one }]);
  // ASCII and lone invalid bytes only (one character per byte): the same strings again.
  await raw("/pipeline", [
    ["DEL", key],
    ["RPUSH", key, "a"],
    ["EVAL", "redis.call('RPUSH', KEYS[1], '\\255', 'b\\128c')", "1", key],
    ["RPUSH", key, "d", ...filler],
  ]);
  assert.deepEqual((await raw("/pipeline", [["LRANGE", key, "0", "-1"]])).json, [{
    result: ["a", "\uFFFD", "b\uFFFDc", "d", ...filler],
  }]);
});

Deno.test("binary bytes are kept exactly (base64 on the wire)", async () => {
  const bytes = [0, 255, 128, 10, 13, 34, 92, 0xc3, 0x28];
  await redis.eval(
    `return redis.call('SET', KEYS[1], string.char(${bytes.join(",")}))`,
    [`${PREFIX}bin`],
    [],
  );
  const encoded = await raw("/", ["GET", `${PREFIX}bin`], { "upstash-encoding": "base64" });
  assert.equal(encoded.status, 200);
  const b64 = (encoded.json as { result: string }).result;
  assert.deepEqual([...Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], bytes);
  assert.equal(await redis.strlen(`${PREFIX}bin`), bytes.length);

  // Without the header the same reply is plain (lossy for invalid UTF-8, as with Upstash).
  const plain = await raw("/", ["GET", `${PREFIX}s-plain`]);
  assert.deepEqual(plain.json, { result: null });
  const ok = await raw("/", ["SET", `${PREFIX}s-plain`, "plain"]);
  assert.deepEqual(ok.json, { result: "OK" });
  assert.deepEqual((await raw("/", ["GET", `${PREFIX}s-plain`])).json, { result: "plain" });
});

Deno.test("counters, hashes and lists", async () => {
  assert.equal(await redis.incr(`${PREFIX}cnt`), 1);
  assert.equal(await redis.incrby(`${PREFIX}cnt`, 41), 42);
  assert.equal(await redis.decr(`${PREFIX}cnt`), 41);
  await redis.hset(`${PREFIX}h`, { ftp: 250, name: "Ana 🚴", "2": "two", "1": "one" });
  assert.equal(await redis.hget(`${PREFIX}h`, "ftp"), 250);
  assert.deepEqual(await redis.hgetall(`${PREFIX}h`), {
    ftp: 250,
    name: "Ana 🚴",
    "2": "two",
    "1": "one",
  });
  assert.equal(await redis.hincrby(`${PREFIX}h`, "ftp", 5), 255);
  assert.equal(await redis.rpush(`${PREFIX}l`, "a", "b", "c"), 3);
  assert.equal(await redis.lpush(`${PREFIX}l`, "z"), 4);
  assert.deepEqual(await redis.lrange(`${PREFIX}l`, 0, -1), ["z", "a", "b", "c"]);
  assert.equal(await redis.llen(`${PREFIX}l`), 4);
  assert.equal(await redis.lpop(`${PREFIX}l`), "z");
});

Deno.test("streams: xadd, xrange, xrevrange, xread keep JSON documents lossless", async () => {
  const key = `${PREFIX}stream`;
  const docs = [
    { power: 250, t: "1e3", id: "12345678901234567890" },
    { power: 0, cadence: null, hr: 151, note: '功率 🚴 "quoted" \\ back' },
    { power: 1000.5, samples: [{ p: 1 }, { p: 2 }] },
  ];
  const ids: string[] = [];
  for (const doc of docs) ids.push(await redis.xadd(key, "*", { d: JSON.stringify(doc) }));
  assert.equal(ids.length, 3);

  const range = await redis.xrange(key, "-", "+");
  assert.deepEqual(Object.keys(range), ids);
  ids.forEach((id, i) => assert.deepEqual(range[id], { d: docs[i] }));

  const rev = await redis.xrevrange(key, "+", "-", 2);
  assert.deepEqual(Object.keys(rev), [ids[2], ids[1]]);
  assert.deepEqual(rev[ids[2]], { d: docs[2] });

  // xread: nested arrays [[key, [[id, [field, value]], …]]]
  const read = await redis.xread(key, "0-0") as [string, [string, string[]][]][];
  assert.equal(read.length, 1);
  assert.equal(read[0][0], key);
  assert.deepEqual(read[0][1].map(([id]) => id), ids);
  read[0][1].forEach(([, fields], i) => assert.deepEqual(fields, ["d", docs[i]]));

  // The exact bytes stored are the JSON text we wrote.
  const plain = new Redis({ url: bridge.url, token: TOKEN, automaticDeserialization: false });
  const rawRead = await plain.xread(key, ids[0], { count: 1 }) as [
    string,
    [string, string[]][],
  ][];
  assert.deepEqual(rawRead[0][1][0], [ids[1], ["d", JSON.stringify(docs[1])]]);
});

Deno.test("replies larger than one socket read arrive whole, and many commands keep their order", async () => {
  // A 3 MB string and a 4,000-entry stream range (~4 MB) each span many reads from Redis.
  const big = "🚴".repeat(750_000);
  await redis.set(`${PREFIX}big`, big);
  assert.equal(await redis.get(`${PREFIX}big`), big);

  const key = `${PREFIX}long-stream`;
  const ids: string[] = [];
  const pipeline = redis.pipeline();
  for (let i = 0; i < 4_000; i++) pipeline.xadd(key, "*", { i: String(i), pad: "x".repeat(1000) });
  ids.push(...await pipeline.exec<string[]>());
  const range = await redis.xrange(key, "-", "+");
  assert.deepEqual(Object.keys(range), ids);
  assert.deepEqual(Object.values(range).map((e) => Number(e.i)), [...ids.keys()]);

  // 2,000 requests in flight at once on the bridge's one shared connection: each reply reaches
  // its own request (every key is new, so INCRBY answers the request's own amount).
  const order = Array.from({ length: 2_000 }, (_, i) => `${PREFIX}order:${i}`);
  const replies = await Promise.all(order.map((k, i) => redis.incrby(k, i + 1)));
  assert.deepEqual(replies, order.map((_, i) => i + 1));
  await redis.del(`${PREFIX}big`, key, ...order);
});

Deno.test("a pipeline with one failing command keeps the other results", async () => {
  const p = redis.pipeline();
  p.set(`${PREFIX}pipe:a`, "text");
  p.incr(`${PREFIX}pipe:a`);
  p.get(`${PREFIX}pipe:a`);
  p.incr(`${PREFIX}pipe:n`);
  const results = await p.exec({ keepErrors: true });
  assert.equal(results.length, 4);
  assert.deepEqual(results[0], { error: undefined, result: "OK" });
  assert.match(String(results[1].error), /^ERR value is not an integer or out of range/);
  assert.deepEqual(results[2], { error: undefined, result: "text" });
  assert.deepEqual(results[3], { error: undefined, result: 1 });

  const q = redis.pipeline();
  q.get(`${PREFIX}pipe:a`);
  q.incr(`${PREFIX}pipe:a`);
  await assert.rejects(q.exec(), /Command 2 \[ incr \] failed: ERR value is not an integer/);
});

Deno.test("multi() runs atomically and reports per-command errors", async () => {
  const results = await redis.multi()
    .set(`${PREFIX}tx:a`, "1")
    .incr(`${PREFIX}tx:a`)
    .get(`${PREFIX}tx:a`)
    .exec();
  assert.deepEqual(results, ["OK", 2, 2]);

  const mixed = await redis.multi()
    .set(`${PREFIX}tx:s`, "x")
    .incr(`${PREFIX}tx:s`)
    .incr(`${PREFIX}tx:a`)
    .exec({ keepErrors: true });
  assert.equal(mixed[0].result, "OK");
  assert.match(String(mixed[1].error), /^ERR value is not an integer/);
  assert.equal(mixed[2].result, 3);

  // A command refused while queueing aborts the whole transaction.
  const aborted = await raw("/multi-exec", [["SET", `${PREFIX}tx:b`, "1"], ["NOSUCHCMD"]]);
  assert.equal(aborted.status, 400);
  assert.match((aborted.json as { error: string }).error, /^EXECABORT .*unknown command/);
  assert.equal(await redis.get(`${PREFIX}tx:b`), null);
});

Deno.test("eval returns nested arrays and numbers", async () => {
  const result = await redis.eval(
    "return {1, 'two', {3, 'four', {5, KEYS[1]}}, ARGV[1], -7}",
    [`${PREFIX}k`],
    ["arg"],
  );
  assert.deepEqual(result, [1, "two", [3, "four", [5, `${PREFIX}k`]], "arg", -7]);
});

Deno.test("Redis errors surface with Redis's message", async () => {
  await redis.set(`${PREFIX}wt`, "string");
  await assert.rejects(
    redis.lpush(`${PREFIX}wt`, "a"),
    /WRONGTYPE Operation against a key holding the wrong kind of value/,
  );
  // Without auto-pipelining the command goes to POST / and fails with status 400.
  const single = new Redis({ url: bridge.url, token: TOKEN, enableAutoPipelining: false });
  await assert.rejects(
    single.lpush(`${PREFIX}wt`, "a"),
    /^UpstashError: WRONGTYPE Operation against a key holding the wrong kind of value/,
  );
  const res = await raw("/", ["LPUSH", `${PREFIX}wt`, "a"]);
  assert.equal(res.status, 400);
  assert.match((res.json as { error: string }).error, /^WRONGTYPE /);
});

Deno.test("a wrong or missing token is refused with 401", async () => {
  const bad = new Redis({ url: bridge.url, token: "not-the-token" });
  await assert.rejects(bad.get(`${PREFIX}s`), /WRONGPASS invalid or missing auth token/);
  const res = await raw("/", ["GET", "x"], { authorization: "Bearer nope" });
  assert.equal(res.status, 401);
  assert.deepEqual(res.json, { error: "WRONGPASS invalid or missing auth token" });
  const none = await fetch(`${bridge.url}/pipeline`, { method: "POST", body: '[["PING"]]' });
  assert.equal(none.status, 401);
  await none.body?.cancel();
});

Deno.test("path form, sync token, refused commands and health", async () => {
  const set = await raw(`/set/${encodeURIComponent(`${PREFIX}path`)}/a%2Fb%20c`, undefined);
  assert.deepEqual(set.json, { result: "OK" });
  const get = await fetch(`${bridge.url}/get/${encodeURIComponent(`${PREFIX}path`)}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.deepEqual(await get.json(), { result: "a/b c" });

  const first = await raw("/", ["PING"]);
  const second = await raw("/", ["PING"]);
  assert.notEqual(first.syncToken, null);
  assert.notEqual(first.syncToken, second.syncToken);

  const sub = await raw("/", ["SUBSCRIBE", "chan"]);
  assert.equal(sub.status, 400);
  assert.match((sub.json as { error: string }).error, /SUBSCRIBE is not supported/);
  const mixed = await raw("/pipeline", [["PING"], ["MONITOR"], ["ECHO", "after"]]);
  assert.equal(mixed.status, 200);
  assert.deepEqual(mixed.json, [
    { result: "PONG" },
    { error: "ERR command MONITOR is not supported by the REST bridge" },
    { result: "after" },
  ]);
  const inTx = await raw("/multi-exec", [["SET", `${PREFIX}never`, "1"], ["WATCH", "k"]]);
  assert.equal(inTx.status, 400);
  assert.equal(await redis.get(`${PREFIX}never`), null);

  const health = await fetch(`${bridge.url}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
});

Deno.test("blocking commands never delay normal commands", async () => {
  const blocker = new Redis({ url: bridge.url, token: TOKEN, enableAutoPipelining: false });
  const started = performance.now();
  const blpop = blocker.exec(["BLPOP", `${PREFIX}empty-list`, "2"]).then(() =>
    performance.now() - started
  );
  const xread = blocker.xread(`${PREFIX}empty-stream`, "$", { blockMS: 1500 }).then(() =>
    performance.now() - started
  );
  await delay(100);

  const normalStart = performance.now();
  for (let i = 0; i < 5; i++) {
    await Promise.all([
      redis.set(`${PREFIX}busy:${i}`, i),
      redis.incr(`${PREFIX}busy:n`),
      redis.get(`${PREFIX}busy:${i}`),
    ]);
  }
  const normalMs = performance.now() - normalStart;

  const [blpopMs, xreadMs] = await Promise.all([blpop, xread]);
  assert.ok(normalMs < 500, `normal commands took ${normalMs.toFixed(0)} ms`);
  assert.ok(blpopMs >= 1900, `BLPOP returned after ${blpopMs.toFixed(0)} ms`);
  assert.ok(xreadMs >= 1400, `XREAD BLOCK returned after ${xreadMs.toFixed(0)} ms`);

  // Inside a pipeline a blocking command keeps its place in the order.
  const key = `${PREFIX}ordered`;
  const ordered = await raw("/pipeline", [["RPUSH", key, "a"], ["BLPOP", key, "1"], ["LLEN", key]]);
  assert.deepEqual(ordered.json, [{ result: 1 }, { result: [key, "a"] }, { result: 0 }]);

  // A push wakes a blocked BLPOP with the value.
  const woken = blocker.exec(["BLPOP", `${PREFIX}wake`, "5"]);
  await delay(100);
  await redis.rpush(`${PREFIX}wake`, "go");
  assert.deepEqual(await woken, [`${PREFIX}wake`, "go"]);
});

Deno.test("Redis down gives a fast error and 503; the bridge recovers when it is back", async () => {
  await redis.set(`${PREFIX}before`, "1");
  await redisServer.stop();

  const started = performance.now();
  await assert.rejects(redis.get(`${PREFIX}before`), /Redis is unavailable/);
  await assert.rejects(redis.multi().incr(`${PREFIX}x`).exec(), /Redis is unavailable/);
  const single = new Redis({ url: bridge.url, token: TOKEN, enableAutoPipelining: false });
  await assert.rejects(single.exec(["BLPOP", `${PREFIX}l`, "1"]), /Redis is unavailable/);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 2000, `errors took ${elapsed.toFixed(0)} ms`);

  const health = await fetch(`${bridge.url}/health`);
  assert.equal(health.status, 503);
  const body = await health.json() as { error: string };
  assert.match(body.error, /^Redis is unavailable: /);

  await redisServer.start();
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await redis.set(`${PREFIX}after`, "back");
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await delay(50);
    }
  }
  assert.equal(await redis.get(`${PREFIX}after`), "back");
  assert.deepEqual(await redis.multi().incr(`${PREFIX}after:n`).exec(), [1]);
  const recovered = await fetch(`${bridge.url}/health`);
  assert.equal(recovered.status, 200);
  await recovered.body?.cancel();
});
