import type { Sql } from "./client.ts";
import type { Logger } from "../core/log.ts";

/** A migration file found on disk. */
export type MigrationFile = {
  version: number;
  name: string;
  file: string;
  sql: string;
  checksum: string;
  transactional: boolean;
};

/** What a migration run did. */
export type MigrationResult = { applied: string[]; alreadyApplied: number };

/** Thrown when the migration files or the recorded history are inconsistent. */
export class MigrationError extends Error {
  override name = "MigrationError";
}

const fileName = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const noTransaction = /^\s*--\s*migrate:no-transaction\b/m;
/** Arbitrary, fixed key of the advisory lock that serialises migration runs. */
const lockKey = 7_340_121_017;

/** The folder of the project's migrations. */
export const defaultMigrationsDir = new URL("../../sql/", import.meta.url);

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads `NNNN_name.sql` files and checks that their numbers run 1, 2, 3… without gaps. */
export async function readMigrations(dir: string | URL): Promise<MigrationFile[]> {
  const files: MigrationFile[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    const match = fileName.exec(entry.name);
    if (!match) {
      throw new MigrationError(
        `Migration file ${entry.name} is not named NNNN_lowercase_name.sql`,
      );
    }
    const text = await Deno.readTextFile(new URL(entry.name, toDirUrl(dir)));
    files.push({
      version: Number(match[1]),
      name: match[2],
      file: entry.name,
      sql: text,
      checksum: await sha256(text),
      transactional: !noTransaction.test(text),
    });
  }
  files.sort((a, b) => a.version - b.version);
  files.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      const expected = String(index + 1).padStart(4, "0");
      throw new MigrationError(
        `Migration numbering has a gap or a duplicate: expected ${expected}_*.sql, found ${migration.file}`,
      );
    }
  });
  return files;
}

function toDirUrl(dir: string | URL): URL {
  if (dir instanceof URL) return dir.href.endsWith("/") ? dir : new URL(dir.href + "/");
  const absolute = dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`;
  return new URL(`file://${absolute.endsWith("/") ? absolute : absolute + "/"}`);
}

/**
 * Applies every pending migration, once, under a Postgres advisory lock.
 *
 * Refuses to run when an applied file was edited or removed, or when the numbering has a gap.
 */
export async function migrate(
  sql: Sql,
  options: { dir?: string | URL; log?: Logger } = {},
): Promise<MigrationResult> {
  const files = await readMigrations(options.dir ?? defaultMigrationsDir);
  const lock = await sql.reserve();
  try {
    await lock`select pg_advisory_lock(${lockKey})`;
    await sql`
      create table if not exists schema_migrations (
        version integer primary key,
        name text not null,
        checksum text not null,
        applied_at timestamptz not null default now()
      )
    `;
    const rows = await sql<{ version: number; name: string; checksum: string }[]>`
      select version, name, checksum from schema_migrations order by version
    `;
    const applied = new Map(rows.map((row) => [row.version, row]));
    for (const row of rows) {
      const file = files.find((f) => f.version === row.version);
      const label = `${String(row.version).padStart(4, "0")}_${row.name}.sql`;
      if (!file) {
        throw new MigrationError(
          `Migration ${label} was applied to this database but its file is missing`,
        );
      }
      if (file.checksum !== row.checksum) {
        throw new MigrationError(
          `Migration ${file.file} was edited after it was applied (checksum differs); ` +
            `add a new migration instead of changing an applied one`,
        );
      }
    }
    const done: string[] = [];
    for (const file of files) {
      if (applied.has(file.version)) continue;
      const started = performance.now();
      const record = (q: Sql) =>
        q`
          insert into schema_migrations (version, name, checksum)
          values (${file.version}, ${file.name}, ${file.checksum})
        `;
      if (file.transactional) {
        await sql.begin(async (tx) => {
          await tx.unsafe(file.sql);
          await record(tx as unknown as Sql);
        });
      } else {
        // Postgres runs a multi-statement query as one implicit transaction, so statements that
        // refuse transactions (continuous aggregates, refreshes) must go one at a time.
        for (const statement of splitStatements(file.sql)) await sql.unsafe(statement);
        await record(sql);
      }
      done.push(file.file);
      options.log?.info("migration applied", {
        file: file.file,
        ms: Math.round(performance.now() - started),
      });
    }
    return { applied: done, alreadyApplied: applied.size };
  } finally {
    await lock`select pg_advisory_unlock(${lockKey})`.catch(() => {});
    lock.release();
  }
}

/** Splits SQL text into statements at top-level semicolons (quotes, comments, $$ bodies kept). */
export function splitStatements(text: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "-" && text[i + 1] === "-") {
      const end = text.indexOf("\n", i);
      i = end === -1 ? text.length : end + 1;
    } else if (ch === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (ch === "'" || ch === '"') {
      const end = text.indexOf(ch, i + 1);
      i = end === -1 ? text.length : end + 1;
    } else if (ch === "$") {
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i))?.[0];
      if (tag) {
        const end = text.indexOf(tag, i + tag.length);
        i = end === -1 ? text.length : end + tag.length;
      } else i++;
    } else if (ch === ";") {
      statements.push(text.slice(start, i + 1));
      start = ++i;
    } else i++;
  }
  statements.push(text.slice(start));
  return statements.filter((statement) =>
    statement.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "").trim() !== ""
  );
}
