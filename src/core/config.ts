import { z } from "zod";

const booleanText = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((value) => value === "true" || value === "1" || value === "yes");

const logLevels = ["debug", "info", "warn", "error", "silent"] as const;

/** An OpenID Connect provider whose ID tokens may sign riders in. */
export type OidcProvider = { name: string; issuer: string; clientIds: string[] };

const loopbackHosts = new Set(["localhost", "127.0.0.1", "[::1]"]);

const oidcProvider = z
  .object({
    name: z.string().regex(/^[a-z0-9_-]{1,32}$/, "must be 1-32 of a-z, 0-9, _ and -"),
    issuer: z.url({ protocol: /^https?$/ }).refine(
      (issuer) => issuer.startsWith("https://") || loopbackHosts.has(new URL(issuer).hostname),
      "must be https (http only on loopback, for tests)",
    ),
    clientId: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  })
  .strict();

const oidcProviders = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: "must be a JSON array of providers" });
      return z.NEVER;
    }
  })
  .pipe(
    z.array(oidcProvider).refine(
      (list) => new Set(list.map((p) => p.name)).size === list.length,
      "provider names must be unique",
    ),
  );

/** Every environment variable the service reads, with its default. */
export const configSchema = z
  .object({
    APP_ENV: z.enum(["development", "test", "production"]).default("development"),
    HOST: z.string().min(1).default("0.0.0.0"),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    LOG_LEVEL: z.enum(logLevels).default("info"),
    DATABASE_URL: z
      .url({ protocol: /^postgres(ql)?$/ })
      .default("postgres://postgres@127.0.0.1:55432/bpt"),
    DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
    MIGRATE_ON_START: booleanText.default(true),
    UPSTASH_REDIS_REST_URL: z.url({ protocol: /^https?$/ }).default("http://127.0.0.1:58079"),
    UPSTASH_REDIS_REST_TOKEN: z.string().min(1).default("bpt-local-token"),
    REDIS_KEY_PREFIX: z.string().regex(/^[a-z0-9_-]+:$/, "must look like 'bpt:'").default("bpt:"),
    API_KEY: z.string().min(1).optional(),
    API_KEY_RIDER: z.email("must be the email of a registered rider").max(254).optional(),
    CORS_ORIGIN: z.string().min(1).default("*"),
    BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(8 * 1024 * 1024),
    JWT_PRIVATE_KEY: z
      .string()
      .includes("PRIVATE KEY", { message: "must be a PKCS#8 PEM private key (ES256)" })
      .optional(),
    JWT_ISSUER: z.string().min(1).default("bike-power-tracker"),
    JWT_AUDIENCE: z.string().min(1).default("bike-power-tracker-api"),
    ACCESS_TOKEN_TTL_S: z.coerce.number().int().min(30).max(86_400).default(900),
    REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30),
    PASSWORD_MEMORY_KIB: z.coerce.number().int().min(1024).max(4_194_304).default(19_456),
    PASSWORD_ITERATIONS: z.coerce.number().int().min(1).max(20).default(2),
    // One core is left to the event loop, Postgres and Redis (bench/login_health_bench.ts).
    PASSWORD_WORKERS: z.coerce.number().int().min(0).max(64)
      .default(Math.max(1, (navigator.hardwareConcurrency || 1) - 1)),
    PASSWORD_QUEUE_MAX: z.coerce.number().int().min(1).max(100_000).default(64),
    METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    METRICS_HOST: z.string().min(1).default("127.0.0.1"),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
    REUSE_PORT: booleanText.default(false),
    // Worker-thread instances are gone (one process per core with REUSE_PORT serves the same);
    // a deployment still setting INSTANCES is told so instead of silently getting one instance.
    INSTANCES: z
      .never({
        error: "is no longer read: run one process per core with REUSE_PORT=true on the same " +
          "PORT, or several containers behind a proxy",
      })
      .optional(),
    WORKOUT_IDLE_TIMEOUT_S: z.coerce.number().int().min(10).default(1800),
    // A decompressed ride file: a 48-hour 1 Hz GPX with every extension is ~60 MB.
    IMPORT_MAX_FILE_BYTES: z.coerce.number().int().min(1024).default(128 * 1024 * 1024),
    IMPORT_ZIP_MAX_ENTRIES: z.coerce.number().int().min(1).default(10_000),
    IMPORT_ZIP_MAX_TOTAL_BYTES: z.coerce.number().int().min(1024).default(4 * 1024 ** 3),
    LIVE_TTL_S: z.coerce.number().int().min(60).default(86_400),
    SWEEP_INTERVAL_S: z.coerce.number().int().min(0).default(60),
    TELEMETRY_RETENTION_DAYS: z.coerce.number().int().min(0).default(0),
    ALLOW_ANONYMOUS_STREAMS: booleanText.default(false),
    STREAM_POLL_MS: z.coerce.number().int().min(20).max(5000).default(200),
    SSE_HEARTBEAT_S: z.coerce.number().int().min(1).default(15),
    SSE_MAX_PER_RIDER: z.coerce.number().int().min(0).default(20),
    SSE_MAX_PER_ADDRESS: z.coerce.number().int().min(0).default(20),
    SHARE_LINK_MAX_DAYS: z.coerce.number().int().min(1).max(365).default(30),
    RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(1200),
    // The pages' map tiles, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; none: the track
    // is drawn on a plain background (works offline).
    MAP_TILE_URL: z.url({ protocol: /^https?$/ }).refine(
      (url) => ["{z}", "{x}", "{y}"].every((part) => decodeURI(url).includes(part)),
      "must contain {z}, {x} and {y}",
    ).optional(),
    MAP_TILE_ATTRIBUTION: z.string().max(500).default(""),
    OIDC_PROVIDERS: oidcProviders.default([]),
    OIDC_HTTP_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
    OIDC_JWKS_COOLDOWN_S: z.coerce.number().int().min(0).max(3600).default(30),
    API_KEYS_PER_USER_MAX: z.coerce.number().int().min(1).max(10_000).default(50),
    AUTH_ACCOUNT_FAILURES: z.coerce.number().int().min(0).default(5),
    AUTH_ACCOUNT_WINDOW_S: z.coerce.number().int().min(1).default(900),
    AUTH_CLIENT_ATTEMPTS: z.coerce.number().int().min(0).default(20),
    AUTH_CLIENT_WINDOW_S: z.coerce.number().int().min(1).default(60),
    TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
    AUTH_FAILURES_PER_CLIENT: z.coerce.number().int().min(0).default(30),
    AUTH_FAILURES_WINDOW_S: z.coerce.number().int().min(1).max(86_400).default(60),
    WEBHOOKS_PER_USER_MAX: z.coerce.number().int().min(1).max(1000).default(20),
    // Off by default: a hook on a loopback, private or link-local address lets any rider make the
    // service call inside its own network (SSRF). A LAN self-hoster or a test turns it on.
    WEBHOOK_ALLOW_PRIVATE: booleanText.default(false),
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
    WEBHOOK_POLL_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
    WEBHOOK_BACKOFF_BASE_MS: z.coerce.number().int().min(1).default(30_000),
    WEBHOOK_BACKOFF_MAX_MS: z.coerce.number().int().min(1).default(3_600_000),
    WEBHOOK_RETRY_HOURS: z.coerce.number().min(0).max(720).default(24),
  })
  .superRefine((env, ctx) => {
    if (env.API_KEY_RIDER && !env.API_KEY) {
      ctx.addIssue({
        code: "custom",
        path: ["API_KEY_RIDER"],
        message: "needs API_KEY: it names the rider the shared key acts as",
      });
    }
    if (env.LIVE_TTL_S < 2 * env.WORKOUT_IDLE_TIMEOUT_S) {
      ctx.addIssue({
        code: "custom",
        path: ["LIVE_TTL_S"],
        message: "must be at least twice WORKOUT_IDLE_TIMEOUT_S, so idle rides are archived " +
          "before their live data could expire",
      });
    }
    if (env.APP_ENV === "production" && !env.JWT_PRIVATE_KEY) {
      ctx.addIssue({
        code: "custom",
        path: ["JWT_PRIVATE_KEY"],
        message: "is required when APP_ENV is production",
      });
    }
  });

