/** The process guard: a driver socket error nothing caught is logged and survived; a bug crashes. */
import assert from "node:assert/strict";
import { isDriverSocketError } from "../src/process_guard.ts";
import { archiveUnderCuts } from "./archive_under_cuts.ts";

async function runChild(what: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-env", "tests/fixtures/process_guard_child.ts", what],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const lines = stdout.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
  return { code: out.code, lines, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("an uncaught driver socket error is logged and the process keeps running", async () => {
  const run = await runChild("driver");
  assert.equal(run.code, 0, run.stderr);
  const caught = run.lines.filter((l) => l.msg.startsWith("driver socket error caught"));
  assert.deepEqual(caught.map((l) => l.kind).sort(), ["error", "unhandledrejection"]);
  assert.ok(run.lines.some((l) => l.msg === "still serving"));
});

Deno.test("an uncaught bug still ends the process, after a log line", async () => {
  const run = await runChild("bug");
  assert.notEqual(run.code, 0);
  assert.ok(run.lines.some((l) => l.msg === "uncaught error; the process ends"), run.stderr);
  assert.ok(!run.lines.some((l) => l.msg === "still serving"));
  assert.match(run.stderr, /reading 'power'/);
});

Deno.test("only socket and connection errors count as driver socket errors", () => {
  const coded = (code: string) => Object.assign(new Error("x"), { code });
  assert.equal(isDriverSocketError(coded("ECONNRESET")), true);
  assert.equal(isDriverSocketError(coded("EPIPE")), true);
  assert.equal(isDriverSocketError(coded("CONNECTION_CLOSED")), true);
  assert.equal(isDriverSocketError(coded("23505")), false);
  assert.equal(
    isDriverSocketError(new TypeError("Cannot read properties of null (reading 'write')")),
    false,
  );
  assert.equal(isDriverSocketError(new RangeError("Invalid array length")), false);
  // The unpatched postgres.js nextWrite crash, as Deno reports it from the npm cache.
  const nextWrite = new TypeError("Cannot read properties of null (reading 'write')");
  nextWrite.stack = `TypeError: ${nextWrite.message}\n    at nextWrite (file:///root/.cache/deno/` +
    `npm/registry.npmjs.org/postgres/3.4.9/src/connection.js:255:22)`;
  assert.equal(isDriverSocketError(nextWrite), true);
  assert.equal(isDriverSocketError("ECONNRESET"), false);
});

Deno.test("Postgres cut at random moments of 4-hour archives: the process lives, nothing is lost", async () => {
  const stats = await archiveUnderCuts({
    databaseUrl: Deno.env.get("DATABASE_URL")!,
    redisRestUrl: Deno.env.get("UPSTASH_REDIS_REST_URL")!,
    redisRestToken: Deno.env.get("UPSTASH_REDIS_REST_TOKEN")!,
    rounds: 4,
    samples: 14_400,
    seed: 3,
  });
  assert.equal(stats.stops, 4);
  assert.deepEqual(stats.crashMessages, []);
  assert.equal(stats.crashes, 0);
  assert.equal(stats.samplesAccepted, 4 * 14_400);
  assert.equal(stats.samplesArchived, stats.samplesAccepted);
  assert.equal(stats.lostRides, 0);
});
