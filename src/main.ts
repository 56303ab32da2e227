import { generatePrivateKeyPem } from "./auth/tokens.ts";
import { ConfigError, loadConfig } from "./core/config.ts";
import { createSql } from "./db/client.ts";
import { migrate } from "./db/migrate.ts";
import { type Instance, startInstance } from "./instance.ts";
import { createLogger } from "./core/log.ts";
import { installProcessGuard } from "./process_guard.ts";

/**
 * Starts the service: reads the environment once, migrates, serves, and shuts down gracefully.
 *
 * One process serves one core. For more, start one process per core with REUSE_PORT=true on the
 * same PORT (SO_REUSEPORT, Linux: the kernel spreads new connections), or run several containers
 * behind a proxy; set JWT_PRIVATE_KEY so a token from one verifies on all. `deno serve --parallel`
 * does not fit: its default export has only `fetch` and `onListen`, so nothing would end SSE
 * viewers, stop the drain and close the pools on SIGTERM, and each isolate would make its own
 * throwaway key when JWT_PRIVATE_KEY is unset.
 */
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
  // A dead database or Redis socket must not end the process; a bug still does (see the module).
  installProcessGuard(log);

  let privateKeyPem = config.jwt.privateKeyPem;
  if (!privateKeyPem) {
    log.warn(
      "JWT_PRIVATE_KEY is not set: using a throwaway key, so sign-ins end when the process " +
        "restarts; run `deno task keygen` and set it",
    );
    privateKeyPem = await generatePrivateKeyPem();
  }

  if (config.migrateOnStart) {
    const sql = createSql(config.databaseUrl, { max: 2 }); // the lock holds one
    try {
      const result = await migrate(sql, { log });
      log.info("migrations done", { applied: result.applied.length });
    } catch (err) {
      log.error("migrations failed", { err: err instanceof Error ? err.message : String(err) });
      await sql.end({ timeout: 1 });
      Deno.exit(1);
    }
    await sql.end({ timeout: 5 });
  }

  let instance: Instance;
  try {
    instance = await startInstance(config, { log, privateKeyPem });
  } catch (err) {
    log.error("starting the service failed", {
      err: err instanceof Error ? err.message : String(err),
    });
    Deno.exit(1);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("shutting down", { signal });
    const forced = setTimeout(() => {
      log.warn("shutdown timed out; exiting");
      Deno.exit(1);
    }, config.shutdownTimeoutMs);
    await instance.stop();
    clearTimeout(forced);
    log.info("stopped");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
}

if (import.meta.main) await main();