/** The validated configuration. */
export type Config = {
  appEnv: "development" | "test" | "production";
  host: string;
  port: number;
  logLevel: (typeof logLevels)[number];
  databaseUrl: string;
  databasePoolMax: number;
  migrateOnStart: boolean;
  redisRestUrl: string;
  redisRestToken: string;
  redisKeyPrefix: string;
  apiKey: string | undefined;
  /** The rider the shared `API_KEY` acts as on /api/workouts, /api/users and /api/analytics. */
  apiKeyRider: string | undefined;
  corsOrigins: string[];
  bodyLimitBytes: number;
  jwt: {
    privateKeyPem: string | undefined;
    issuer: string;
    audience: string;
    accessTokenTtlS: number;
  };
  refreshTokenTtlDays: number;
  passwordCost: { memoryKib: number; iterations: number };
  /** Worker threads that hash passwords (0: on the event loop), and the jobs that may wait. */
  passwordPool: { workers: number; queueMax: number };
  /**
   * `GET /metrics` (Prometheus): on the API's port behind `Authorization: Bearer <token>` when
   * `token` is set (else 404 there), and on a listener of its own at `host:port` when `port` is.
   */
  metrics: { token: string | undefined; port: number | undefined; host: string };
  shutdownTimeoutMs: number;
  /**
   * Listen with SO_REUSEPORT, so several processes (one per core is the useful most) share the
   * port and the kernel spreads new connections over them (Linux; each has its own pools and hub).
   */
  reusePort: boolean;
  workoutIdleTimeoutS: number;
  /**
   * Ride file imports: the largest decompressed file (a `.gz` upload).
   */
  imports: { maxFileBytes: number; zipMaxEntries: number; zipMaxTotalBytes: number };
  liveTtlS: number;
  sweepIntervalS: number;
  /** Raw telemetry older than this many days is dropped (whole chunks); 0 keeps it forever. */
  telemetryRetentionDays: number;
  allowAnonymousStreams: boolean;
  streamPollMs: number;
  sseHeartbeatS: number;
  /** Open SSE connections allowed per rider, and per address for share-link and anonymous viewers (0: no cap). */
  sseMax: { perRider: number; perAddress: number };
  /** The longest a share link may live. */
  shareLinkMaxDays: number;
  rateLimitPerMinute: number;
  oidc: { providers: OidcProvider[]; httpTimeoutMs: number; jwksCooldownS: number };
  apiKeysPerUserMax: number;
  /** Sign-in limits (0 turns one off): failures per account and attempts per client, per window. */
  authLimits: {
    accountFailures: number;
    accountWindowS: number;
    clientAttempts: number;
    clientWindowS: number;
  };
  /** Proxies in front of the service that append to X-Forwarded-For (0: use the peer address). */
  trustedProxyHops: number;
  /** Rejected credentials (tokens, API keys) per client address per window before 429; 0 = off. */
  credentialFailures: { perClient: number; windowS: number };
  /** Webhooks (docs/webhooks.md): limits, the SSRF switch and the delivery worker's timing. */
  webhooks: {
    perUserMax: number;
    /** Allow URLs on loopback, private and link-local addresses (off: refused, against SSRF). */
    allowPrivate: boolean;
    /** One delivery's POST, headers and body, before it counts as failed. */
    timeoutMs: number;
    /** How often the worker looks for due deliveries (0: no worker in this instance). */
    pollMs: number;
    /** The first retry's delay; each next one doubles, capped at `backoffMaxMs`, with jitter. */
    backoffBaseMs: number;
    backoffMaxMs: number;
    /** How long after its event a delivery is retried before it is marked failed. */
    retryHours: number;
  };
  /** The pages' map tile server (URL template) and its attribution; no URL: a plain background. */
  mapTiles: { url?: string; attribution: string };
};

