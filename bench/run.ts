/**
 * `deno task bench`: runs every benchmark, one after the other, against the project's own local
 * services (started here as the benches need them: `scripts/services.sh up dev` and `up test`), gathers the figures each
 * hands over through bench/report.ts, and writes them as one dated table, with the commit id and
 * each figure beside the floor measured in the same run, into docs/benchmarks.md (between the
 * `bench-table` markers; a copy goes to .services/bench/table.md). Each bench's whole output is
 * kept in .services/bench/<name>.log.
 *
 *   deno task bench [--quick] [--only streams,workouts] [--no-write] [--page docs/benchmarks.md]
 *
 * `--quick` gives every bench its short settings (a check of the benches, not figures to keep);
 * `--only` runs the named benches; `--no-write` prints the table without writing it; `--page`
 * writes it into another page (with the same markers).
 * @module
 */
import { type Figure, reportPrefix } from "./report.ts";

/** One bench: its file, its permissions and its arguments for a full and a quick run. */
type Bench = {
  name: string;
  permissions: string[];
  args: string[];
  quickArgs: string[];
  env?: Record<string, string>;
  /** The local services' profiles it needs (scripts/services.sh). */
  services: ("dev" | "test")[];
};

const net = ["--allow-net", "--allow-env", "--allow-read"];
const dev = {
  DATABASE_URL: "postgres://postgres@127.0.0.1:55432/bpt",
  UPSTASH_REDIS_REST_URL: "http://127.0.0.1:58079",
  UPSTASH_REDIS_REST_TOKEN: "bpt-local-token",
};

const benches: Bench[] = [
  {
    name: "middleware",
    permissions: [],
    args: [],
    quickArgs: ["--rounds", "2", "--requests", "5000"],
    services: [],
  },
  { name: "analytics", permissions: ["--allow-read"], args: [], quickArgs: ["10"], services: [] },
  {
    name: "redis_rest_bridge",
    permissions: [...net, "--allow-run", "--allow-sys"],
    args: [],
    quickArgs: ["1000"],
    services: [],
  },
  {
    name: "workouts",
    permissions: net,
    args: [],
    quickArgs: ["--rides", "100"],
    env: dev,
    services: ["dev"],
  },
  {
    name: "streams",
    permissions: [...net, "--allow-run", "--allow-sys"],
    args: [],
    quickArgs: ["--quick"],
    env: dev,
    services: ["dev"],
  },
  {
    name: "import",
    permissions: [...net, "--allow-sys"],
    args: [],
    quickArgs: ["--runs", "2"],
    services: ["test"],
  },
  {
    name: "bulk_import",
    permissions: [...net, "--allow-write", "--allow-sys"],
    args: [],
    quickArgs: ["--rides", "20"],
    services: ["test"],
  },
  {
    name: "analytics_history",
    permissions: [...net, "--allow-sys"],
    args: [],
    quickArgs: ["--years", "1", "--runs", "30"],
    env: dev,
    services: ["dev"],
  },
  {
    name: "pages",
    // All: playwright-core reads /proc/sys/fs/binfmt_misc, which Deno grants only with every one.
    permissions: ["--allow-all"],
    args: [],
    quickArgs: ["--rides", "100", "--runs", "2"],
    services: ["test"],
  },
  {
    name: "aggregate_refresh",
    permissions: [...net, "--allow-sys"],
    args: ["--rounds", "3"],
    quickArgs: ["--rounds", "1"],
    services: ["test"],
  },
  {
    name: "scale_out",
    permissions: ["--allow-all"],
    args: [],
    quickArgs: ["--viewers", "100", "--senders", "10", "--seconds", "4"],
    services: ["test"],
  },
  // Postgres cut under archives: a fault drill, its figures are samples lost (0) and answer times.
  {
    name: "pg_cuts",
    permissions: ["--allow-all"],
    args: ["20"],
    quickArgs: ["3", "3600"],
    services: ["test"],
  },
  {
    name: "rate_limit",
    permissions: net,
    args: [],
    quickArgs: ["--requests", "3000"],
    env: dev,
    services: ["dev"],
  },
  // Bytes per sample on each edition, backup/restore seconds per GB; a database of its own.
  {
    name: "storage",
    permissions: [...net, "--allow-write", "--allow-run", "--allow-sys"],
    args: [],
    quickArgs: ["--rides", "10", "--licensed-rides", "7"],
    services: ["test"],
  },
  // The real process twice (hashing inline and on the worker pool), the shipped password cost.
  {
    name: "login_health",
    permissions: [...net, "--allow-run"],
    args: [],
    quickArgs: ["--rounds", "1", "--seconds", "2"],
    services: ["test"],
  },
  {
    name: "revocation",
    permissions: ["--allow-net", "--allow-env"],
    args: [],
    quickArgs: ["5"],
    env: dev,
    services: ["dev"],
  },
];

