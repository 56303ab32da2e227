/**
 * Hono's own middleware against this app's forks of it (src/http/middleware.ts, the router cache
 * in src/http/openapi.ts): CPU per request of a small JSON POST through `app.fetch` in this
 * process, each fork and Hono's original in the same run, interleaved in rounds. A fork stays only
 * where it pays; its comment carries the figure printed here. Last, what the request metric
 * (`requestMetrics`, /metrics) adds to a request: the same app with it and without it.
 *
 *   deno run bench/middleware_bench.ts [--rounds 7] [--requests 20000]
 */
import { record } from "./report.ts";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId as honoRequestId } from "hono/request-id";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";
import type { MiddlewareHandler } from "hono";
import {
  corsHeaders,
  declaredBodyLimit,
  requestId,
  requestMetrics,
} from "../src/http/middleware.ts";
import { CachedRouter } from "../src/http/openapi.ts";

const arg = (name: string, fallback: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
};
const rounds = arg("--rounds", 7);
const requests = arg("--requests", 20_000);

const corsOptions = {
  origins: ["*"],
  allowMethods: ["GET", "POST"],
  allowHeaders: ["Content-Type", "X-API-Key"],
  exposeHeaders: ["X-Request-Id", "Retry-After"],
  maxAge: 600,
};
const tooLarge = (): never => {
  throw new Error("too large");
};

type Variant = { name: string; app: Hono };

/** An app like ours where it matters: one middleware under test and routes that defeat RegExpRouter. */
function app(middleware: MiddlewareHandler | undefined, cached = false): Hono {
  const router = new SmartRouter({ routers: [new RegExpRouter(), new TrieRouter()] });
  // deno-lint-ignore no-explicit-any
  const h = new Hono(cached ? { router: new CachedRouter(router) as any } : { router });
  h.use((c, next) => {
    c.set("requestId" as never, "x" as never);
    return next();
  });
  if (middleware) h.use(middleware);
  // About as many routes as the app has (40), so the router searches as much as it does there.
  for (let i = 0; i < 36; i++) h.get(`/api/r${i}/:id/items/:item`, (c) => c.json({ i }));
  h.get("/api/users/me/api-keys/:id", (c) => c.json({ ok: true }));
  h.get("/api/users/:id", (c) => c.json({ ok: true }));
  h.post(
    "/api/streams/:name/messages",
    async (c) => c.json({ ok: true, got: (await c.req.json()).n }),
  );
  return h;
}

const pairs: [string, Variant, Variant][] = [
  ["requestId", { name: "fork", app: app(requestId as MiddlewareHandler) }, {
    name: "hono",
    app: app(honoRequestId()),
  }],
  ["cors", { name: "fork", app: app(corsHeaders(corsOptions) as MiddlewareHandler) }, {
    name: "hono",
    app: app(cors({ ...corsOptions, origin: "*" })),
  }],
  ["bodyLimit", {
    name: "fork",
    app: app(declaredBodyLimit(1 << 20, tooLarge) as MiddlewareHandler),
  }, { name: "hono", app: app(bodyLimit({ maxSize: 1 << 20, onError: tooLarge })) }],
  ["router cache", { name: "fork", app: app(undefined, true) }, {
    name: "hono",
    app: app(undefined, false),
  }],
];

const body = JSON.stringify({ n: 1, message: "x".repeat(300) });
function request(): Request {
  return new Request("http://bench/api/streams/ride-1/messages", {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": String(body.length) },
    body,
  });
}

/** Microseconds per request of `requests` sequential requests. */
async function run(variant: Variant): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < requests; i++) {
    const res = await variant.app.fetch(request());
    await res.arrayBuffer();
  }
  return (performance.now() - started) * 1000 / requests;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Warm-up of every variant, then rounds alternating the order within each pair.
for (const [, a, b] of pairs) await Promise.all([run(a), run(b)]);
console.log(`middleware: fork vs Hono, µs per request (median of ${rounds} interleaved rounds)`);
console.log("middleware      fork µs   hono µs   fork/hono");
for (const [name, fork, hono] of pairs) {
  const f: number[] = [], h: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      f.push(await run(fork));
      h.push(await run(hono));
    } else {
      h.push(await run(hono));
      f.push(await run(fork));
    }
  }
  const mf = median(f), mh = median(h);
  console.log(
    `${name.padEnd(14)}  ${mf.toFixed(2).padStart(7)}   ${mh.toFixed(2).padStart(7)}   ${
      (mf / mh).toFixed(3)
    }`,
  );
  record({
    bench: "middleware",
    cell: `${name} fork, µs per request (app.fetch, no socket)`,
    value: mf,
    unit: "µs",
    better: "lower",
    floor: { name: "Hono's own", value: mh },
    target: "≤ Hono's own",
    met: mf <= mh,
  });
}

// What the request metric costs: the app with requestMetrics against the same app without it.
const withMetrics: Variant = { name: "with", app: app(requestMetrics as MiddlewareHandler) };
const without: Variant = { name: "without", app: app(undefined) };
await Promise.all([run(withMetrics), run(without)]);
const w: number[] = [], o: number[] = [];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? [withMetrics, without] : [without, withMetrics];
  for (const v of order) (v === withMetrics ? w : o).push(await run(v));
}
const mw = median(w), mo = median(o);
console.log(
  `request metric: ${mw.toFixed(2)} µs with, ${mo.toFixed(2)} µs without, ` +
    `+${(mw - mo).toFixed(2)} µs per request (${(mw / mo).toFixed(3)}×)`,
);
record({
  bench: "middleware",
  cell: "request metric (route template, status, latency histogram), µs per request",
  value: mw,
  unit: "µs",
  better: "lower",
  floor: { name: "the same app without it", value: mo },
});