/** Thrown when the environment is invalid; its message lists every bad variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Validates an environment (a plain record) and returns the typed configuration. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) =>
      `  ${issue.path.join(".") || "environment"}: ${issue.message}`
    );
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  return {
    appEnv: e.APP_ENV,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    migrateOnStart: e.MIGRATE_ON_START,
    redisRestUrl: e.UPSTASH_REDIS_REST_URL,
    redisRestToken: e.UPSTASH_REDIS_REST_TOKEN,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    apiKey: e.API_KEY,
    apiKeyRider: e.API_KEY_RIDER,
    corsOrigins: e.CORS_ORIGIN.split(",").map((origin) => origin.trim()).filter(Boolean),
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    jwt: {
      privateKeyPem: e.JWT_PRIVATE_KEY?.replaceAll("\\n", "\n"),
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      accessTokenTtlS: e.ACCESS_TOKEN_TTL_S,
    },
    refreshTokenTtlDays: e.REFRESH_TOKEN_TTL_DAYS,
    passwordCost: { memoryKib: e.PASSWORD_MEMORY_KIB, iterations: e.PASSWORD_ITERATIONS },
    passwordPool: { workers: e.PASSWORD_WORKERS, queueMax: e.PASSWORD_QUEUE_MAX },
    metrics: { token: e.METRICS_TOKEN, port: e.METRICS_PORT, host: e.METRICS_HOST },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    reusePort: e.REUSE_PORT,
    workoutIdleTimeoutS: e.WORKOUT_IDLE_TIMEOUT_S,
    imports: {
      maxFileBytes: e.IMPORT_MAX_FILE_BYTES,
      zipMaxEntries: e.IMPORT_ZIP_MAX_ENTRIES,
      zipMaxTotalBytes: e.IMPORT_ZIP_MAX_TOTAL_BYTES,
    },
    liveTtlS: e.LIVE_TTL_S,
    sweepIntervalS: e.SWEEP_INTERVAL_S,
    telemetryRetentionDays: e.TELEMETRY_RETENTION_DAYS,
    allowAnonymousStreams: e.ALLOW_ANONYMOUS_STREAMS,
    streamPollMs: e.STREAM_POLL_MS,
    sseHeartbeatS: e.SSE_HEARTBEAT_S,
    sseMax: { perRider: e.SSE_MAX_PER_RIDER, perAddress: e.SSE_MAX_PER_ADDRESS },
    shareLinkMaxDays: e.SHARE_LINK_MAX_DAYS,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    oidc: {
      providers: e.OIDC_PROVIDERS.map((p) => ({
        name: p.name,
        issuer: p.issuer,
        clientIds: typeof p.clientId === "string" ? [p.clientId] : p.clientId,
      })),
      httpTimeoutMs: e.OIDC_HTTP_TIMEOUT_MS,
      jwksCooldownS: e.OIDC_JWKS_COOLDOWN_S,
    },
    apiKeysPerUserMax: e.API_KEYS_PER_USER_MAX,
    authLimits: {
      accountFailures: e.AUTH_ACCOUNT_FAILURES,
      accountWindowS: e.AUTH_ACCOUNT_WINDOW_S,
      clientAttempts: e.AUTH_CLIENT_ATTEMPTS,
      clientWindowS: e.AUTH_CLIENT_WINDOW_S,
    },
    trustedProxyHops: e.TRUSTED_PROXY_HOPS,
    credentialFailures: {
      perClient: e.AUTH_FAILURES_PER_CLIENT,
      windowS: e.AUTH_FAILURES_WINDOW_S,
    },
    webhooks: {
      perUserMax: e.WEBHOOKS_PER_USER_MAX,
      allowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      pollMs: e.WEBHOOK_POLL_MS,
      backoffBaseMs: e.WEBHOOK_BACKOFF_BASE_MS,
      backoffMaxMs: e.WEBHOOK_BACKOFF_MAX_MS,
      retryHours: e.WEBHOOK_RETRY_HOURS,
    },
    mapTiles: { url: e.MAP_TILE_URL, attribution: e.MAP_TILE_ATTRIBUTION },
  };
}