const args = Deno.args;
const quick = args.includes("--quick");
const write = !args.includes("--no-write");
const pageAt = args.indexOf("--page");
const onlyAt = args.indexOf("--only");
const only = onlyAt >= 0 ? new Set(args[onlyAt + 1].split(",")) : null;
if (only) {
  const unknown = [...only].filter((n) => !benches.some((b) => b.name === n));
  if (unknown.length > 0) {
    console.error(
      `Unknown bench: ${unknown.join(", ")} (known: ${benches.map((b) => b.name).join(", ")})`,
    );
    Deno.exit(2);
  }
}

const root = new URL("..", import.meta.url).pathname;

async function run(command: string, commandArgs: string[]): Promise<string> {
  const out = await new Deno.Command(command, { args: commandArgs, cwd: root, stderr: "inherit" })
    .output();
  if (!out.success) throw new Error(`${command} ${commandArgs.join(" ")} failed`);
  return new TextDecoder().decode(out.stdout).trim();
}

function loadAverage(): string {
  return Deno.loadavg().map((v) => v.toFixed(2)).join(" ");
}

/** Runs one bench, echoing its output to a log and collecting its figures. */
async function runBench(
  bench: Bench,
  logDir: string,
): Promise<{ figures: Figure[]; ok: boolean; seconds: number }> {
  const started = performance.now();
  const log = await Deno.open(`${logDir}/${bench.name}.log`, {
    write: true,
    create: true,
    truncate: true,
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...bench.permissions,
      // record() reads this one variable; without it a bench reports nothing.
      ...(bench.permissions.some((p) => p === "--allow-env" || p === "--allow-all")
        ? []
        : ["--allow-env=BPT_BENCH_REPORT"]),
      `bench/${bench.name}_bench.ts`,
      ...(quick ? bench.quickArgs : bench.args),
    ],
    cwd: root,
    env: { ...bench.env, BPT_BENCH_REPORT: "1", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const figures: Figure[] = [];
  const encoder = new TextEncoder();
  const lines = async (stream: ReadableStream<Uint8Array>, collect: boolean) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        if (collect && line.startsWith(reportPrefix)) {
          figures.push(JSON.parse(line.slice(reportPrefix.length)));
        } else await log.write(encoder.encode(line + "\n"));
      }
    }
    if (rest) await log.write(encoder.encode(rest + "\n"));
  };
  const [status] = await Promise.all([
    child.status,
    lines(child.stdout, true),
    lines(child.stderr, false),
  ]);
  log.close();
  return { figures, ok: status.success, seconds: (performance.now() - started) / 1000 };
}

