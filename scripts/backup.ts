/**
 * Backs up the database to one pg_dump custom-format archive: `deno task backup [--out FILE]`.
 *
 * Writes FILE (default `backups/<database>-<UTC time>.dump`) and beside it FILE.json: the
 * PostgreSQL and TimescaleDB versions, edition, schema version and row counts, which
 * `deno task restore` checks. The database comes from `--database-url` or DATABASE_URL (default:
 * the dev services). See docs/operations.md#backup-and-restore.
 *
 * Options: --out FILE, --database-url URL, --docker SERVICE (run pg_dump in that docker compose
 * service, for the Docker services).
 */
import {
  type DatabaseInfo,
  databaseInfo,
  describeCounts,
  describeInfo,
  dockerCopy,
  findPgTool,
  formatBytes,
  parseArgs,
  parseUrl,
  printToolStderr,
  reach,
  ScriptError,
  watchSize,
} from "./pg_tools.ts";

const repo = new URL("..", import.meta.url).pathname;
const defaultUrl = "postgres://postgres@127.0.0.1:55432/bpt";

/** The manifest written beside an archive: the archive, then what the database was. */
export type BackupManifest = {
  format: "pg_dump custom";
  file: string;
  createdAt: string;
  bytes: number;
  durationMs: number;
  pgDump: string;
} & DatabaseInfo;

async function main(args: string[]): Promise<void> {
  const { options } = parseArgs(args, {
    strings: ["out", "database-url", "docker"],
    booleans: [],
  });
  const url = (options["database-url"] as string | undefined) ?? Deno.env.get("DATABASE_URL") ??
    defaultUrl;
  const conn = parseUrl(url);
  const started = performance.now();
  console.log(`Backing up ${conn.database} on ${conn.host}:${conn.port}`);
  const info = await reach(url, databaseInfo);
  console.log(`  ${describeInfo(info)}; rows: ${describeCounts(info.counts)}`);
  if (!info.timescaledb) {
    console.log("  (no timescaledb extension: a plain PostgreSQL dump)");
  }

  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const out = (options.out as string | undefined) ?? `backups/${conn.database}-${stamp}.dump`;
  const dir = out.includes("/") ? out.slice(0, out.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  // Written under another name first, so a failed backup never looks like a finished one.
  const partial = `${out}.partial`;

  const tool = await findPgTool("pg_dump", info.serverMajor, {
    docker: options.docker as string | undefined,
    repo,
  });
  console.log(`  using ${tool.describe}`);
  const target = tool.docker ? `/tmp/bpt-backup-${crypto.randomUUID()}.dump` : partial;
  const dumpArgs = tool.docker
    ? ["--format=custom", `--file=${target}`, `--dbname=${conn.database}`]
    : ["--format=custom", `--file=${target}`, `--dbname=${conn.urlWithoutPassword}`];
  const stop = tool.docker ? () => {} : watchSize(partial, "written");
  let result;
  try {
    result = await tool.run(dumpArgs, conn);
  } finally {
    stop();
  }
  const hidden = printToolStderr(result.stderr, (line) => console.error(`  ${line}`));
  if (hidden > 0) {
    console.log(
      `  (${hidden} expected pg_dump warnings about TimescaleDB's catalog tables left out)`,
    );
  }
  if (result.code !== 0) {
    await Deno.remove(partial).catch(() => {});
    throw new ScriptError(`pg_dump failed (exit code ${result.code}); nothing was written`);
  }
  if (tool.docker) {
    await dockerCopy(repo, `${tool.docker.service}:${target}`, partial);
    await new Deno.Command("docker", {
      args: ["compose", "exec", "-T", tool.docker.service, "rm", "-f", target],
      cwd: repo,
    }).output();
  }
  await Deno.rename(partial, out);
  const bytes = (await Deno.stat(out)).size;
  const durationMs = Math.round(performance.now() - started);
  const manifest: BackupManifest = {
    format: "pg_dump custom",
    file: out.slice(out.lastIndexOf("/") + 1),
    createdAt: new Date().toISOString(),
    bytes,
    durationMs,
    pgDump: tool.describe,
    ...info,
  };
  await Deno.writeTextFile(`${out}.json`, JSON.stringify(manifest, null, 2) + "\n");
  console.log(
    `Wrote ${out} (${formatBytes(bytes)}) and ${out}.json in ${(durationMs / 1000).toFixed(1)} s`,
  );
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (err) {
    console.error(`backup: error: ${err instanceof Error ? err.message : err}`);
    if (!(err instanceof ScriptError) && err instanceof Error && err.stack) {
      console.error(err.stack);
    }
    Deno.exit(1);
  }
}
