/** The real app for benchmarks: built around a database client, with a throwaway signing key. */
import { createApp } from "../src/app.ts";
import { createTokenIssuer, generatePrivateKeyPem } from "../src/auth/tokens.ts";
import type { Config } from "../src/config.ts";
import type { Sql } from "../src/db/client.ts";
import { createDeps } from "../src/deps.ts";
import { createLogger } from "../src/log.ts";

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