function formatValue(value: number, unit: string): string {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${
    value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
  } ${unit}`;
}

/** The ratio to the floor, read so that 1.0 is the floor and higher is always further from it. */
function ratio(figure: Figure): string {
  if (!figure.floor || figure.floor.value === 0) return "";
  const r = figure.better === "higher"
    ? figure.floor.value / figure.value
    : figure.value / figure.floor.value;
  return `${r.toFixed(2)}×`;
}

function table(figures: Figure[]): string {
  const rows = figures.map((f) => [
    f.bench,
    f.cell,
    formatValue(f.value, f.unit),
    f.floor ? `${f.floor.name}: ${formatValue(f.floor.value, f.unit)}` : "",
    ratio(f),
    f.target ?? "",
    f.met === undefined ? "" : f.met ? "met" : "**not met**",
  ]);
  const head = ["bench", "figure", "value", "floor (same run)", "cost vs floor", "target", ""];
  return [head, head.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

const selected = benches.filter((b) => !only || only.has(b.name));
for (const profile of ["dev", "test"] as const) {
  if (!selected.some((b) => b.services.includes(profile))) continue;
  console.log(`starting the local services (${profile})`);
  await run("bash", ["scripts/services.sh", "up", profile]);
}
// Tools some benches drive their load with, from Debian (like the services' own packages).
const tools: [bench: string, command: string, aptPackage: string][] = [
  ["streams", "wrk", "wrk"],
  ["scale_out", "nginx", "nginx-light"],
];
for (const [bench, command, aptPackage] of tools) {
  if (!selected.some((b) => b.name === bench)) continue;
  const has = await new Deno.Command("sh", {
    args: ["-c", `command -v ${command}`],
    stdout: "null",
  })
    .output();
  if (has.success) continue;
  console.log(`installing ${aptPackage} (apt-get) for ${bench}_bench.ts`);
  await run("sh", [
    "-c",
    `DEBIAN_FRONTEND=noninteractive apt-get install -y -q ${aptPackage} >/dev/null`,
  ]);
}

const commit = await run("git", ["rev-parse", "--short", "HEAD"]);
const dirty = (await run("git", ["status", "--porcelain", "--untracked-files=no"])) !== "";
const date = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
const loadBefore = loadAverage();
const logDir = `${root}.services/bench`;
await Deno.mkdir(logDir, { recursive: true });

const figures: Figure[] = [];
const failed: string[] = [];
const began = performance.now();
for (const bench of selected) {
  console.log(
    `running ${bench.name}_bench.ts${
      quick ? " (quick)" : ""
    } … (log: .services/bench/${bench.name}.log)`,
  );
  const result = await runBench(bench, logDir);
  figures.push(...result.figures);
  console.log(
    `  ${result.ok ? "done" : "FAILED"} in ${
      result.seconds.toFixed(0)
    } s, ${result.figures.length} figures`,
  );
  if (!result.ok) failed.push(bench.name);
}
const minutes = (performance.now() - began) / 60_000;

const heading =
  `Run of ${date}, commit \`${commit}\`${dirty ? " (with uncommitted changes)" : ""}` +
  `${
    quick ? ", --quick (settings too short to keep)" : ""
  }; ${navigator.hardwareConcurrency} cores, ` +
  `load average ${loadBefore} before and ${loadAverage()} after; ${minutes.toFixed(1)} min.` +
  (failed.length > 0 ? ` **Failed: ${failed.join(", ")}** (see .services/bench/).` : "");
const markdown = `${heading}\n\n${table(figures)}\n`;
console.log(`\n${markdown}`);
await Deno.writeTextFile(`${logDir}/table.md`, markdown);

if (write) {
  const page = pageAt >= 0 ? args[pageAt + 1] : `${root}docs/benchmarks.md`;
  const text = await Deno.readTextFile(page);
  const start = "<!-- bench-table:start -->";
  const end = "<!-- bench-table:end -->";
  const at = text.indexOf(start);
  const until = text.indexOf(end);
  if (at < 0 || until < at) throw new Error(`${page} has no ${start} … ${end} section`);
  let section = markdown;
  if (only) {
    // A partial run replaces its own benches' rows and keeps the others', under their heading.
    const previous = text.slice(at + start.length, until).trim().split("\n");
    const kept = previous.filter((line) => {
      const bench = /^\| ([a-z_]+) \|/.exec(line)?.[1];
      return bench !== undefined && bench !== "bench" && !only.has(bench);
    });
    const headings = previous.filter((line) => /^(Run of|Rows of)/.test(line));
    if (kept.length > 0) {
      const before = headings.map((h) => h.replace(/^Rows of [^:]*: /, "")).join(" ");
      section = `${heading} Benches: ${[...only].join(", ")}.\n\n` +
        `Rows of the other benches: ${before}\n\n${table([...figures])}\n${kept.join("\n")}\n`;
    }
  }
  await Deno.writeTextFile(
    page,
    text.slice(0, at + start.length) + `\n\n${section}\n` + text.slice(until),
  );
  console.log(`written to ${page}`);
}
if (failed.length > 0) Deno.exit(1);
