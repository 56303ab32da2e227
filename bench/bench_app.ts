/** The real app for benchmarks: built around a database client, with a throwaway signing key. */
import { createApp } from "../src/app.ts";
import { createTokenIssuer, generatePrivateKeyPem } from "../src/auth/tokens.ts";
import { type Config, loadConfig } from "../src/core/config.ts";
import { createSql, type Sql } from "../src/db/client.ts";
import type { Deps } from "../src/http/deps.ts";
import { createDeps } from "../src/wiring.ts";
import { createLogger } from "../src/core/log.ts";

/**
 * Stops what the app's dependencies keep running (the hub's loop, the kept-alive Redis
 * connections, the password workers, the revocation feed), so that a bench ends when its work
 * does.
 */
export async function closeDeps(deps: Deps): Promise<void> {
  deps.hub.close();
  deps.live.close();
  deps.passwords.close();
  await deps.revocations.close();
}

/** The app and its dependencies, logging nothing. */
export async function benchApp(config: Config, sql: Sql) {
  const tokens = await createTokenIssuer({
    privateKeyPem: await generatePrivateKeyPem(),
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlS: 3600,
  });
  const deps = createDeps(config, { sql, tokens, log: createLogger("silent") });
  return { deps, app: createApp(deps) };
}

/**
 * The configuration of a bench that owns database `database` (recreated empty on the admin URL,
 * `BENCH_DATABASE_ADMIN_URL`, default the test cluster) and Redis key prefix `prefix`; the test
 * services' REST bridge unless the environment says otherwise; cheap password hashing, no rate
 * limit.
 */
export async function benchConfig(database: string, prefix: string): Promise<Config> {
  const adminUrl = Deno.env.get("BENCH_DATABASE_ADMIN_URL") ??
    "postgres://postgres@127.0.0.1:55433/postgres";
  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`drop database if exists ${database} with (force)`);
  await admin.unsafe(`create database ${database}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return {
    ...loadConfig({
      UPSTASH_REDIS_REST_URL: "http://127.0.0.1:58080",
      UPSTASH_REDIS_REST_TOKEN: "bpt-test-token",
      ...Deno.env.toObject(),
      DATABASE_URL: url.href,
    }),
    redisKeyPrefix: prefix,
    passwordCost: { memoryKib: 1024, iterations: 1 },
    rateLimitPerMinute: 0,
  };
}
