import type { Context } from "hono";
import type { AppEnv } from "./deps.ts";

/**
 * The client's address: the peer of the connection, or — behind `hops` trusted proxies that each
 * append to X-Forwarded-For — the entry the outermost trusted proxy appended. Entries further
 * left are the client's own claims and are never trusted.
 */
export function clientAddress(c: Context<AppEnv>, hops: number): string {
  if (hops > 0) {
    const chain = (c.req.header("x-forwarded-for") ?? "")
      .split(",").map((entry) => entry.trim()).filter(Boolean);
    if (chain.length > 0) return chain[Math.max(0, chain.length - hops)];
  }
  const env = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return env?.remoteAddr?.hostname ?? "unknown";
}
