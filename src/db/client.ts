import postgres from "postgres";

/** The postgres.js client type used across the service. */
export type Sql = postgres.Sql;

/** Opens a postgres.js pool; rows come back with camelCase keys. */
export function createSql(
  url: string,
  options: { max?: number; connectTimeoutS?: number; appName?: string } = {},
): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutS ?? 5,
    idle_timeout: 60,
    transform: postgres.camel,
    onnotice: () => {},
    connection: { application_name: options.appName ?? "bike-power-tracker" },
  });
}
