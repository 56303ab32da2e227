/** Shared setup for integration tests: the real app over the test database and Redis. */
import { createApp } from "../src/app.ts";
import { createTokenIssuer, generatePrivateKeyPem, type TokenIssuer } from "../src/auth/tokens.ts";
import { type Config, loadConfig } from "../src/core/config.ts";
import { createSql, type Sql } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import type { Deps } from "../src/http/deps.ts";
import { createDeps } from "../src/wiring.ts";
import { createLogger } from "../src/core/log.ts";

/** The test configuration: the environment `scripts/test.sh` sets, with cheap password hashing. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const config = loadConfig({ ...Deno.env.toObject(), APP_ENV: "test" });
  return {
    ...config,
    passwordCost: { memoryKib: 1024, iterations: 1 },
    logLevel: "silent",
    rateLimitPerMinute: 0, // tests send thousands of requests; tests/rate_limit_test.ts sets one
    // Sign-in limits off (tests register many riders); tests/auth_limits_test.ts turns them on.
    authLimits: { ...config.authLimits, accountFailures: 0, clientAttempts: 0 },
    // Off too (tests present many bad credentials); tests/credential_limit_test.ts turns it on.
    credentialFailures: { ...config.credentialFailures, perClient: 0 },
    ...overrides,
  };
}

let privateKey: Promise<string> | undefined;

/** The private key the test token issuer signs with (made once per test process). */
export function testPrivateKeyPem(): Promise<string> {
  privateKey ??= generatePrivateKeyPem();
  return privateKey;
}

/** A token issuer with a key made once per test process. */
export async function testTokens(config: Config): Promise<TokenIssuer> {
  privateKey ??= generatePrivateKeyPem();
  return createTokenIssuer({
    privateKeyPem: await privateKey,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlS: config.jwt.accessTokenTtlS,
  });
}

/** A running test app and what it was built from. */
export type TestApp = {
  app: ReturnType<typeof createApp>;
  deps: Deps;
  sql: Sql;
  /** Sends a request through the app; JSON bodies are serialised with the right header. */
  request: (
    method: string,
    path: string,
    options?: { body?: unknown; headers?: Record<string, string>; token?: string },
  ) => Promise<Response>;
  close: () => Promise<void>;
};

/** The app's dependencies for a test: its token issuer, no log, no Redis retries, feed started. */
export async function testDeps(config: Config, sql: Sql): Promise<Deps> {
  const deps = createDeps(config, {
    sql,
    tokens: await testTokens(config),
    log: createLogger("silent"),
    redisRetries: 0,
  });
  deps.revocations.start();
  return deps;
}

/** Builds the real app against the migrated test database. */
export async function startTestApp(overrides: Partial<Config> = {}): Promise<TestApp> {
  const config = testConfig(overrides);
  const sql = createSql(config.databaseUrl, { max: 4 });
  await migrate(sql).catch(async (err) => {
    // Deno reports a failing beforeAll only as "t is undefined" later: say why here.
    console.error("startTestApp: migrations failed:", err instanceof Error ? err.message : err);
    await sql.end({ timeout: 1 });
    throw err;
  });
  const deps = await testDeps(config, sql);
  const app = createApp(deps);
  return {
    app,
    deps,
    sql,
    request: (method, path, options = {}) => {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
        headers["content-type"] ??= "application/json";
      }
      return Promise.resolve(app.request(path, { method, headers, body }));
    },
    close: async () => {
      await deps.revocations.close();
      deps.hub.close();
      deps.live.close();
      deps.passwords.close();
      await sql.end({ timeout: 5 });
    },
  };
}

/** A fresh, unique email address. */
export function uniqueEmail(label = "rider"): string {
  return `${label}-${crypto.randomUUID()}@example.com`;
}

/** Registers a rider and returns the session answer (user, access and refresh tokens). */
export async function registerRider(
  t: TestApp,
  options: { email?: string; password?: string } = {},
) {
  const email = options.email ?? uniqueEmail();
  const password = options.password ?? "a long enough password";
  const res = await t.request("POST", "/api/auth/register", { body: { email, password } });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  const body = await res.json();
  return { ...body, email, password } as {
    user: { id: string; email: string };
    accessToken: string;
    refreshToken: string;
    email: string;
    password: string;
  };
}

/** The test cluster's admin database, where scratch databases are created. */
const adminUrl = Deno.env.get("TEST_DATABASE_ADMIN_URL") ??
  "postgres://postgres@127.0.0.1:55433/postgres";

/** Runs `fn` with a pool on a new, empty database that is dropped afterwards. */
export async function withScratchDatabase(fn: (sql: Sql, url: string) => Promise<void>) {
  const name = `bpt_scratch_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const sql = createSql(url.href, { max: 4 });
  try {
    await fn(sql, url.href);
  } finally {
    await sql.end({ timeout: 5 });
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end({ timeout: 5 });
  }
}
