import type { TokenIssuer } from "./auth/tokens.ts";
import type { Config } from "./config.ts";
import type { Sql } from "./db/client.ts";
import { createLiveStore, type LiveStore } from "./live/store.ts";
import { liveServices } from "./live/services.ts";
import type { WorkoutLive } from "./live/workout_live.ts";
import type { Hub } from "./streams/hub.ts";
import type { StreamStore } from "./streams/store.ts";
import type { SseSlots } from "./streams/sse_slots.ts";
import type { Logger } from "./log.ts";

/** Who is calling: a rider (by token or personal API key) or an old client with the shared key. */
export type Principal =
  | { kind: "user"; userId: string; via: "token"; sessionId: string }
  | { kind: "user"; userId: string; via: "api_key"; keyId: string }
  | { kind: "legacy" };

/** Everything a request handler may use; built once by main.ts (or a test) and passed in. */
export type Deps = {
  config: Config;
  sql: Sql;
  live: LiveStore;
  workoutLive: WorkoutLive;
  streams: StreamStore;
  hub: Hub;
  sseSlots: SseSlots;
  tokens: TokenIssuer;
  log: Logger;
};

/** Hono's environment for this app: the variables middleware sets on `c.var`. */
export type AppEnv = {
  Variables: {
    requestId: string;
    deps: Deps;
    principal: Principal | null;
  };
};

/**
 * Builds the dependencies around a database client and a token issuer: the live store (Upstash
 * REST client with the key prefix) and the services on it.
 */
export function createDeps(
  config: Config,
  options: { sql: Sql; tokens: TokenIssuer; log: Logger; redisRetries?: number },
): Deps {
  const live = createLiveStore({
    url: config.redisRestUrl,
    token: config.redisRestToken,
    prefix: config.redisKeyPrefix,
    retries: options.redisRetries,
  });
  const { sql, tokens, log } = options;
  return { config, sql, live, ...liveServices(live, config, log), tokens, log };
}
