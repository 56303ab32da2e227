/**
 * What `scripts/backup.ts` and `scripts/restore.ts` share: finding a `pg_dump`/`pg_restore` whose
 * major version fits the server, running it, and reading what a database holds.
 *
 * Where the tools come from, in this order:
 * 1. `--docker SERVICE`: inside that docker compose service (the Docker services), through a file
 *    in the container's /tmp copied with `docker compose cp`;
 * 2. `PG_BIN`: a folder holding pg_dump and pg_restore;
 * 3. `pg_dump`/`pg_restore` on PATH, when their major version is at least the server's;
 * 4. the Debian trixie root folder of the local services (scripts/build_root.sh), run through that
 *    root's own dynamic loader and libraries, so neither chroot nor root is needed.
 * @module
 */
import postgres from "postgres";

/** A failure the scripts report as one sentence, without a stack trace. */
export class ScriptError extends Error {
  override name = "ScriptError";
}

/** One PostgreSQL client tool, ready to run. */
export type PgTool = {
  /** Where it came from, for the log. */
  describe: string;
  major: number;
  /** Runs it with `args`; connection settings come from `conn`. */
  run: (args: string[], conn: Connection) => Promise<{ code: number; stderr: string }>;
  /** In Docker mode the archive lives in the container: copy it in/out around `run`. */
  docker?: { service: string; repo: string };
};

/** Connection settings parsed from a postgres:// URL. */
export type Connection = {
  host: string;
  port: string;
  user: string;
  password: string;
  database: string;
  /** libpq URL without the password (that goes in PGPASSWORD, out of `ps`). */
  urlWithoutPassword: string;
};

/** Parses a postgres:// URL. */
export function parseUrl(url: string): Connection {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ScriptError(`DATABASE_URL is not a valid URL`);
  }
  if (!/^postgres(ql)?:$/.test(parsed.protocol)) {
    throw new ScriptError(`DATABASE_URL must start with postgres://`);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ""));
  if (!database) throw new ScriptError("DATABASE_URL names no database");
  const password = decodeURIComponent(parsed.password);
  const bare = new URL(parsed.href);
  bare.password = "";
  return {
    host: parsed.hostname || "127.0.0.1",
    port: parsed.port || "5432",
    user: decodeURIComponent(parsed.username) || "postgres",
    password,
    database,
    urlWithoutPassword: bare.href,
  };
}

/** The same server's URL with another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = "/" + encodeURIComponent(database);
  return parsed.href;
}

/** A short-lived client for the scripts' own queries (no camelCase transform). */
export function connect(url: string): postgres.Sql {
  return postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {}, idle_timeout: 5 });
}

