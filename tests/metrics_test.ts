/**
 * `GET /metrics`: after real traffic (requests, a live ride with a viewer, archived) the numbers
 * have moved, every line is a valid Prometheus exposition line, routes are labelled by template;
 * 401 without the token, 404 when none is configured, and the separate METRICS_PORT listener.
 */
import assert from "node:assert/strict";
import { createLogger } from "../src/core/log.ts";
import { startInstance } from "../src/instance.ts";
import { watchInstance } from "../src/wiring.ts";
import { freePort } from "./local_servers.ts";
import { openSse } from "./sse_client.ts";
import {
  registerRider,
  startTestApp,
  type TestApp,
  testConfig,
  testPrivateKeyPem,
} from "./support.ts";

const token = "metrics-token-for-the-test";
let t: TestApp;
let unwatch: () => void;
Deno.test.beforeAll(async () => {
  t = await startTestApp({ metrics: { token, port: undefined, host: "127.0.0.1" } });
  unwatch = watchInstance(t.deps);
});
Deno.test.afterAll(async () => {
  unwatch();
  await t.close();
});

/** One sample: its name, labels and value. */
type Sample = { name: string; labels: Record<string, string>; value: number };

const name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const labelPair = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const sampleLine = new RegExp(
  `^(${name})(?:\\{((?:${labelPair})(?:,${labelPair})*)?\\})? ` +
    `([-+]?(?:\\d+(?:\\.\\d*)?(?:e[-+]?\\d+)?|\\.\\d+|NaN|\\+Inf|-Inf))(?: -?\\d+)?$`,
  "i",
);
const helpLine = new RegExp(`^# HELP ${name} .*$`);
const typeLine = new RegExp(`^# TYPE ${name} (counter|gauge|histogram|summary|untyped)$`);

/** Parses the exposition text, failing on any line that is not a valid one. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line === "" || helpLine.test(line) || typeLine.test(line)) continue;
    const match = sampleLine.exec(line);
    assert.ok(match, `line ${i + 1} is not a valid exposition line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]] = pair[2];
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named `metric` whose labels include `labels`. */
function sum(samples: Sample[], metric: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === metric && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);
}

