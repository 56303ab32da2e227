import { createMiddleware } from "hono/factory";
import type { AppEnv, Deps } from "./deps.ts";
import { ApiError } from "../core/errors.ts";
import { clientAddress } from "./client_address.ts";
import { withTimeout } from "../live/store.ts";

/** How long a limit check may wait for Redis before the attempt is let through. */
const redisTimeoutMs = 1000;

async function digest(text: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(hash).slice(0, 16), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * Counts one attempt in a fixed window (INCR + EXPIRE NX in one MULTI, shared by every instance).
 *
 * Fails open: when Redis does not answer in time the attempt is allowed (and logged), so that
 * sign-in keeps working through a Redis outage; the password hash cost still slows guessing.
 */
async function countAttempt(
  deps: Deps,
  key: string,
  windowS: number,
): Promise<{ count: number; retryAfterS: number } | undefined> {
  const tx = deps.live.redis.multi();
  tx.incr(key);
  tx.expire(key, windowS, "NX");
  tx.ttl(key);
  const result = await withTimeout(tx.exec<[number, number, number]>(), redisTimeoutMs);
  if (!result) {
    deps.log.warn("sign-in limits unavailable (Redis); allowing the attempt", { limit: key });
    return undefined;
  }
  const [count, , ttl] = result;
  return { count, retryAfterS: ttl > 0 ? ttl : windowS };
}

function tooMany(message: string, retryAfterS: number): ApiError {
  return new ApiError("too_many_attempts", `${message}; try again in ${retryAfterS} s`, {
    headers: { "Retry-After": String(retryAfterS) },
    extra: { retryAfter: retryAfterS },
  });
}

/** Counts every sign-in, registration or refresh attempt per client address; 429 beyond it. */
export const limitClient = createMiddleware<AppEnv>(async (c, next) => {
  const deps = c.var.deps;
  const { clientAttempts, clientWindowS } = deps.config.authLimits;
  if (clientAttempts > 0) {
    const client = await digest(clientAddress(c, deps.config.trustedProxyHops));
    const hit = await countAttempt(deps, deps.live.keys.authLimitClient(client), clientWindowS);
    if (hit && hit.count > clientAttempts) {
      throw tooMany("Too many sign-in attempts from this address", hit.retryAfterS);
    }
  }
  await next();
});

function accountKey(deps: Deps, email: string): Promise<string> {
  return digest(email.normalize("NFKC").toLowerCase()).then(deps.live.keys.authLimitAccount);
}

/**
 * Counts a password attempt for an account (by email, known or not, so the answer tells nothing
 * about whether it exists); 429 once the failures since the last success exceed the limit.
 */
export async function limitAccount(deps: Deps, email: string): Promise<void> {
  const { accountFailures, accountWindowS } = deps.config.authLimits;
  if (accountFailures <= 0) return;
  const hit = await countAttempt(deps, await accountKey(deps, email), accountWindowS);
  if (hit && hit.count > accountFailures) {
    throw tooMany("Too many failed sign-ins for this account", hit.retryAfterS);
  }
}

/** Forgets an account's failures after a successful sign-in (best effort). */
export async function resetAccount(deps: Deps, email: string): Promise<void> {
  if (deps.config.authLimits.accountFailures <= 0) return;
  await withTimeout(deps.live.redis.del(await accountKey(deps, email)), redisTimeoutMs);
}
