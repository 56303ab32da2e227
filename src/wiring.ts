import { createCredentialCache } from "./auth/credential_cache.ts";
import { createPasswordHasher } from "./auth/password_pool.ts";
import { createRevocations } from "./auth/revocations.ts";
import type { TokenIssuer } from "./auth/tokens.ts";
import type { Sql } from "./db/client.ts";
import type { Deps } from "./http/deps.ts";
import type { Config } from "./core/config.ts";
import type { Logger } from "./core/log.ts";
import { createHub } from "./streams/hub.ts";
import { sseSlots } from "./streams/sse_slots.ts";
import { streamStore } from "./streams/store.ts";
import { maxRideSpanMs } from "./core/sample.ts";
import { createLiveStore, type LiveStore } from "./live/store.ts";
import { metrics, onScrape } from "./core/metrics.ts";
import { withTimeout } from "./live/store.ts";
import { workoutLive } from "./live/workout_live.ts";

/**
 * The live-path services built on one live store: workout samples, legacy streams, SSE hub and
 * the SSE connection counter.
 */
export function liveServices(live: LiveStore, config: Config, log: Logger) {
  const ttlMs = config.liveTtlS * 1000;
  const streams = streamStore(live, { ttlMs });
  return {
    workoutLive: workoutLive(live, { ttlMs, maxSpanMs: maxRideSpanMs }),
    streams,
    sseSlots: sseSlots(live, { renewMs: config.sseHeartbeatS * 1000, log }),
    hub: createHub(live, streams, {
      pollMs: config.streamPollMs,
      heartbeatMs: config.sseHeartbeatS * 1000,
      log,
    }),
  };
}

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
    passwords: createPasswordHasher({ ...config.passwordPool, log }),
  };
}

/**
 * Adds an instance's states to `/metrics` on every scrape: its SSE viewers and watched streams,
 * its Postgres pool, the sign-ins waiting for a password worker, and the live rides in the
 * database (one indexed count, given 1 s). Returns the removal, for the instance's stop.
 */
export function watchInstance(deps: Deps): () => void {
  return onScrape(async () => {
    const hub = deps.hub.stats();
    metrics.sseViewers.inc(hub.viewers);
    metrics.sseStreams.inc(hub.watchedStreams);
    const pool = deps.sql.poolStats();
    metrics.poolMax.inc(pool.max);
    metrics.poolWaiting.inc(pool.waiting);
    for (const state of ["busy", "idle", "connecting", "reserved"] as const) {
      metrics.poolConnections.inc({ state }, pool[state]);
    }
    metrics.passwordQueue.inc(deps.passwords.queued());
    const rows = await withTimeout(
      deps.sql<{ n: number }[]>`select count(*)::int as n from workouts where status = 'active'`,
      1000,
    );
    if (rows) metrics.liveRides.inc(rows[0].n);
  });
}
