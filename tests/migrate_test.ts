import assert from "node:assert/strict";
import { createSql } from "../src/db/client.ts";
import { migrate, readMigrations, splitStatements } from "../src/db/migrate.ts";
import { withScratchDatabase } from "./support.ts";

/** A temporary folder of migration files. */
async function migrationDir(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "bpt-migrations-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

Deno.test("migrate applies the project's migrations once and is a no-op the second time", async () => {
  await withScratchDatabase(async (sql) => {
    const files = await readMigrations(new URL("../sql/", import.meta.url));
    const first = await migrate(sql);
    assert.deepEqual(first.applied, files.map((f) => f.file));
    const second = await migrate(sql);
    assert.deepEqual(second, { applied: [], alreadyApplied: files.length });

    const rows = await sql`select version, name, checksum, applied_at from schema_migrations`;
    assert.equal(rows.length, files.length);
    assert.match(rows[0].checksum, /^[0-9a-f]{64}$/);
    const [ext] = await sql`select extname from pg_extension where extname = 'timescaledb'`;
    assert.equal(ext.extname, "timescaledb");
  });
});

Deno.test("migrate refuses an applied file that was edited, naming it", async () => {
  await withScratchDatabase(async (sql) => {
    const dir = await migrationDir({
      "0001_first.sql": "create table a (id int);",
      "0002_second.sql": "create table b (id int);",
    });
    await migrate(sql, { dir });
    await Deno.writeTextFile(`${dir}/0002_second.sql`, "create table b (id bigint);");
    await assert.rejects(() => migrate(sql, { dir }), /Migration 0002_second\.sql was edited/);
    await Deno.remove(dir, { recursive: true });
  });
});

Deno.test("migrate refuses a numbering gap and a missing applied file", async () => {
  const gap = await migrationDir({
    "0001_first.sql": "select 1;",
    "0003_third.sql": "select 3;",
  });
  await assert.rejects(() => readMigrations(gap), /expected 0002_\*\.sql, found 0003_third\.sql/);
  await Deno.remove(gap, { recursive: true });

  await withScratchDatabase(async (sql) => {
    const dir = await migrationDir({
      "0001_first.sql": "select 1;",
      "0002_second.sql": "select 2;",
    });
    await migrate(sql, { dir });
    await Deno.remove(`${dir}/0002_second.sql`);
    await assert.rejects(
      () => migrate(sql, { dir }),
      /0002_second\.sql was applied .* file is missing/,
    );
    await Deno.remove(dir, { recursive: true });
  });
});

Deno.test("a failing migration rolls back whole and records nothing", async () => {
  await withScratchDatabase(async (sql) => {
    const dir = await migrationDir({
      "0001_first.sql": "create table a (id int);\ncreate table a (id int);",
    });
    await assert.rejects(() => migrate(sql, { dir }), /already exists/);
    const [row] =
      await sql`select to_regclass('a') as table, count(*)::int as n from schema_migrations`;
    assert.deepEqual([row.table, row.n], [null, 0]);
    await Deno.remove(dir, { recursive: true });
  });
});

Deno.test("two migration runs started at once apply each file once", async () => {
  await withScratchDatabase(async (sql, url) => {
    const dir = await migrationDir({
      "0001_counter.sql": "create table runs (n int); insert into runs values (1);",
      "0002_slow.sql": "select pg_sleep(0.3); insert into runs values (2);",
    });
    const other = createSql(url, { max: 2 });
    const results = await Promise.all([migrate(sql, { dir }), migrate(other, { dir })]);
    await other.end({ timeout: 5 });
    assert.deepEqual(results.map((r) => r.applied.length).sort(), [0, 2]);
    const rows = await sql`select n from runs order by n`;
    assert.deepEqual(rows.map((r) => r.n), [1, 2]);
    await Deno.remove(dir, { recursive: true });
  });
});

Deno.test("a file marked migrate:no-transaction runs statements that refuse transactions", async () => {
  await withScratchDatabase(async (sql) => {
    const dir = await migrationDir({
      "0001_table.sql": "create table t (id int);",
      "0002_index.sql":
        "-- migrate:no-transaction\ncreate index concurrently t_id_idx on t (id);\n" +
        "create index concurrently t_id2_idx on t ((id * 2));",
    });
    const result = await migrate(sql, { dir });
    assert.equal(result.applied.length, 2);
    const indexes = await sql`select indexname from pg_indexes where tablename = 't' order by 1`;
    assert.deepEqual(indexes.map((r) => r.indexname), ["t_id2_idx", "t_id_idx"]);
    await Deno.remove(dir, { recursive: true });
  });
});

Deno.test("splitStatements keeps quotes, comments and dollar-quoted bodies whole", () => {
  const text = `-- a comment; with a semicolon
create table "a;b" (v text default 'x;y');
do $$ begin perform 1; end $$;
/* block; comment */ select 'it''s; fine';
`;
  const statements = splitStatements(text).map((s) => s.trim());
  assert.equal(statements.length, 3);
  assert.match(statements[0], /create table "a;b" \(v text default 'x;y'\);$/);
  assert.equal(statements[1], "do $$ begin perform 1; end $$;");
  assert.match(statements[2], /select 'it''s; fine';$/);
});
