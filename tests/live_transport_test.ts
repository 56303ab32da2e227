// The live transport: the kept-alive REST pipeline client and the script batcher on it, against
// the project's REST bridge, and against small raw HTTP servers that answer in chunks, close
// connections, answer late or never answer.

import assert from "node:assert/strict";
import { toApiError } from "../src/core/errors.ts";
import { RestError, restTransport, scriptBatcher } from "../src/live/transport.ts";
import { createLiveStore } from "../src/live/store.ts";
import { testConfig } from "./support.ts";

const config = testConfig();
const key = `bpt:test:rest-pipeline:${crypto.randomUUID()}`;

function bridgeClient(token = config.redisRestToken) {
  return restTransport({ url: config.redisRestUrl, token, retries: 0, backoff: () => 0 });
}

Deno.test("a pipeline answers every command in order and keeps one connection", async () => {
  const pipeline = bridgeClient();
  try {
    const replies = await pipeline.send([
      ["SET", key, '功率 🚴 "quoted"'],
      ["GET", key],
      ["INCR", key], // not an integer: an error reply for this command only
      ["DEL", key],
    ]);
    assert.deepEqual(replies.slice(0, 2), [{ result: "OK" }, { result: '功率 🚴 "quoted"' }]);
    assert.match(replies[2].error ?? "", /not an integer/);
    assert.deepEqual(replies[3], { result: 1 });
    for (let i = 0; i < 50; i++) await pipeline.send([["PING"]]);
    assert.deepEqual(pipeline.stats(), { requests: 51, connections: 1 });
  } finally {
    pipeline.close();
  }
});

Deno.test("a wrong token is a RestError with the status, and a closed client refuses to send", async () => {
  const pipeline = bridgeClient("not-the-token");
  await assert.rejects(pipeline.send([["PING"]]), (err: unknown) => {
    assert.ok(err instanceof RestError);
    assert.equal(err.status, 401);
    assert.match(err.message, /WRONGPASS/);
    return true;
  });
  pipeline.close();
  await assert.rejects(pipeline.send([["PING"]]), /closed/);
});

