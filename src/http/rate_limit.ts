import { Ratelimit } from "@upstash/ratelimit";
import { createMiddleware } from "hono/factory";
import type { AppEnv, Deps } from "./deps.ts";
import { ApiError } from "../core/errors.ts";
import { withTimeout } from "../live/store.ts";
import { clientAddress } from "./client_address.ts";

const windowMs = 60_000;
/** How long a Redis call of the limit may take before the request is let through. */
const redisTimeoutMs = 1000;
/** After Redis failed, requests are let through without asking it for this long. */
const outageMs = 1000;
/** A caller over the limit is answered 429 here for this long before Redis is asked again. */
const recheckMs = 1000;
/** More tracked callers than this (in one window, on one instance) and the leases are dropped. */
const maxCallers = 100_000;
const logEveryMs = 10_000;

/** What this instance holds for one caller in the current window. */
type Lease = {
  /** The window (minute since the epoch) the tokens were claimed in. */
  window: number;
  /** Requests already counted in Redis and not yet used on this instance. */
  tokens: number;
  /** The caller's allowance left in Redis after the last claim (-1 before the first). */
  remaining: number;
  /** Until then (epoch ms) requests answer 429 without asking Redis. */
  blockedUntil: number;
  /** In flight: a claim of more tokens, which concurrent requests wait for. */
  claim?: Promise<void>;
  /** Requests on this instance waiting for tokens (a claim asks for at least that many). */
  waiting: number;
};

/**
 * Limits requests per caller: `RATE_LIMIT_PER_MINUTE` in a sliding one-minute window
 * (@upstash/ratelimit's slidingWindow), counted in Redis so that every instance shares it.
 *
 * The caller is the rider (token or personal key) when known — so a household behind one address
 * is not one caller — and otherwise the shared key or anonymous caller per client address (see
 * clientAddress: X-Forwarded-For counts only behind TRUSTED_PROXY_HOPS proxies).
 *
 * Asking Redis for every request would add a round trip (and ~0.3 ms of CPU) to the hot paths,
 * so an instance claims several requests at once (`limit(id, { rate: n })`) and spends them
 * locally: n starts at 1, then is a tenth of what the caller has left, at most 1/50 of the limit,
 * and shrinks to 1 near the limit. Every request an instance lets through was counted in Redis
 * beforehand, so N instances together never allow more than the limit; claimed but unspent
 * requests (at most a few per instance near the limit) make them allow slightly fewer. Over the
 * limit, an instance answers 429 locally and asks Redis again after a second.
 *
 * Answers carry RateLimit-Limit, RateLimit-Remaining (this instance's view) and RateLimit-Reset;
 * a 429 also Retry-After (the end of the current minute, when the oldest counts start to fade).
 * Fails open: when Redis does not answer within 1 s requests are let through for a second, and a
 * line is logged — an outage of the limit's store must not take the API down with it.
 */
export function rateLimit(deps: Deps) {
  const perMinute = deps.config.rateLimitPerMinute;
  const limiter = new Ratelimit({
    redis: deps.live.redis,
    limiter: Ratelimit.slidingWindow(perMinute, `${windowMs} ms`),
    prefix: deps.live.keys.rateLimit,
    // Blocking is done here (blockedUntil), the timeout by withTimeout, which also catches errors.
    ephemeralCache: false,
    timeout: 0,
    analytics: false,
    enableProtection: false,
  });
  const maxClaim = Math.max(1, Math.min(100, Math.floor(perMinute / 50)));
  const limitText = String(perMinute);
  let leases = new Map<string, Lease>();
  let leasesWindow = 0;
  let downUntil = 0;
  let loggedAt = -Infinity;

  const claim = async (lease: Lease, id: string) => {
    const wanted = Math.max(1, lease.waiting);
    const n = lease.remaining < 0 ? Math.min(maxClaim, wanted) : Math.min(
      maxClaim,
      Math.max(wanted, Math.floor(lease.remaining / 10)),
      lease.remaining || 1,
    );
    const result = await withTimeout(limiter.limit(id, { rate: n }), redisTimeoutMs);
    const now = Date.now();
    if (!result) {
      downUntil = now + outageMs;
      if (now - loggedAt >= logEveryMs) {
        loggedAt = now;
        deps.log.warn("rate limit unavailable (Redis); letting requests through", {});
      }
      return;
    }
    if (Math.floor(now / windowMs) !== lease.window) return; // claimed into a window now over
    if (result.success) {
      lease.tokens += n;
      lease.remaining = result.remaining;
    } else {
      // Over the limit (or so close that these n did not fit: they are then counted unused).
      lease.remaining = 0;
      lease.blockedUntil = now + recheckMs;
    }
  };

  return createMiddleware<AppEnv>(async (c, next) => {
    const principal = c.get("principal");
    const id = principal?.kind === "user"
      ? `user:${principal.userId}`
      : `${principal?.kind ?? "anonymous"}:${clientAddress(c, deps.config.trustedProxyHops)}`;
    // Every turn either serves the request or awaits a claim, which grants tokens, blocks the
    // caller, finds Redis down or ends with the window: the loop always ends.
    for (;;) {
      const now = Date.now();
      const window = Math.floor(now / windowMs);
      if (window !== leasesWindow || leases.size > maxCallers) {
        leases = new Map();
        leasesWindow = window;
      }
      let lease = leases.get(id);
      if (!lease) {
        lease = { window, tokens: 0, remaining: -1, blockedUntil: 0, waiting: 0 };
        leases.set(id, lease);
      }
      const reset = (window + 1) * windowMs;
      const resetS = Math.max(1, Math.ceil((reset - now) / 1000));
      if (lease.blockedUntil > now) {
        throw new ApiError("rate_limited", `Too many requests; try again in ${resetS} s`, {
          headers: {
            "Retry-After": String(resetS),
            "RateLimit-Limit": limitText,
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": String(resetS),
          },
        });
      }
      if (lease.tokens > 0) {
        lease.tokens--;
        await next();
        const headers = c.res.headers;
        headers.set("RateLimit-Limit", limitText);
        headers.set("RateLimit-Remaining", String(Math.max(0, lease.remaining + lease.tokens)));
        headers.set("RateLimit-Reset", String(resetS));
        return;
      }
      if (downUntil > now) break; // Redis is unavailable: fail open
      const held = lease;
      held.waiting++;
      held.claim ??= claim(held, id).finally(() => (held.claim = undefined));
      await held.claim;
      held.waiting--;
    }
    await next();
  });
}
