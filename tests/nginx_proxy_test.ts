/**
 * The reverse-proxy example (docs/nginx.conf) in front of the real service process: it passes
 * `nginx -t`, serves HTTP/2 over TLS, passes SSE frames through as they are written, hands the
 * client's address to the app in X-Forwarded-For, and cuts a client that sends its request head
 * too slowly (which Deno.serve alone never does).
 */
import assert from "node:assert/strict";
import { generatePrivateKeyPem } from "../src/auth/tokens.ts";
import { killService, type ServiceProcess, startService, waitFor } from "./service_process.ts";
import { freePort } from "./local_servers.ts";
import { type NginxSetup, type RunningNginx, setUpNginx } from "./nginx_proxy.ts";
import { openSse } from "./sse_client.ts";

let setup: NginxSetup;
let nginx: RunningNginx;
let api: ServiceProcess;
let client: Deno.HttpClient;

Deno.test.beforeAll(async () => {
  const port = freePort();
  api = startService({
    HOST: "127.0.0.1",
    PORT: String(port),
    JWT_PRIVATE_KEY: await generatePrivateKeyPem(),
    LOG_LEVEL: "info",
    SWEEP_INTERVAL_S: "0",
    PASSWORD_MEMORY_KIB: "1024",
    PASSWORD_ITERATIONS: "1",
    ALLOW_ANONYMOUS_STREAMS: "true",
    // One nginx in front, appending the client's address to X-Forwarded-For.
    TRUSTED_PROXY_HOPS: "1",
    // One sign-in attempt per client address and minute: the second answers 429, which shows
    // which address the app counted.
    AUTH_CLIENT_ATTEMPTS: "1",
  });
  await waitFor("the service listening", () => api.lines.some((l) => l.msg === "listening"));
  setup = await setUpNginx({ upstreams: [{ hostname: "127.0.0.1", port }] });
  nginx = await setup.start();
  client = Deno.createHttpClient({ caCerts: [setup.certPem] });
});

Deno.test.afterAll(async () => {
  client?.close();
  await nginx?.stop();
  if (api) await killService(api);
  await setup?.remove();
});

Deno.test("docs/nginx.conf passes nginx -t, filled for one instance and for three", async () => {
  assert.ok((await setup.check()).ok, (await setup.check()).text);
  const three = await setUpNginx({
    upstreams: [3001, 3002, 3003].map((port) => ({ hostname: "127.0.0.1", port })),
    redirectHttp: true,
  });
  try {
    const checked = await three.check();
    assert.ok(checked.ok, checked.text);
    assert.match(checked.text, /syntax is ok/);
  } finally {
    await three.remove();
  }
});

Deno.test("nginx offers HTTP/2 over TLS and proxies /ready and /health", async () => {
  const tls = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: setup.httpsPort,
    caCerts: [setup.certPem],
    alpnProtocols: ["h2", "http/1.1"],
  });
  const { alpnProtocol } = await tls.handshake();
  tls.close();
  assert.equal(alpnProtocol, "h2");

  for (const path of ["/ready", "/health"]) {
    const res = await fetch(`${nginx.httpsUrl}${path}`, { client });
    assert.equal(res.status, 200, path);
    const body = await res.json();
    assert.ok(body.status === "ready" || body.status === "ok", JSON.stringify(body));
  }
});