/** A raw HTTP server: `answer` gets each request's number and returns the bytes to write. */
function rawServer(
  answer: (n: number, conn: Deno.Conn, body: string) => string | null,
  closeAfter: (n: number) => boolean = () => false,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let requests = 0;
  let accepted = 0;
  (async () => {
    for await (const conn of listener) {
      accepted++;
      conns.add(conn);
      (async () => {
        const buf = new Uint8Array(64 * 1024);
        let text = "";
        try {
          while (true) {
            const n = await conn.read(buf);
            if (n === null) break;
            text += new TextDecoder().decode(buf.subarray(0, n));
            const end = text.indexOf("\r\n\r\n");
            const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
            if (end < 0 || text.length < end + 4 + length) continue;
            const body = text.slice(end + 4, end + 4 + length);
            text = text.slice(end + 4 + length);
            const reply = answer(++requests, conn, body);
            if (reply === null) continue; // never answer
            await conn.write(new TextEncoder().encode(reply));
            if (/connection: close/i.test(reply) || closeAfter(requests)) break;
          }
        } catch { /* closed by the test */ }
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* already closed */ }
      })();
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}`,
    accepted: () => accepted,
    /** Requests received whole. */
    requests: () => requests,
    close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    },
  };
}

const ok = (body: string, extra = "") =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${extra}content-length: ${
    new TextEncoder().encode(body).length
  }\r\n\r\n${body}`;

Deno.test("chunked answers, Connection: close and answers split over many reads", async () => {
  const big = "x".repeat(200_000);
  const server = rawServer((n) => {
    if (n === 1) {
      const body = JSON.stringify([{ result: "é".repeat(10) }, { result: 7 }]);
      const bytes = new TextEncoder().encode(body);
      const half = Math.floor(bytes.length / 2);
      const hex = (len: number) => len.toString(16);
      const first = new TextDecoder().decode(bytes.subarray(0, half));
      const second = new TextDecoder().decode(bytes.subarray(half));
      return `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n` +
        `${hex(new TextEncoder().encode(first).length)};ext=1\r\n${first}\r\n` +
        `${hex(new TextEncoder().encode(second).length)}\r\n${second}\r\n0\r\n\r\n`;
    }
    if (n === 2) return ok(JSON.stringify([{ result: big }]), "connection: close\r\n");
    return ok(JSON.stringify([{ result: "after" }]));
  });
  const pipeline = restTransport({ url: server.url, token: "t", retries: 0, backoff: () => 0 });
  try {
    assert.deepEqual(await pipeline.send([["A"], ["B"]]), [
      { result: "é".repeat(10) },
      { result: 7 },
    ]);
    assert.deepEqual(await pipeline.send([["BIG"]]), [{ result: big }]);
    assert.equal(pipeline.stats().connections, 0); // the server said close
    assert.deepEqual(await pipeline.send([["C"]]), [{ result: "after" }]);
    assert.equal(server.accepted(), 2);
  } finally {
    pipeline.close();
    server.close();
  }
});

Deno.test("a request whose connection dropped after it was sent is not sent again", async () => {
  // The server read request 2 whole, then dropped the connection: Redis may have run it, so it
  // is never sent again (it was, on a new connection, before the delivery policy: a duplicate).
  const server = rawServer((n, conn) => {
    if (n === 2) {
      conn.close(); // drops the connection instead of answering
      return null;
    }
    return ok(JSON.stringify([{ result: n }]));
  });
  const pipeline = restTransport({ url: server.url, token: "t", retries: 2, backoff: () => 1 });
  try {
    assert.deepEqual(await pipeline.send([["X"]]), [{ result: 1 }]);
    await assert.rejects(pipeline.send([["X"]]), (err: unknown) => {
      assert.ok(err instanceof RestError);
      assert.equal(err.status, 0);
      assert.match(err.message, /cannot be reached: .*closed the connection mid-answer/);
      assert.match(err.message, /not sent again/);
      assert.equal(toApiError(err)?.status, 503);
      return true;
    });
    assert.equal(server.requests(), 2);
    assert.equal(pipeline.stats().requests, 2);
    // The next request goes on a new connection.
    assert.deepEqual(await pipeline.send([["X"]]), [{ result: 3 }]);
    assert.equal(server.accepted(), 2);
    assert.equal(pipeline.stats().requests, 3);
  } finally {
    pipeline.close();
    server.close();
  }
});

Deno.test("a request that got no answer in time is sent once, even with retries", async () => {
  // Never answers; then answers late (after the timeout): either way Redis may have run it.
  for (const late of [false, true]) {
    const server = rawServer((n, conn) => {
      if (late) {
        setTimeout(() => {
          conn.write(new TextEncoder().encode(ok(JSON.stringify([{ result: n }])))).catch(() => {});
        }, 150);
      }
      return null;
    });
    const waits: number[] = [];
    const pipeline = restTransport({
      url: server.url,
      token: "t",
      retries: 2,
      backoff: (n) => (waits.push(n), 1),
      timeoutMs: 80,
    });
    try {
      await assert.rejects(pipeline.send([["INCR", "x"]]), (err: unknown) => {
        assert.ok(err instanceof RestError);
        assert.equal(err.status, 0);
        assert.match(err.message, /cannot be reached: .*within 80 ms.*not sent again/);
        assert.equal(toApiError(err)?.status, 503);
        return true;
      });
      await new Promise((resolve) => setTimeout(resolve, 250)); // a resend would have arrived
      assert.equal(server.requests(), 1, late ? "answers late" : "never answers");
      assert.deepEqual(pipeline.stats(), { requests: 1, connections: 0 });
      assert.deepEqual(waits, []);
    } finally {
      pipeline.close();
      server.close();
    }
  }
});

Deno.test("a request that could not be sent is retried; at-least-once also resends timeouts", async () => {
  // Nothing listens on this port: each attempt fails before any byte is written.
  const unused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (unused.addr as Deno.NetAddr).port;
  unused.close();
  const waits: number[] = [];
  const refused = restTransport({
    url: `http://127.0.0.1:${port}`,
    token: "t",
    retries: 2,
    backoff: (n) => (waits.push(n), 1),
  });
  await assert.rejects(refused.send([["X"]]), (err: unknown) => {
    assert.ok(err instanceof RestError);
    assert.equal(err.status, 0);
    assert.doesNotMatch(err.message, /not sent again/);
    assert.equal(toApiError(err)?.status, 503);
    return true;
  });
  assert.deepEqual(waits, [0, 1]); // sent 3 times: never written, so never run
  assert.equal(refused.stats().requests, 0);
  refused.close();

  const server = rawServer(() => null);
  const reads = restTransport({
    url: server.url,
    token: "t",
    retries: 2,
    backoff: () => 1,
    timeoutMs: 50,
    delivery: "at-least-once",
  });
  try {
    await assert.rejects(reads.send([["GET", "x"]]), /within 50 ms/);
    assert.equal(server.requests(), 3);
    assert.equal(reads.stats().requests, 3);
  } finally {
    reads.close();
    server.close();
  }
});

Deno.test("a kept-alive connection closed while idle is not a failure, even without retries", async () => {
  // The server closes every connection after answering, without saying so (an idle timeout).
  const server = rawServer((n) => ok(JSON.stringify([{ result: n }])), () => true);
  const pipeline = restTransport({ url: server.url, token: "t", retries: 0, backoff: () => 0 });
  try {
    for (let i = 1; i <= 3; i++) {
      assert.deepEqual(await pipeline.send([["X"]]), [{ result: i }]);
      // The close reaches the client: its idle connection leaves the pool without being used.
      for (let waited = 0; pipeline.stats().connections > 0 && waited < 2_000; waited += 5) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.equal(pipeline.stats().connections, 0);
    }
    assert.equal(server.accepted(), 3);
    // A pending read on idle connections sees the close before a request is written to them.
    assert.equal(pipeline.stats().requests, 3);
  } finally {
    pipeline.close();
    server.close();
  }
});

Deno.test("no answer within the timeout fails the request and closes its connection", async () => {
  const server = rawServer(() => null);
  const pipeline = restTransport({
    url: server.url,
    token: "t",
    retries: 0,
    backoff: () => 0,
    timeoutMs: 150,
  });
  try {
    const started = performance.now();
    await assert.rejects(pipeline.send([["X"]]), /cannot be reached: .*within 150 ms/);
    assert.ok(performance.now() - started < 2_000);
    assert.equal(pipeline.stats().connections, 0);
  } finally {
    pipeline.close();
    server.close();
  }
});

Deno.test("an answer that is not the pipeline's replies is an error, not a wrong result", async () => {
  const server = rawServer((n) =>
    n === 1 ? ok(JSON.stringify([{ result: 1 }])) : ok("<html>proxy error</html>")
  );
  const pipeline = restTransport({ url: server.url, token: "t", retries: 0, backoff: () => 0 });
  try {
    await assert.rejects(pipeline.send([["A"], ["B"]]), /something else than its replies/);
    await assert.rejects(pipeline.send([["A"]]), /something else than JSON/);
  } finally {
    pipeline.close();
    server.close();
  }
});

Deno.test("an https endpoint works the same, and an untrusted certificate is refused", async () => {
  const cert = await Deno.readTextFile(new URL("./fixtures/tls/localhost.crt", import.meta.url));
  const key = await Deno.readTextFile(new URL("./fixtures/tls/localhost.key", import.meta.url));
  const seen: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, onListen: () => {} },
    async (req) => {
      seen.push(`${req.method} ${new URL(req.url).pathname} ${req.headers.get("authorization")}`);
      const commands = await req.json() as string[][];
      return Response.json(commands.map(([name]) => ({ result: `${name} over TLS` })));
    },
  );
  const { port } = server.addr;
  const pipeline = restTransport({
    url: `https://localhost:${port}/base/`,
    token: "tls-token",
    retries: 0,
    backoff: () => 0,
    caCerts: [cert],
  });
  const untrusting = restTransport({
    url: `https://localhost:${port}`,
    token: "tls-token",
    retries: 0,
    backoff: () => 0,
  });
  try {
    assert.deepEqual(await pipeline.send([["PING"], ["ECHO", "x"]]), [
      { result: "PING over TLS" },
      { result: "ECHO over TLS" },
    ]);
    assert.deepEqual(await pipeline.send([["PING"]]), [{ result: "PING over TLS" }]);
    assert.deepEqual(seen, [
      "POST /base/pipeline Bearer tls-token",
      "POST /base/pipeline Bearer tls-token",
    ]);
    assert.equal(pipeline.stats().connections, 1);
    // A certificate the client does not trust is a failure to reach the endpoint, not an answer.
    await assert.rejects(untrusting.send([["PING"]]), (err: unknown) => {
      assert.ok(err instanceof RestError);
      assert.equal(err.status, 0);
      return true;
    });
    assert.equal(seen.length, 2);
  } finally {
    pipeline.close();
    untrusting.close();
    await server.shutdown();
  }
});

