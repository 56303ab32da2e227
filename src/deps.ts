import { createCredentialCache, type CredentialCache } from "./auth/credential_cache.ts";
import { createRevocations, type Revocations } from "./auth/revocations.ts";
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

/**
 * Who is calling: a rider (by token or personal API key) or an old client with the shared key;
 * with `API_KEY_RIDER` set, `riderId` is that rider's id (the shared key acts as them on
 * /api/workouts, /api/users and /api/analytics).
 */
export type Principal =
  | { kind: "user"; userId: string; via: "token"; sessionId: string }
  | { kind: "user"; userId: string; via: "api_key"; keyId: string }
  | { kind: "legacy"; riderId?: string };

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
  /** The revocation feed (sessions, API keys, accounts, shares); started by the instance. */
  revocations: Revocations;
  /** Authentication's in-memory caches (API keys by hash, the `API_KEY_RIDER` id). */
  credentials: CredentialCache;
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
  const credentials = createCredentialCache();
  // Long enough for a revoked access token to expire and a cached API key to be re-read.
  const retentionMs = Math.max(config.jwt.accessTokenTtlS * 1000, credentials.keyTtlMs) + 60_000;
  const revocations = createRevocations(live, { retentionMs, log });
  const services = liveServices(live, config, log);
  // A revoked key, session, share link or deleted account ends its open SSE connections here
  // (each instance reads the feed every 250 ms, well within a heartbeat).
  revocations.subscribe((r) => services.hub.endTagged(`${r.kind}:${r.id}`));
  return {
    config,
    sql,
    live,
    ...services,
    tokens,
    log,
    revocations,
    credentials,
  };
}
