import postgres from "postgres";

/** The postgres.js client type used across the service. */
export type Sql = postgres.Sql;

/**
 * Opens a postgres.js pool; rows come back with camelCase keys.
 *
 * During an outage a query must fail fast (a 503 within about 2 s), not wait: a connection
 * attempt gives up after `connectTimeoutS` (1.5 s; vendor/postgres bounds the retries of one
 * query by it too), and reconnects back off from 50 ms to at most 1 s (postgres.js's default
 * grows to 20 s, which held requests 14–19 s after Postgres came back).
 */
export function createSql(
  url: string,
  options: { max?: number; connectTimeoutS?: number; appName?: string } = {},
): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutS ?? 1.5,
    backoff: (attempts: number) => Math.min(0.05 * 2 ** attempts, 1),
    idle_timeout: 60,
    transform: postgres.camel,
    onnotice: () => {},
    connection: { application_name: options.appName ?? "bike-power-tracker" },
  });
}
