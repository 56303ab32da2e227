/**
 * Drops and recreates one database so a test run starts from an empty, freshly migrated schema.
 *
 * Usage: deno run --allow-net --allow-env scripts/reset_database.ts <admin-url> <database>
 */
import postgres from "postgres";

const [adminUrl, database] = Deno.args;
if (!adminUrl || !database || !/^[a-z_][a-z0-9_]*$/.test(database)) {
  console.error("Usage: reset_database.ts <admin-url> <database (lowercase letters, digits, _)>");
  Deno.exit(2);
}
const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
try {
  await sql.unsafe(`drop database if exists ${database} with (force)`);
  await sql.unsafe(`create database ${database}`);
} finally {
  await sql.end({ timeout: 5 });
}
