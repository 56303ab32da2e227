import type { CredentialCache } from "../auth/credential_cache.ts";
import type { PasswordHasher } from "../auth/password_pool.ts";
import type { Revocations } from "../auth/revocations.ts";
import type { TokenIssuer } from "../auth/tokens.ts";
import type { Config } from "../core/config.ts";
import type { Sql } from "../db/client.ts";
import type { LiveStore } from "../live/store.ts";
import type { WorkoutLive } from "../live/workout_live.ts";
import type { Hub } from "../streams/hub.ts";
import type { StreamStore } from "../streams/store.ts";
import type { SseSlots } from "../streams/sse_slots.ts";
import type { Logger } from "../core/log.ts";

/**
 * Who is calling: a rider (by token or personal API key) or an old client with the shared key;
 * with `API_KEY_RIDER` set, `riderId` is that rider's id (the shared key acts as them on
 * /api/workouts, /api/users and /api/analytics).
 */
export type Principal =
  | { kind: "user"; userId: string; via: "token"; sessionId: string }
  | { kind: "user"; userId: string; via: "api_key"; keyId: string }
  | { kind: "legacy"; riderId?: string };

/** Everything a request handler may use; built once by wiring.ts (or a test) and passed in. */
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
  /** Argon2id hashing on worker threads; closed by the instance after its last request. */
  passwords: PasswordHasher;
};

/** Hono's environment for this app: the variables middleware sets on `c.var`. */
export type AppEnv = {
  Variables: {
    requestId: string;
    deps: Deps;
    principal: Principal | null;
    /** A browser session's access token, from its cookie (src/http/browser_session.ts). */
    cookieToken?: string;
  };
};
