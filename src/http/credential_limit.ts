import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv, Deps } from "./deps.ts";
import { ApiError } from "../core/errors.ts";
import { withTimeout } from "../live/store.ts";
import { clientAddress } from "./client_address.ts";

/** How long a Redis call of this limit may take before the request is let through. */
const redisTimeoutMs = 1000;
/** Blocks set by other instances are fetched again when the local copy is older than this. */
const refreshMs = 200;
/** A request waits for that fetch only when the local copy is older than this (an idle instance). */
const maxStaleMs = 1000;
/** At most one "Redis unavailable" log line per this interval and instance. */
const logEveryMs = 10_000;

async function digest(text: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(hash).slice(0, 16), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Whether the request carries a credential for `authenticate` to check. */
function presentsCredential(c: Context<AppEnv>): boolean {
  return c.req.header("authorization") !== undefined ||
    c.req.header("x-api-key") !== undefined ||
    (c.req.url.includes("apiKey=") && c.req.query("apiKey") !== undefined);
}

function tooMany(retryAfterS: number): ApiError {
  return new ApiError(
    "too_many_attempts",
    `Too many rejected credentials from this address; try again in ${retryAfterS} s`,
    { headers: { "Retry-After": String(retryAfterS) }, extra: { retryAfter: retryAfterS } },
  );
}

/**
 * Limits rejected credentials per client address, shared by every instance through Redis; mount
 * it before `authenticate`.
 *
 * A request that presents a credential (Bearer token, X-API-Key, ?apiKey) and is answered 401
 * without a principal counts as one failure of its client address (see clientAddress) in a fixed
 * window of `AUTH_FAILURES_WINDOW_S` from the first failure. At `AUTH_FAILURES_PER_CLIENT`
 * failures the address is blocked until the window ends: every request of it that presents a
 * credential answers 429 with Retry-After before the credential is looked at, so a right guess
 * cannot be told from a wrong one. Requests without a credential are not affected.
 *
 * Checking Redis before every request would cost a round trip on the hot path (the legacy message
 * POST), so each instance keeps a copy of the blocked addresses: the instance that counts the
 * failure which reaches the limit blocks the address at once, the others fetch the set (one
 * ZRANGE, at most every 200 ms and only while requests come in) and block it within about that
 * time. Meanwhile an attacker gets at most one more checked guess per other instance, since that
 * instance's own failure count then answers over the limit and blocks locally too.
 *
 * Fails open: when Redis does not answer within 1 s the request is checked as if nothing were
 * blocked, and a line is logged. A Redis outage then costs the guessing protection (credentials
 * are long random values or signed tokens; the shared API_KEY is the one worth guessing) rather
 * than failing every authenticated request of every rider.
 */
export function credentialLimit(deps: Deps) {
  const { perClient, windowS } = deps.config.credentialFailures;
  const blockedKey = deps.live.keys.credentialBlocked;
  /** Blocked address digests → blocked until (epoch ms), as last fetched or set here. */
  let blocked = new Map<string, number>();
  let fetchedAt = -Infinity;
  let fetching: Promise<void> | undefined;
  let loggedAt = -Infinity;

  const unavailable = (what: string) => {
    const now = Date.now();
    if (now - loggedAt < logEveryMs) return;
    loggedAt = now;
    deps.log.warn("credential failure limit unavailable (Redis); letting requests through", {
      what,
    });
  };

  const fetchBlocked = async () => {
    const now = Date.now();
    const reply = await withTimeout(
      deps.live.raw.zrange<string[]>(blockedKey, now, "+inf", { byScore: true, withScores: true }),
      redisTimeoutMs,
    );
    // Also on failure: the next attempt waits another interval instead of delaying requests.
    fetchedAt = Date.now();
    if (!reply) return unavailable("fetch blocked addresses");
    const next = new Map<string, number>();
    for (let i = 0; i + 1 < reply.length; i += 2) next.set(String(reply[i]), Number(reply[i + 1]));
    // Blocks set here since the fetch started are kept; the fetched ones replace the rest.
    for (const [id, until] of blocked) {
      if (until > now && (next.get(id) ?? 0) < until) next.set(id, until);
    }
    blocked = next;
  };

  /** Starts a refresh when due; answers a promise only when the copy is too stale to use. */
  const refresh = (): Promise<void> | undefined => {
    const age = Date.now() - fetchedAt;
    if (age < refreshMs) return undefined;
    fetching ??= fetchBlocked().finally(() => (fetching = undefined));
    return age >= maxStaleMs ? fetching : undefined;
  };

  const countFailure = async (id: string) => {
    const key = deps.live.keys.credentialFailures(id);
    const tx = deps.live.redis.multi();
    tx.incr(key);
    tx.expire(key, windowS, "NX");
    tx.pttl(key);
    const result = await withTimeout(tx.exec<[number, number, number]>(), redisTimeoutMs);
    if (!result) return unavailable("count a failure");
    const [failures, , ttlMs] = result;
    if (failures < perClient) return;
    const now = Date.now();
    const until = now + (ttlMs > 0 ? ttlMs : windowS * 1000);
    if ((blocked.get(id) ?? 0) < until) {
      blocked.set(id, until);
      deps.log.warn("client blocked after rejected credentials", {
        client: id,
        failures,
        retryAfterS: Math.ceil((until - now) / 1000),
      });
    }
    const share = deps.live.redis.multi();
    share.zadd(blockedKey, { gt: true }, { score: until, member: id });
    share.zremrangebyscore(blockedKey, "-inf", now);
    share.expire(blockedKey, windowS + 1);
    if (!(await withTimeout(share.exec(), redisTimeoutMs))) unavailable("share a block");
  };

  return createMiddleware<AppEnv>(async (c, next) => {
    if (perClient <= 0 || !presentsCredential(c)) return await next();
    // No await on the common path: a pending promise costs every request a turn.
    const stale = refresh();
    if (stale) await stale;
    let id: string | undefined;
    if (blocked.size > 0) {
      id = await digest(clientAddress(c, deps.config.trustedProxyHops));
      const until = blocked.get(id);
      if (until !== undefined) {
        const now = Date.now();
        if (until > now) throw tooMany(Math.max(1, Math.ceil((until - now) / 1000)));
        blocked.delete(id);
      }
    }
    await next();
    if (c.res.status === 401 && c.get("principal") === null) {
      await countFailure(id ?? await digest(clientAddress(c, deps.config.trustedProxyHops)));
    }
  });
}
