// `deno task bench` (bench/run.ts) on the two benches that need no services: it runs them, and the
// table it writes holds their figures beside the floors they measured, between the page's markers.
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url).pathname;

async function runner(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      "bench/run.ts",
      ...args,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("deno task bench writes each figure beside its floor into the page's table", async () => {
  const page = await Deno.makeTempFile({ suffix: ".md" });
  const before = "# Benchmarks\n\nkept above\n\n<!-- bench-table:start -->\n\nold table\n\n" +
    "<!-- bench-table:end -->\n\nkept below\n";
  await Deno.writeTextFile(page, before);
  try {
    const run = await runner("--quick", "--only", "middleware,analytics", "--page", page);
    assert.equal(run.code, 0, run.stderr);
    const written = await Deno.readTextFile(page);
    assert.ok(written.startsWith("# Benchmarks\n\nkept above\n\n<!-- bench-table:start -->"));
    assert.ok(written.endsWith("<!-- bench-table:end -->\n\nkept below\n"));
    assert.ok(!written.includes("old table"));
    const commit = new TextDecoder().decode(
      (await new Deno.Command("git", { args: ["rev-parse", "--short", "HEAD"], cwd: root })
        .output())
        .stdout,
    ).trim();
    assert.match(
      written,
      new RegExp(`Run of \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC, commit \`${commit}\``),
    );
    // Four middleware forks, each against Hono's own, the request metric against the app
    // without it, and the two synthetic rides' summaries.
    const middleware = written.split("\n").filter((line) => line.startsWith("| middleware |"));
    const rows = middleware.filter((line) => line.includes(" fork, "));
    assert.equal(rows.length, 4);
    const metric = middleware.filter((line) => line.includes("| request metric "));
    assert.equal(metric.length, 1);
    assert.match(metric[0].split(" | ")[3], /^the same app without it: \d[\d,]*(\.\d+)? µs$/);
    assert.equal(middleware.length, 5);
    for (const row of rows) {
      const cells = row.split(" | ");
      assert.match(cells[2], /^\d[\d,]*(\.\d+)? µs$/);
      assert.match(cells[3], /^Hono's own: \d[\d,]*(\.\d+)? µs$/);
      assert.match(cells[4], /^\d+\.\d\d×$/);
    }
    assert.equal(written.split("\n").filter((l) => l.startsWith("| analytics |")).length, 2);
  } finally {
    await Deno.remove(page);
  }
});

Deno.test("deno task bench refuses an unknown bench name and names the known ones", async () => {
  const run = await runner("--only", "nope", "--no-write");
  assert.equal(run.code, 2);
  assert.match(run.stderr, /Unknown bench: nope \(known: middleware, analytics, /);
});

Deno.test("a partial run (--only) replaces its benches' rows and keeps the others' with their run", async () => {
  const page = await Deno.makeTempFile({ suffix: ".md" });
  const old = "Run of 2026-01-01 00:00 UTC, commit `abc1234`; 2 cores.";
  await Deno.writeTextFile(
    page,
    `<!-- bench-table:start -->\n\n${old}\n\n| bench | figure | value | floor (same run) | ` +
      "cost vs floor | target |  |\n| --- | --- | --- | --- | --- | --- | --- |\n" +
      "| middleware | old row | 1 µs |  |  |  |  |\n| workouts | kept row | 2 ms |  |  |  |  |\n\n" +
      "<!-- bench-table:end -->\n",
  );
  try {
    const run = await runner("--quick", "--only", "middleware", "--page", page);
    assert.equal(run.code, 0, run.stderr);
    const written = await Deno.readTextFile(page);
    assert.ok(!written.includes("old row"));
    assert.ok(written.includes("| workouts | kept row | 2 ms |"));
    assert.ok(written.includes(`Rows of the other benches: ${old}`));
    assert.match(written, /Benches: middleware\./);
    assert.equal(written.split("\n").filter((l) => l.startsWith("| middleware |")).length, 5);
  } finally {
    await Deno.remove(page);
  }
});
