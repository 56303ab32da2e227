import { createApp } from "./app.ts";
import { createTokenIssuer } from "./auth/tokens.ts";
import type { Config } from "./core/config.ts";
import { createSql } from "./db/client.ts";
import { createDeps, watchInstance } from "./wiring.ts";
import { metrics } from "./core/metrics.ts";
import { metricsApp } from "./routes/metrics.ts";
import { startRefreshDrain } from "./db/timescale.ts";
import { type Logger, withFields } from "./core/log.ts";
import { sweepIdleWorkouts } from "./workouts/lifecycle.ts";
import { dropExpiredTelemetry, retentionIntervalMs } from "./db/retention.ts";
import { startDeliveryWorker } from "./webhooks/worker.ts";
import { markInterruptedJobs } from "./workouts/import_jobs.ts";

/**
 * A running service instance: its HTTP server, connections, SSE hub, idle sweeper, the drain
 * of pending aggregate refreshes and the webhook delivery worker.
 */
export type Instance = {
  /** Stops taking requests, ends SSE viewers, waits for requests in flight, closes connections. */
  stop: () => Promise<void>;
};

/**
 * Starts one instance: connections, the app and its HTTP server, and the idle sweeper. Several
 * processes can share a port with `reusePort` (REUSE_PORT); each has its own connections and hub,
 * as instances on different machines would. Tests start several in one process.
 */
export async function startInstance(
  config: Config,
  options: { log: Logger; privateKeyPem: string; name?: string },
): Promise<Instance> {
  // With several instances, every line says which one wrote it.
  const log = options.name ? withFields(options.log, { instance: options.name }) : options.log;
  const tokens = await createTokenIssuer({
    privateKeyPem: options.privateKeyPem,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    ttlS: config.jwt.accessTokenTtlS,
  });
  const sql = createSql(config.databaseUrl, { max: config.databasePoolMax });
  const deps = createDeps(config, { sql, tokens, log });
  deps.revocations.start();
  const app = createApp(deps);
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    reusePort: config.reusePort,
    onListen: ({ hostname, port }) =>
      log.info("listening", {
        url: `http://${hostname}:${port}`,
        docs: "/docs",
      }),
  }, app.fetch);

  const unwatch = watchInstance(deps);
  // /metrics on a port of its own (loopback by default), for a scraper the API's port hides it from.
  const metricsServer = config.metrics.port === undefined ? undefined : Deno.serve({
    hostname: config.metrics.host,
    port: config.metrics.port,
    onListen: ({ hostname, port }) =>
      log.info("metrics listening", { url: `http://${hostname}:${port}/metrics` }),
  }, metricsApp(config.metrics.token).fetch);

  // Zip import jobs a stopped process left running (no heartbeat for a minute): interrupted,
  // at startup and on every sweep after it.
  const interrupt = () =>
    markInterruptedJobs(sql)
      .then((n) => n > 0 && log.info("import jobs marked interrupted", { jobs: n }))
      .catch((err) => log.warn("marking interrupted import jobs failed", { err: String(err) }));
  await interrupt();

  let sweeping = false;
  // The telemetry retention (TELEMETRY_RETENTION_DAYS) runs from the same tick, at most hourly.
  let retentionRanAt = -Infinity;
  const sweeper = config.sweepIntervalS > 0
    ? setInterval(async () => {
      if (sweeping) return;
      sweeping = true;
      await sweepIdleWorkouts(deps)
        .then(() => metrics.sweeps.inc({ outcome: "ok" }))
        .catch((err) => {
          metrics.sweeps.inc({ outcome: "failed" });
          log.warn("idle sweep failed", { err: String(err) });
        })
        .finally(() => sweeping = false);
      await interrupt();
      if (config.telemetryRetentionDays > 0 && Date.now() - retentionRanAt >= retentionIntervalMs) {
        retentionRanAt = Date.now();
        await dropExpiredTelemetry(sql, config.telemetryRetentionDays)
          .then((chunks) => {
            if (chunks.length > 0) {
              log.info("telemetry retention dropped chunks", {
                chunks: chunks.length,
                days: config.telemetryRetentionDays,
              });
            }
          })
          .catch((err) => log.warn("telemetry retention failed", { err: String(err) }));
      }
    }, config.sweepIntervalS * 1000)
    : undefined;
  // Continuous-aggregate refreshes a request could not finish (none on the Apache edition).
  const drain = startRefreshDrain(sql, { log });
  // Webhook deliveries from the outbox (each instance claims its share; WEBHOOK_POLL_MS=0: none).
  const webhooks = startDeliveryWorker({ sql, log, config });

  return {
    async stop() {
      clearInterval(sweeper);
      await drain.stop();
      await webhooks.stop(); // sends in flight are cut; their claims run out and they are resent
      deps.hub.close(); // ends open SSE responses, which would otherwise hold the shutdown
      await server.shutdown();
      deps.passwords.close(); // after the last request: a sign-in in flight still finishes
      await metricsServer?.shutdown();
      unwatch();
      await deps.revocations.close();
      deps.live.close();
      await sql.end({ timeout: 5 });
    },
  };
}