/** The live store on the test bridge: the batcher's transport and an Upstash client. */
function liveStore() {
  return createLiveStore({
    url: config.redisRestUrl,
    token: config.redisRestToken,
    prefix: "bpt:test:",
    retries: 0,
  });
}

Deno.test("a script batcher answers every call with its own reply in fewer round trips", async () => {
  const { redis, transport, close } = liveStore();
  const echo = scriptBatcher<string>(transport, "return ARGV[1] .. ':' .. KEYS[1]");
  try {
    // Calls arriving one after another while earlier ones are in flight.
    const replies: Promise<string>[] = [];
    for (let i = 0; i < 200; i++) {
      replies.push(echo.exec([`bpt:test:k${i}`], [`v${i}`]));
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const answers = await Promise.all(replies);
    answers.forEach((answer, i) => assert.equal(answer, `v${i}:bpt:test:k${i}`));
    const { requests } = transport.stats();
    assert.ok(requests < 200 / 2, `200 calls took ${requests} REST requests`);

    // Redis forgot its scripts (restart, failover): the batcher loads the script again.
    await redis.scriptFlush();
    assert.equal(await echo.exec(["bpt:test:x"], ["again"]), "again:bpt:test:x");
  } finally {
    close();
  }
});

Deno.test("a script batcher overlaps at most maxInFlight round trips", async () => {
  const { redis, transport, close } = liveStore();
  let open = 0;
  let most = 0;
  const counted = {
    send: async (commands: string[][]) => {
      most = Math.max(most, ++open);
      try {
        // A round trip slower than one turn of the loop, so that the next batch is ready while
        // this one is in flight on any machine (on a fast one they would never overlap).
        await new Promise((resolve) => setTimeout(resolve, 5));
        return await transport.send(commands);
      } finally {
        open--;
      }
    },
  };
  const echo = scriptBatcher<string>(counted, "return ARGV[1]", { maxInFlight: 2 });
  await redis.scriptLoad("return ARGV[1]");
  try {
    const replies: Promise<string>[] = [];
    for (let i = 0; i < 300; i++) {
      replies.push(echo.exec(["bpt:test:inflight"], [`v${i}`]));
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    assert.deepEqual(await Promise.all(replies), replies.map((_, i) => `v${i}`));
    assert.equal(most, 2);
  } finally {
    close();
  }
});

Deno.test("after NOSCRIPT a script batcher runs again only the calls that did not run", async () => {
  // Redis lost its scripts in the middle of a batch: the first call ran, the second did not.
  const bodies: string[][][] = [];
  const server = rawServer((n, _conn, body) => {
    bodies.push(JSON.parse(body));
    if (n === 1) {
      return ok(JSON.stringify([{ result: "ran" }, { error: "NOSCRIPT No matching script." }]));
    }
    if (n === 2) return ok(JSON.stringify([{ result: "sha" }]));
    return ok(JSON.stringify([{ result: "ran again" }]));
  });
  const transport = restTransport({ url: server.url, token: "t", retries: 0, backoff: () => 0 });
  const script = scriptBatcher<string>(transport, "return redis.call('INCR', KEYS[1])");
  try {
    const answers = await Promise.all([script.exec(["a"], []), script.exec(["b"], [])]);
    assert.deepEqual(answers, ["ran", "ran again"]);
    assert.deepEqual(bodies.map((b) => b.map((command) => command[0])), [
      ["EVALSHA", "EVALSHA"],
      ["SCRIPT"],
      ["EVALSHA"],
    ]);
    assert.equal(bodies[2][0][3], "b"); // only the call that did not run
  } finally {
    transport.close();
    server.close();
  }
});
