// The kept-alive REST pipeline client: against the project's REST bridge, and against small raw
// HTTP servers that answer in chunks, close connections, or never answer.

import assert from "node:assert/strict";
import { RestError, restPipeline } from "../src/live/rest_pipeline.ts";
import { testConfig } from "./support.ts";

const config = testConfig();
const key = `bpt:test:rest-pipeline:${crypto.randomUUID()}`;

function bridgeClient(token = config.redisRestToken) {
  return restPipeline({ url: config.redisRestUrl, token, retries: 0, backoff: () => 0 });
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
  answer: (n: number, conn: Deno.Conn) => string | null,
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
            text = text.slice(end + 4 + length);
            const reply = answer(++requests, conn);
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
  const pipeline = restPipeline({ url: server.url, token: "t", retries: 0, backoff: () => 0 });
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

Deno.test("a kept-alive connection the server dropped is retried on a new one", async () => {
  const server = rawServer((n, conn) => {
    if (n === 2 || n === 4) {
      conn.close(); // drops the connection instead of answering
      return null;
    }
    return ok(JSON.stringify([{ result: n }]));
  });
  const pipeline = restPipeline({ url: server.url, token: "t", retries: 2, backoff: () => 1 });
  const failing = restPipeline({ url: server.url, token: "t", retries: 0, backoff: () => 0 });
  try {
    assert.deepEqual(await pipeline.send([["X"]]), [{ result: 1 }]);
    assert.deepEqual(await pipeline.send([["X"]]), [{ result: 3 }]);
    assert.equal(server.accepted(), 2);
    assert.equal(pipeline.stats().requests, 3);
    // Without retries the same failure reaches the caller.
    await assert.rejects(failing.send([["X"]]), (err: unknown) => {
      assert.ok(err instanceof RestError);
      assert.equal(err.status, 0);
      assert.match(err.message, /cannot be reached: .*closed the connection mid-answer/);
      return true;
    });
  } finally {
    pipeline.close();
    failing.close();
    server.close();
  }
});

Deno.test("a kept-alive connection closed while idle is not a failure, even without retries", async () => {
  // The server closes every connection after answering, without saying so (an idle timeout).
  const server = rawServer((n) => ok(JSON.stringify([{ result: n }])), () => true);
  const pipeline = restPipeline({ url: server.url, token: "t", retries: 0, backoff: () => 0 });
  try {
    for (let i = 1; i <= 3; i++) {
      assert.deepEqual(await pipeline.send([["X"]]), [{ result: i }]);
      await new Promise((resolve) => setTimeout(resolve, 20)); // the close reaches the client
    }
    assert.equal(server.accepted(), 3);
    assert.equal(pipeline.stats().requests, 5); // 2 of them on connections found closed
  } finally {
    pipeline.close();
    server.close();
  }
});

Deno.test("no answer within the timeout fails the request and closes its connection", async () => {
  const server = rawServer(() => null);
  const pipeline = restPipeline({
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
  const pipeline = restPipeline({ url: server.url, token: "t", retries: 0, backoff: () => 0 });
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
  const pipeline = restPipeline({
    url: `https://localhost:${port}/base/`,
    token: "tls-token",
    retries: 0,
    backoff: () => 0,
    caCerts: [cert],
  });
  const untrusting = restPipeline({
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
