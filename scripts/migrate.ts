/** Applies pending migrations to DATABASE_URL: `deno task migrate`. */
import { loadConfig } from "../src/core/config.ts";
import { createSql } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { createLogger } from "../src/core/log.ts";

const config = loadConfig(Deno.env.toObject());
const sql = createSql(config.databaseUrl, { max: 2, appName: "bpt-migrate" });
try {
  const result = await migrate(sql, { log: createLogger("info") });
  console.log(
    result.applied.length === 0
      ? `Database is up to date (${result.alreadyApplied} migrations applied earlier)`
      : `Applied ${result.applied.length} migration(s): ${result.applied.join(", ")}`,
  );
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  Deno.exitCode = 1;
} finally {
  await sql.end({ timeout: 5 });
}