/** Runs a query, turning "cannot connect" into one clear sentence. */
export async function reach<T>(url: string, what: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = connect(url);
  try {
    return await what(sql);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const c = parseUrl(url);
    if (code === "ECONNREFUSED" || code === "CONNECT_TIMEOUT" || code === "ENOTFOUND") {
      throw new ScriptError(
        `Cannot reach PostgreSQL at ${c.host}:${c.port} (${code}); is the server running?`,
      );
    }
    if (code === "3D000") throw new ScriptError(`Database ${c.database} does not exist`);
    throw err;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** What a database is: versions, edition, schema version and row counts. */
export type DatabaseInfo = {
  database: string;
  serverVersion: string;
  serverMajor: number;
  timescaledb: string | null;
  license: string | null;
  schemaVersion: number | null;
  counts: Record<string, number>;
};

/** Tables whose row counts a backup records and a restore checks. */
export const countedTables = ["users", "workouts", "telemetry", "workout_efforts"] as const;

/** Reads versions, TimescaleDB edition, the latest migration and the row counts. */
export async function databaseInfo(sql: postgres.Sql): Promise<DatabaseInfo> {
  const [row] = await sql`
    select current_database() as database, current_setting('server_version') as version,
      current_setting('server_version_num')::int as num,
      (select extversion from pg_extension where extname = 'timescaledb') as timescaledb,
      current_setting('timescaledb.license', true) as license,
      to_regclass('schema_migrations') is not null as migrated
  `;
  let schemaVersion: number | null = null;
  if (row.migrated) {
    const [m] = await sql`select max(version)::int as v from schema_migrations`;
    schemaVersion = m.v;
  }
  const counts: Record<string, number> = {};
  for (const table of countedTables) {
    const [exists] = await sql`select to_regclass(${table}) is not null as ok`;
    if (!exists.ok) continue;
    const [c] = await sql.unsafe(`select count(*)::bigint as n from ${table}`);
    counts[table] = Number(c.n);
  }
  return {
    database: row.database,
    serverVersion: row.version,
    serverMajor: Math.floor(row.num / 10000),
    timescaledb: row.timescaledb,
    license: row.timescaledb ? row.license : null,
    schemaVersion,
    counts,
  };
}

/** "PostgreSQL 17.6, TimescaleDB 2.19.3 (apache), schema 0013". */
export function describeInfo(info: DatabaseInfo): string {
  const parts = [`PostgreSQL ${info.serverVersion.split(" ")[0]}`];
  parts.push(
    info.timescaledb ? `TimescaleDB ${info.timescaledb} (${info.license})` : "no TimescaleDB",
  );
  if (info.schemaVersion !== null) {
    parts.push(`schema ${String(info.schemaVersion).padStart(4, "0")}`);
  }
  return parts.join(", ");
}

/** "users 3, workouts 5, telemetry 36,000". */
export function describeCounts(counts: Record<string, number>): string {
  return Object.entries(counts).map(([t, n]) => `${t} ${n.toLocaleString("en-US")}`).join(", ");
}

/** 12.3 MB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

async function output(cmd: string, args: string[], env?: Record<string, string>) {
  try {
    const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
      .output();
    return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
  } catch {
    return undefined; // not installed
  }
}

function majorOf(versionText: string): number | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(versionText);
  return match ? Number(match[1]) : undefined;
}

function connEnv(conn: Connection): Record<string, string> {
  return conn.password ? { PGPASSWORD: conn.password } : {};
}

async function runCapturing(
  cmd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stderr: string }> {
  const child = new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  })
    .spawn();
  const out = await child.output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** The trixie root of the local services (scripts/services.sh). */
export function localRoot(): string {
  const cache = Deno.env.get("BPT_CACHE_DIR") ?? "/var/cache/bike-power-tracker";
  return `${cache}/trixie-root`;
}

/**
 * Finds `name` (pg_dump or pg_restore) with a major version of at least `major`; throws a
 * ScriptError that says what was found and how to fix it.
 */
export async function findPgTool(
  name: "pg_dump" | "pg_restore",
  major: number,
  options: { docker?: string; repo: string },
): Promise<PgTool> {
  if (options.docker) {
    const service = options.docker;
    const version = await output("docker", [
      "compose",
      "exec",
      "-T",
      service,
      name,
      "--version",
    ]);
    const found = version && version.code === 0 ? majorOf(version.stdout) : undefined;
    if (found === undefined) {
      throw new ScriptError(`Cannot run ${name} in the docker compose service ${service}`);
    }
    return {
      describe: `${name} ${found} in docker compose service ${service}`,
      major: found,
      docker: { service, repo: options.repo },
      run: (args, conn) =>
        runCapturing("docker", [
          "compose",
          "exec",
          "-T",
          ...Object.entries(connEnv(conn)).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
          service,
          name,
          "-U",
          conn.user,
          ...args,
        ], {}),
    };
  }
  const seen: string[] = [];
  const candidates: string[] = [];
  const pgBin = Deno.env.get("PG_BIN");
  if (pgBin) candidates.push(`${pgBin}/${name}`);
  candidates.push(name);
  for (const cmd of candidates) {
    const version = await output(cmd, ["--version"]);
    const found = version?.code === 0 ? majorOf(version.stdout) : undefined;
    if (found === undefined) continue;
    seen.push(`${cmd} is version ${found}`);
    if (found >= major) {
      return {
        describe: `${cmd} ${found}`,
        major: found,
        run: (args, conn) => runCapturing(cmd, args, connEnv(conn)),
      };
    }
  }
  const root = localRoot();
  const binary = `${root}/usr/lib/postgresql/${major}/bin/${name}`;
  const loader = `${root}/lib64/ld-linux-x86-64.so.2`;
  const libraries = `${root}/usr/lib/x86_64-linux-gnu:${root}/lib/x86_64-linux-gnu`;
  const loaderArgs = ["--library-path", libraries, binary];
  const version = await output(loader, [...loaderArgs, "--version"]);
  const found = version?.code === 0 ? majorOf(version.stdout) : undefined;
  if (found !== undefined && found >= major) {
    return {
      describe: `${name} ${found} from the local services' root ${root}`,
      major: found,
      run: (args, conn) => runCapturing(loader, [...loaderArgs, ...args], connEnv(conn)),
    };
  }
  throw new ScriptError(
    `No ${name} of version ${major} or later found (${seen.join("; ") || "none on PATH"}); ` +
      `a PostgreSQL ${major} server needs one: install postgresql-client-${major}, set PG_BIN ` +
      `to its bin folder, or pass --docker SERVICE when the database runs in docker compose`,
  );
}

/** Copies a file into or out of a docker compose service. */
export async function dockerCopy(repo: string, from: string, to: string): Promise<void> {
  const out = await new Deno.Command("docker", {
    args: ["compose", "cp", from, to],
    cwd: repo,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new ScriptError(
      `docker compose cp ${from} ${to} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

/**
 * pg_dump's warnings that TimescaleDB's documentation calls expected: its catalog tables
 * (hypertable, chunk, continuous_agg) reference each other, so pg_dump warns about circular
 * foreign keys, each warning followed by a detail line naming the table and a hint.
 */
const circularWarning = /warning: there are circular foreign-key constraints/;
const followUp = /^pg_dump: (detail|hint): /;

/** Prints a tool's stderr without the documented TimescaleDB warnings; returns how many it left out. */
export function printToolStderr(stderr: string, log: (line: string) => void): number {
  let hidden = 0;
  let inWarning = false;
  for (const line of stderr.split("\n")) {
    if (circularWarning.test(line)) {
      hidden++;
      inWarning = true;
    } else if (inWarning && followUp.test(line)) {
      // part of the warning above
    } else if (line.trim()) {
      inWarning = false;
      log(line);
    }
  }
  return hidden;
}

/** Prints how much of `path` is written, every `everyMs`, until the returned function is called. */
export function watchSize(path: string, label: string, everyMs = 5000): () => void {
  const started = performance.now();
  const timer = setInterval(async () => {
    const size = await Deno.stat(path).then((s) => s.size).catch(() => 0);
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    console.log(`  … ${label} ${formatBytes(size)} after ${seconds} s`);
  }, everyMs);
  return () => clearInterval(timer);
}

/** Parses `--flag value`, `--flag=value` and boolean `--flag` options. */
export function parseArgs(
  args: string[],
  spec: { strings: string[]; booleans: string[] },
): { options: Record<string, string | boolean>; positional: string[] } {
  const options: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const [key, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (spec.booleans.includes(key)) options[key] = true;
    else if (spec.strings.includes(key)) {
      const value = inline ?? args[++i];
      if (value === undefined) throw new ScriptError(`--${key} needs a value`);
      options[key] = value;
    } else throw new ScriptError(`Unknown option --${key}`);
  }
  return { options, positional };
}
