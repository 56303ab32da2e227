/**
 * The process's Prometheus metrics (prom-client): one registry that services count into without
 * knowing about HTTP, read by `GET /metrics` (src/routes/metrics.ts). Figures that are a state
 * rather than a count (SSE viewers, pool connections) are read when scraped, from the sources
 * registered with {@linkcode onScrape}. Several instances in one process (tests) add up.
 * @module
 */
import client from "prom-client";

/** The registry `/metrics` renders. */
export const registry = new client.Registry();

const seconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Every metric the service keeps, by what it measures. */
export const metrics = {
  /** Requests by method, route template (Hono's matched path) and status, with their latency. */
  httpRequests: new client.Histogram({
    name: "bpt_http_request_duration_seconds",
    help: "Time to the response (headers, for SSE) by method, route template and status; " +
      "its _count is the request count",
    labelNames: ["method", "route", "status"] as const,
    buckets: seconds,
    registers: [registry],
  }),
  /** Archives (live rides completed, files imported): how long the transaction and its reads took. */
  archiveDuration: new client.Histogram({
    name: "bpt_archive_duration_seconds",
    help: "Archive of a ride (samples normalised, summary, one transaction) by source and outcome",
    labelNames: ["source", "outcome"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  }),
  /** Samples per archived ride. */
  archiveSamples: new client.Histogram({
    name: "bpt_archive_samples",
    help: "Samples written by one successful archive, by source",
    labelNames: ["source"] as const,
    buckets: [0, 60, 600, 1800, 3600, 7200, 14_400, 28_800, 86_400, 172_800],
    registers: [registry],
  }),
  /** Live rides started on this instance (a workout start or a rider's first stream post). */
  ridesStarted: new client.Counter({
    name: "bpt_rides_started_total",
    help: "Live rides started by this instance",
    registers: [registry],
  }),
  /** Continuous-aggregate refreshes by outcome, and the extra tries they took. */
  aggregateRefreshes: new client.Counter({
    name: "bpt_aggregate_refreshes_total",
    help: "Continuous-aggregate window refreshes by outcome (ok, failed: left to the drain)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
  aggregateRefreshRetries: new client.Counter({
    name: "bpt_aggregate_refresh_retries_total",
    help: "Tries after the first of continuous-aggregate refreshes (a concurrent refresh, a blip)",
    registers: [registry],
  }),
  /** Passes of the pending-refresh drain by outcome, and the rows it claimed. */
  drainPasses: new client.Counter({
    name: "bpt_aggregate_drain_passes_total",
    help: "Passes of the pending aggregate refresh drain by outcome (ok, failed)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
  drainClaimed: new client.Counter({
    name: "bpt_aggregate_drain_claimed_total",
    help: "Pending aggregate refreshes the drain claimed",
    registers: [registry],
  }),
  /** Failures of a dependency by kind (SQLSTATE, connection error, Redis reply), as answered. */
  dependencyErrors: new client.Counter({
    name: "bpt_dependency_errors_total",
    help: "Postgres and Redis errors that ended a request, by dependency and kind",
    labelNames: ["dependency", "kind"] as const,
    registers: [registry],
  }),
  /** Idle-ride sweeps by outcome, and the rides they archived. */
  sweeps: new client.Counter({
    name: "bpt_sweeps_total",
    help: "Runs of the idle-ride sweeper by outcome (ok, failed)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
  sweptRides: new client.Counter({
    name: "bpt_swept_rides_total",
    help: "Idle rides the sweeper archived",
    registers: [registry],
  }),
  /** Webhook delivery attempts by outcome (delivered, retry: failed and scheduled again, failed: given up). */
  webhookDeliveries: new client.Counter({
    name: "bpt_webhook_deliveries_total",
    help: "Webhook delivery attempts by outcome (delivered, retry, failed: retries given up)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  }),
  /** Read at scrape time (onScrape): SSE viewers and streams watched on this instance. */
  sseViewers: new client.Gauge({
    name: "bpt_sse_viewers",
    help: "Open SSE connections on this instance",
    registers: [registry],
  }),
  sseStreams: new client.Gauge({
    name: "bpt_sse_watched_streams",
    help: "Live streams with a viewer on this instance",
    registers: [registry],
  }),
  liveRides: new client.Gauge({
    name: "bpt_live_rides",
    help: "Active (live) rides in the database, across instances",
    registers: [registry],
  }),
  poolConnections: new client.Gauge({
    name: "bpt_postgres_pool_connections",
    help: "Postgres pool connections of this instance by state (busy, idle, connecting, reserved)",
    labelNames: ["state"] as const,
    registers: [registry],
  }),
  poolMax: new client.Gauge({
    name: "bpt_postgres_pool_max",
    help: "Postgres pool size (DATABASE_POOL_MAX)",
    registers: [registry],
  }),
  poolWaiting: new client.Gauge({
    name: "bpt_postgres_pool_waiting_queries",
    help: "Queries waiting for a free Postgres connection",
    registers: [registry],
  }),
  passwordQueue: new client.Gauge({
    name: "bpt_password_queue",
    help: "Sign-ins waiting for a free password worker",
    registers: [registry],
  }),
};

/** The gauges set by scrape hooks; reset before each scrape, so hooks add (instances sum). */
const scrapedGauges = [
  metrics.sseViewers,
  metrics.sseStreams,
  metrics.liveRides,
  metrics.poolConnections,
  metrics.poolMax,
  metrics.poolWaiting,
  metrics.passwordQueue,
];

const hooks = new Set<() => void | Promise<void>>();

/** Adds a hook that adds its figures to the gauges on each scrape; returns its removal. */
export function onScrape(hook: () => void | Promise<void>): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

let last: Promise<unknown> = Promise.resolve();

/**
 * Renders every metric in the Prometheus text format, after the scrape hooks ran. Scrapes run one
 * after the other: each resets the gauges its hooks add to.
 */
export function scrape(): Promise<string> {
  const next = last.then(scrapeOnce, scrapeOnce);
  last = next.catch(() => {});
  return next;
}

async function scrapeOnce(): Promise<string> {
  for (const gauge of scrapedGauges) gauge.reset();
  await Promise.all([...hooks].map(async (hook) => {
    try {
      await hook();
    } catch {
      // a source that cannot answer now (the database is down) leaves its gauge out
    }
  }));
  return await registry.metrics();
}

/** The Content-Type of {@linkcode scrape}'s text. */
export const contentType = registry.contentType;
