// The router createApp uses: Hono's default router with the last matches kept.

import assert from "node:assert/strict";
import { Hono } from "hono";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";
import { CachedRouter } from "../src/http/openapi.ts";

/** An app with the route shapes that make RegExpRouter give up, on the given router. */
function appWith(router: Hono["router"]) {
  const app = new Hono({ router, strict: false });
  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("x-seen", "1");
  });
  app.get("/api/users/me", (c) => c.text("me"));
  app.get("/api/users/:id", (c) => c.text(`user ${c.req.param("id")}`));
  app.delete("/api/users/me/api-keys/:id", (c) => c.text(`key ${c.req.param("id")}`));
  app.post("/api/streams/:name/messages", (c) => c.text(`stream ${c.req.param("name")}`));
  return app;
}

const requests: [string, string][] = [
  ["GET", "/api/users/me"],
  ["GET", "/api/users/42"],
  ["GET", "/api/users/43/"],
  ["DELETE", "/api/users/me/api-keys/k1"],
  ["POST", "/api/streams/ride-1/messages"],
  ["POST", "/api/streams/ride%202/messages"],
  ["GET", "/api/streams/ride-1/messages"],
  ["GET", "/nope"],
];

async function answers(app: Hono) {
  const out: string[] = [];
  for (let round = 0; round < 3; round++) {
    for (const [method, path] of requests) {
      const res = await app.request(path, { method });
      out.push(`${method} ${path} ${res.status} ${res.headers.get("x-seen")} ${await res.text()}`);
    }
  }
  return out;
}

const defaultRouter = () =>
  new SmartRouter({ routers: [new RegExpRouter(), new TrieRouter()] }) as Hono["router"];

Deno.test("a cached router answers every request exactly as Hono's default router", async () => {
  const plain = await answers(appWith(defaultRouter()));
  const cached = await answers(appWith(new CachedRouter(defaultRouter())));
  assert.deepEqual(cached, plain);
  assert.ok(plain.includes("GET /api/users/43/ 200 1 user 43"));
  assert.ok(plain.includes("POST /api/streams/ride%202/messages 200 1 stream ride 2"));
  assert.ok(plain.some((line) => line.startsWith("GET /nope 404 1")));
});

Deno.test("a cached router reuses a match and keeps at most max of them", () => {
  const router = new CachedRouter<string>(new TrieRouter<string>(), 3);
  router.add("GET", "/a/:x", "handler");
  const first = router.match("GET", "/a/1");
  assert.equal(router.match("GET", "/a/1"), first);
  router.match("GET", "/a/2");
  router.match("GET", "/a/3");
  router.match("GET", "/a/4"); // the cache was full: it starts again
  assert.notEqual(router.match("GET", "/a/1"), first);
  assert.deepEqual(router.match("GET", "/a/1"), first);
  assert.equal(router.name, "cached TrieRouter");
});