Deno.test("an SSE frame passes through nginx as it is written, while the stream stays open", async () => {
  const name = `nginx-${crypto.randomUUID().slice(0, 8)}`;
  const created = await fetch(`${nginx.httpsUrl}/api/streams/create`, {
    client,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ streamName: name }),
  });
  assert.equal(created.status, 200, await created.clone().text());
  await created.body?.cancel();

  const viewer = await openSse(
    (request) => fetch(request, { client }),
    `${nginx.httpsUrl}/api/streams/${name}/listen`,
  );
  try {
    assert.equal(viewer.status, 200, viewer.errorBody);
    assert.match(viewer.headers.get("content-type") ?? "", /^text\/event-stream/);
    await viewer.waitFor((frame) => frame.type === "connected");
    assert.equal(viewer.isEnded(), false);

    const posted = await fetch(`${nginx.httpsUrl}/api/streams/${name}/messages`, {
      client,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: "through nginx", author: "rider" }),
    });
    assert.equal(posted.status, 200, await posted.clone().text());
    await posted.body?.cancel();
    const frame = await viewer.waitFor((f) => f.type === "message");
    assert.equal((frame.data as { message?: unknown })?.message ?? frame.message, "through nginx");
    // Both frames arrived while the response is still open: nothing waited for its end.
    assert.equal(viewer.isEnded(), false);
  } finally {
    await viewer.close();
  }
});

/** A sign-in attempt through nginx's plain-HTTP port from a given loopback address (curl). */
async function signInFrom(source: string, headers: string[] = []): Promise<number> {
  const out = await new Deno.Command("curl", {
    args: [
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--interface",
      source,
      "-H",
      "content-type: application/json",
      ...headers.flatMap((header) => ["-H", header]),
      "--data",
      JSON.stringify({ email: `${crypto.randomUUID()}@example.com`, password: "x" }),
      `http://127.0.0.1:${setup.httpPort}/api/auth/login`,
    ], // deno-fmt-ignore
    stdout: "piped",
  }).output();
  assert.ok(out.success, `curl failed with exit code ${out.code}`);
  return Number(new TextDecoder().decode(out.stdout));
}

Deno.test("the app counts each client by the address nginx puts in X-Forwarded-For", async () => {
  // Every request reaches the app from nginx's own address; only X-Forwarded-For tells the
  // clients apart. Two fresh loopback addresses (the limit's window outlives one test run):
  const octet = () => 1 + Math.floor(Math.random() * 254);
  const [first, second] = [0, 1].map(() => `127.${octet()}.${octet()}.${octet()}`);
  // The first client uses up its one attempt:
  assert.equal(await signInFrom(first), 401);
  assert.equal(await signInFrom(first), 429);
  // The second is another client, even when it claims to be the first (nginx appends the real
  // address after the claim, and the app trusts only that one hop).
  assert.equal(await signInFrom(second, [`x-forwarded-for: ${first}`]), 401);
  assert.equal(await signInFrom(second), 429);
});

Deno.test("nginx closes a connection whose request head is not finished within client_header_timeout", async () => {
  const template = await Deno.readTextFile(new URL("../docs/nginx.conf", import.meta.url));
  const seconds = Number(template.match(/client_header_timeout\s+(\d+)s;/)?.[1]);
  assert.ok(seconds > 0 && seconds <= 30, "docs/nginx.conf sets client_header_timeout in seconds");

  const slow = await Deno.connect({ hostname: "127.0.0.1", port: setup.httpPort });
  try {
    // Half a request head, then nothing more.
    await slow.write(new TextEncoder().encode("GET /health HTTP/1.1\r\nHost: localhost\r\n"));
    const buffer = new Uint8Array(1024);
    const outcome = await Promise.race([
      slow.read(buffer).then(
        (n) =>
          n === null ? "closed" : `answered ${new TextDecoder().decode(buffer.subarray(0, n))}`,
        () => "closed", // reset_timedout_connection: a reset rather than a FIN
      ),
      new Promise<string>((resolve) =>
        setTimeout(() => resolve("still open"), (seconds + 20) * 1000)
      ),
    ]);
    assert.equal(outcome, "closed");
  } finally {
    try {
      slow.close();
    } catch {
      // closed by nginx
    }
  }
  // A complete request on a fresh connection is still served (a client of its own, so no idle
  // connection another test left in the shared pool is reused).
  const fresh = Deno.createHttpClient({});
  try {
    const res = await fetch(`${nginx.httpUrl}/health`, { client: fresh });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    fresh.close();
  }
});
