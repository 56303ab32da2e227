/**
 * The HTTP floor of the benchmarks: Hono's plain "hello" route served by `Deno.serve`, nothing
 * else. bench/streams_bench.ts runs it in its own process and loads it with the same wrk
 * settings as the service, so every HTTP figure can be read as a ratio to it.
 *
 *   deno run --allow-net --allow-env bench/hello_server.ts   # PORT (default 0: any), prints it
 * @module
 */
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.text("hello"));

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 0),
  onListen: ({ port }) => console.log(`listening on ${port}`),
}, app.fetch);
