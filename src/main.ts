import { createApp } from "./app.ts";
import { createTokenIssuer, generatePrivateKeyPem } from "./auth/tokens.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { createSql } from "./db/client.ts";
import { migrate } from "./db/migrate.ts";
import { createLiveStore } from "./live/store.ts";
import { liveServices } from "./live/services.ts";
import { sweepIdleWorkouts } from "./workouts/lifecycle.ts";
import { createLogger } from "./log.ts";

/** Starts the service: config, connections, migrations, HTTP server, graceful shutdown. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(Deno.env.toObject());
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      Deno.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);

  let privateKeyPem = config.jwt.privateKeyPem;
  if (!privateKeyPem) {
    log.warn(
      "JWT_PRIVATE_KEY is not set: using a throwaway key, so sign-ins end when the process " +
        "restarts; run `deno task keygen` and set it",
    );
    privateKeyPem = await generatePrivateKeyPem();
  }
  const tokens = await createTokenIssuer({
    privateKeyPem,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlS: config.jwt.accessTokenTtlS,
  });

  const sql = createSql(config.databaseUrl, { max: config.databasePoolMax });
  const live = createLiveStore({
    url: config.redisRestUrl,
    token: config.redisRestToken,
    prefix: config.redisKeyPrefix,
  });

  if (config.migrateOnStart) {
    try {
      const result = await migrate(sql, { log });
      log.info("migrations done", { applied: result.applied.length });
    } catch (err) {
      log.error("migrations failed", { err: err instanceof Error ? err.message : String(err) });
      await sql.end({ timeout: 1 });
      Deno.exit(1);
    }
  }

  const deps = {
    config,
    sql,
    live,
    ...liveServices(live, config, log),
    tokens,
    log,
  };
  const app = createApp(deps);
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: ({ hostname, port }) =>
      log.info("listening", { url: `http://${hostname}:${port}`, docs: "/docs" }),
  }, app.fetch);

  let sweeping = false;
  const sweeper = config.sweepIntervalS > 0
    ? setInterval(async () => {
      if (sweeping) return;
      sweeping = true;
      await sweepIdleWorkouts(deps)
        .catch((err) => log.warn("idle sweep failed", { err: String(err) }))
        .finally(() => sweeping = false);
    }, config.sweepIntervalS * 1000)
    : undefined;

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal });
    const forced = setTimeout(() => {
      log.warn("shutdown timed out; exiting");
      Deno.exit(1);
    }, config.shutdownTimeoutMs);
    clearInterval(sweeper);
    deps.hub.close(); // ends open SSE responses, which would otherwise hold the shutdown
    await server.shutdown();
    await sql.end({ timeout: 5 });
    clearTimeout(forced);
    log.info("stopped");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
}

if (import.meta.main) await main();
