/**
 * Restores a `deno task backup` archive into a database: `deno task restore FILE [--force]`.
 *
 * The target is `--database-url` or DATABASE_URL (default: the dev services). It follows
 * TimescaleDB's documented procedure: create the database and the timescaledb extension at the
 * backup's version, `timescaledb_pre_restore()`, `pg_restore` (one job: parallel restores can
 * break TimescaleDB's catalog), `timescaledb_post_restore()`, then ANALYZE and a check of the row
 * counts against FILE.json. See docs/operations.md#backup-and-restore.
 *
 * Refuses a target database that already holds tables unless `--force`, which drops and
 * recreates it. Options: --database-url URL, --force, --admin-db NAME (a database on the same
 * server to create the target from; default postgres), --no-owner (objects owned by the
 * connecting user instead of the backup's owners), --docker SERVICE (run pg_restore in that docker
 * compose service).
 */
import type { BackupManifest } from "./backup.ts";
import {
  connect,
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
  withDatabase,
} from "./pg_tools.ts";

const repo = new URL("..", import.meta.url).pathname;
const defaultUrl = "postgres://postgres@127.0.0.1:55432/bpt";

/** Tables of a database that belong to no extension (TimescaleDB's own catalog does not count). */
async function userTables(url: string): Promise<string[]> {
  return await reach(url, async (sql) => {
    const rows = await sql`
      select n.nspname || '.' || c.relname as name
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p', 'v', 'm')
        and n.nspname not in ('pg_catalog', 'information_schema', 'timescaledb_information',
          'timescaledb_experimental')
        and n.nspname not like 'pg\_%' and n.nspname not like '\_timescaledb%'
        and not exists (
          select 1 from pg_depend d
          where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e'
        )
      order by 1
      limit 6
    `;
    return rows.map((r) => r.name as string);
  });
}