async function scrape(app: TestApp = t): Promise<Sample[]> {
  const res = await app.request("GET", "/metrics", {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

async function ok(res: Response) {
  const body = await res.json();
  assert.ok(res.status < 300, `${res.status} ${JSON.stringify(body)}`);
  return body;
}

const requests = "bpt_http_request_duration_seconds_count";

Deno.test("/metrics counts requests by route template, a live ride, its viewer and its archive", async () => {
  const before = await scrape();
  const rider = await registerRider(t);
  const auth = { token: rider.accessToken };
  const missing = crypto.randomUUID();
  assert.equal((await t.request("GET", `/api/workouts/${missing}`, auth)).status, 404);
  await t.request("GET", "/no/such/path").then((res) => res.body?.cancel());

  // A live ride through the old clients' streams, watched by one viewer.
  const stream = `metrics-${crypto.randomUUID().slice(0, 8)}`;
  await ok(
    await t.request("POST", "/api/streams/create", { ...auth, body: { streamName: stream } }),
  );
  const workout = await ok(await t.request("GET", `/api/workouts/by-stream/${stream}`, auth));
  const viewer = await openSse(
    (req) => t.app.fetch(req),
    `http://localhost/api/streams/${stream}/listen`,
    { authorization: `Bearer ${rider.accessToken}` },
  );
  const start = Date.now() - 120_000;
  const samples = Array.from({ length: 60 }, (_, i) => ({ time: start + i * 1000, power: 200 }));
  await ok(
    await t.request("POST", `/api/workouts/${workout.id}/samples`, {
      ...auth,
      body: { samples },
    }),
  );

  const during = await scrape();
  assert.ok(sum(during, "bpt_sse_viewers") >= 1, "the viewer is counted");
  assert.ok(sum(during, "bpt_sse_watched_streams") >= 1);
  assert.ok(sum(during, "bpt_live_rides") >= 1, "the live ride is counted");
  assert.ok(sum(during, "bpt_postgres_pool_max") >= 1);
  assert.ok(sum(during, "bpt_postgres_pool_connections") >= 1, "a connection is open");
  assert.ok(sum(during, "bpt_rides_started_total") > sum(before, "bpt_rides_started_total"));

  const completed = await ok(
    await t.request("POST", `/api/workouts/${workout.id}/complete`, auth),
  );
  assert.equal(completed.workout.status, "completed");
  await viewer.close();

  const after = await scrape();
  const moved = (metric: string, labels: Record<string, string> = {}) =>
    sum(after, metric, labels) - sum(before, metric, labels);
  assert.equal(moved(requests, { route: "/api/auth/register", status: "201" }), 1);
  assert.equal(moved(requests, { route: "/api/workouts/:id", method: "GET", status: "404" }), 1);
  assert.equal(moved(requests, { route: "/api/workouts/:id/samples", status: "202" }), 1);
  assert.equal(moved(requests, { route: "/api/workouts/:id/complete", status: "200" }), 1);
  assert.ok(moved(requests, { route: "unmatched", status: "404" }) >= 1);
  assert.ok(moved("bpt_http_request_duration_seconds_sum") > 0, "latency is summed");
  // The histogram's +Inf bucket holds every request of its series.
  assert.equal(
    moved("bpt_http_request_duration_seconds_bucket", {
      route: "/api/auth/register",
      status: "201",
      le: "+Inf",
    }),
    1,
  );
  assert.equal(moved("bpt_archive_duration_seconds_count", { source: "live", outcome: "ok" }), 1);
  assert.equal(moved("bpt_archive_samples_count", { source: "live" }), 1);
  assert.equal(moved("bpt_archive_samples_sum", { source: "live" }), 60);
  assert.equal(sum(after, "bpt_sse_viewers"), 0, "the viewer has gone");
  // Raw paths never become labels: no workout id, no stream name.
  const labels = after.flatMap((s) => Object.values(s.labels)).join(" ");
  assert.ok(!labels.includes(workout.id) && !labels.includes(missing) && !labels.includes(stream));
});

Deno.test("/metrics answers 401 without the token or with a wrong one", async () => {
  const attempts: Record<string, string>[] = [{}, {
    authorization: "Bearer wrong-token-of-enough-length",
  }];
  for (const headers of attempts) {
    const res = await t.request("GET", "/metrics", { headers });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).code, "unauthorized");
  }
});

Deno.test("/metrics is a 404 on the API's port when no METRICS_TOKEN is set", async () => {
  const plain = await startTestApp();
  try {
    const res = await plain.request("GET", "/metrics");
    assert.equal(res.status, 404);
    assert.equal((await res.json()).code, "not_found");
  } finally {
    await plain.close();
  }
});

Deno.test("METRICS_PORT serves /metrics on a loopback listener of its own", async () => {
  const port = freePort();
  const metricsPort = freePort();
  const instance = await startInstance(
    testConfig({
      host: "127.0.0.1",
      port,
      sweepIntervalS: 0,
      metrics: { token: undefined, port: metricsPort, host: "127.0.0.1" },
    }),
    { log: createLogger("silent"), privateKeyPem: await testPrivateKeyPem() },
  );
  try {
    await fetch(`http://127.0.0.1:${port}/health`).then((res) => res.body?.cancel());
    const api = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(api.status, 404);
    await api.body?.cancel();
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(res.status, 200);
    const samples = parse(await res.text());
    assert.ok(sum(samples, requests, { route: "/health", status: "200" }) >= 1);
    const other = await fetch(`http://127.0.0.1:${metricsPort}/health`);
    assert.equal(other.status, 404);
    await other.body?.cancel();
  } finally {
    await instance.stop();
  }
});
