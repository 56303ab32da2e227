import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { clientAddress } from "./client_address.ts";

/**
 * Limits requests per caller in fixed one-minute windows, in this instance's memory.
 *
 * The caller is the rider (token or personal key) when known — so a household behind one address
 * is not one caller — and otherwise the shared key or anonymous caller per client address (see
 * clientAddress: X-Forwarded-For counts only behind TRUSTED_PROXY_HOPS proxies). 0 disables it.
 */
export function rateLimit(perMinute: number) {
  // Sliding window: the previous minute's count, weighted by how much of it still overlaps the
  // last 60 s, plus this minute's count (no burst of twice the limit at a window edge).
  let windowStart = 0;
  let previous = new Map<string, number>();
  let current = new Map<string, number>();
  return createMiddleware<AppEnv>(async (c, next) => {
    if (perMinute <= 0) return await next();
    const now = Date.now();
    const start = now - (now % 60_000);
    if (start !== windowStart) {
      previous = start - windowStart === 60_000 ? current : new Map();
      current = new Map();
      windowStart = start;
    }
    const principal = c.get("principal");
    const address = clientAddress(c, c.get("deps").config.trustedProxyHops);
    const key = principal?.kind === "user"
      ? `user:${principal.userId}`
      : `${principal?.kind ?? "anonymous"}:${address}`;
    const count = (current.get(key) ?? 0) + 1;
    const weight = 1 - (now - windowStart) / 60_000;
    if (count + (previous.get(key) ?? 0) * weight > perMinute) {
      const retryAfter = Math.max(1, Math.ceil((windowStart + 60_000 - now) / 1000));
      throw new ApiError(429, "rate_limited", `Too many requests; try again in ${retryAfter} s`, {
        headers: { "Retry-After": String(retryAfter) },
      });
    }
    current.set(key, count);
    await next();
  });
}