async function main(args: string[]): Promise<void> {
  const { options, positional } = parseArgs(args, {
    strings: ["database-url", "admin-db", "docker"],
    booleans: ["force", "no-owner"],
  });
  const file = positional[0];
  if (!file || positional.length > 1) {
    throw new ScriptError("Usage: deno task restore FILE [--force] [--database-url URL]");
  }
  const started = performance.now();
  const stat = await Deno.stat(file).catch(() => undefined);
  if (!stat?.isFile) throw new ScriptError(`No backup file ${file}`);
  const manifest = await Deno.readTextFile(`${file}.json`)
    .then((text) => JSON.parse(text) as BackupManifest)
    .catch(() => undefined);
  if (!manifest) {
    console.log(`  no ${file}.json beside the archive: versions and row counts are not checked`);
  }

  const url = (options["database-url"] as string | undefined) ?? Deno.env.get("DATABASE_URL") ??
    defaultUrl;
  const conn = parseUrl(url);
  const adminUrl = withDatabase(url, (options["admin-db"] as string | undefined) ?? "postgres");
  console.log(
    `Restoring ${file} (${formatBytes(stat.size)}` +
      (manifest ? `, ${manifest.database} of ${manifest.createdAt}` : "") +
      `) into ${conn.database} on ${conn.host}:${conn.port}`,
  );

  // The server: reachable, no older than the backup's, with the backup's TimescaleDB version.
  const server = await reach(adminUrl, async (sql) => {
    const [row] = await sql`
      select current_setting('server_version_num')::int / 10000 as major,
        current_setting('server_version') as version,
        (select array_agg(version::text order by version) from pg_available_extension_versions
          where name = 'timescaledb') as timescaledb,
        exists (select 1 from pg_database where datname = ${conn.database}) as exists
    `;
    return row as { major: number; version: string; timescaledb: string[] | null; exists: boolean };
  });
  if (manifest && server.major < manifest.serverMajor) {
    throw new ScriptError(
      `The backup is from PostgreSQL ${manifest.serverMajor}; this server is ${server.version}, ` +
        `older: restore into PostgreSQL ${manifest.serverMajor} or later`,
    );
  }
  const tsVersion = manifest?.timescaledb ?? null;
  const available = server.timescaledb ?? [];
  if (tsVersion && !available.includes(tsVersion)) {
    throw new ScriptError(
      `The backup is from TimescaleDB ${tsVersion}; this server offers ` +
        `${available.length ? available.join(", ") : "no TimescaleDB"}. Restore into a server ` +
        `with TimescaleDB ${tsVersion} installed, then ALTER EXTENSION timescaledb UPDATE`,
    );
  }

  const tool = await findPgTool("pg_restore", Math.max(server.major, manifest?.serverMajor ?? 0), {
    docker: options.docker as string | undefined,
    repo,
  });
  console.log(`  using ${tool.describe}`);
  let archive = file;
  if (tool.docker) {
    archive = `/tmp/bpt-restore-${crypto.randomUUID()}.dump`;
    await dockerCopy(repo, file, `${tool.docker.service}:${archive}`);
  } else {
    // Reads the table of contents: a damaged or non-custom-format file fails here, before the
    // target database is touched.
    const list = await tool.run(["--list", "--file=/dev/null", archive], conn);
    if (list.code !== 0) {
      throw new ScriptError(
        `${file} is not a pg_dump custom-format archive: ${list.stderr.trim()}`,
      );
    }
  }

  // The target: new, empty, or (with --force) dropped and recreated.
  if (server.exists) {
    const tables = await userTables(url);
    if (tables.length > 0) {
      const listed = tables.slice(0, 5).join(", ") + (tables.length > 5 ? ", …" : "");
      if (!options.force) {
        throw new ScriptError(
          `Database ${conn.database} is not empty (${listed}); restore into a new database, ` +
            `or pass --force to drop and recreate it`,
        );
      }
      console.log(`  --force: dropping database ${conn.database} (${listed})`);
      await reach(adminUrl, async (sql) => {
        await sql`drop database ${sql(conn.database)}`.catch((err) => {
          throw new ScriptError(
            `Cannot drop database ${conn.database}: ${(err as Error).message} ` +
              `(stop the service instances using it first)`,
          );
        });
        await sql`create database ${sql(conn.database)}`;
      });
    }
  } else {
    console.log(`  creating database ${conn.database}`);
    await reach(adminUrl, (sql) => sql`create database ${sql(conn.database)}`);
  }

  const target = connect(url);
  let restored;
  try {
    if (tsVersion) {
      const [ext] = await target`
        select extversion from pg_extension where extname = 'timescaledb'
      `;
      if (ext && ext.extversion !== tsVersion) {
        throw new ScriptError(
          `Database ${conn.database} has TimescaleDB ${ext.extversion}, the backup ${tsVersion}`,
        );
      }
      if (!ext) {
        await target`create extension timescaledb version ${target.unsafe(`'${tsVersion}'`)}`;
      }
      await target`select timescaledb_pre_restore()`;
      console.log(`  timescaledb_pre_restore() done (TimescaleDB ${tsVersion})`);
    }
    try {
      const restoreArgs = ["--exit-on-error", "--single-transaction"];
      if (options["no-owner"]) restoreArgs.push("--no-owner");
      restoreArgs.push(
        tool.docker ? `--dbname=${conn.database}` : `--dbname=${conn.urlWithoutPassword}`,
        archive,
      );
      console.log(`  pg_restore …`);
      restored = await tool.run(restoreArgs, conn);
    } finally {
      if (tsVersion) {
        await target`select timescaledb_post_restore()`;
        console.log(`  timescaledb_post_restore() done`);
      }
    }
  } finally {
    await target.end({ timeout: 2 });
    if (tool.docker) {
      await new Deno.Command("docker", {
        args: ["compose", "exec", "-T", tool.docker.service, "rm", "-f", archive],
        cwd: repo,
      }).output();
    }
  }
  printToolStderr(restored.stderr, (line) => console.error(`  ${line}`));
  if (restored.code !== 0) {
    throw new ScriptError(
      `pg_restore failed (exit code ${restored.code}); it ran in one transaction, so ` +
        `${conn.database} holds nothing of the backup`,
    );
  }

  // pg_restore carries no planner statistics: without them the first queries plan badly.
  await reach(url, (sql) => sql`analyze`);
  const info = await reach(url, databaseInfo);
  if (manifest) {
    const differ = Object.entries(manifest.counts).filter(([t, n]) => info.counts[t] !== n);
    if (differ.length > 0) {
      throw new ScriptError(
        `Row counts differ from the backup's: ` +
          differ.map(([t, n]) => `${t} ${info.counts[t]} (backup ${n})`).join(", "),
      );
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`  ${describeInfo(info)}; rows: ${describeCounts(info.counts)}`);
  console.log(
    `Restored ${file} into ${conn.database} in ${seconds} s` +
      (manifest ? "; row counts match the backup" : ""),
  );
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (err) {
    console.error(`restore: error: ${err instanceof Error ? err.message : err}`);
    if (!(err instanceof ScriptError) && err instanceof Error && err.stack) {
      console.error(err.stack);
    }
    Deno.exit(1);
  }
}
