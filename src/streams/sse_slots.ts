import type { LiveStore } from "../live/store.ts";
import type { Logger } from "../core/log.ts";

// KEYS: the holder's slots. ARGV: now, max, lease end, connection id, lease ms.
const acquireScript = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

/**
 * Counts open SSE connections per holder (a rider, or a client address) across every instance:
 * a sorted set per holder in Redis, one member per connection scored by the end of its lease.
 * Each instance renews the leases of its own connections every `renewMs`; a connection of an
 * instance that died stops counting when its lease ends (3 renewals later).
 */
export function sseSlots(live: LiveStore, options: { renewMs: number; log: Logger }) {
  const leaseMs = options.renewMs * 3;
  const acquire = live.redis.createScript<number>(acquireScript);
  const held = new Map<string, string>(); // connection id -> holder key
  let timer: ReturnType<typeof setInterval> | undefined;

  async function renew() {
    if (held.size === 0) return;
    const until = Date.now() + leaseMs;
    const p = live.redis.pipeline();
    for (const [id, key] of held) p.zadd(key, { xx: true }, { score: until, member: id });
    for (const key of new Set(held.values())) p.pexpire(key, leaseMs);
    await p.exec().catch((err) =>
      options.log.warn("could not renew SSE connection leases", { err: String(err) })
    );
  }

  return {
    /**
     * Takes one of at most `max` slots of a holder; answers the slot's id, or null when the
     * holder has `max` connections open already.
     */
    async take(holder: string, max: number): Promise<string | null> {
      const key = live.keys.sseSlots(holder);
      const id = crypto.randomUUID();
      const now = Date.now();
      const ok = await acquire.exec([key], [
        String(now),
        String(max),
        String(now + leaseMs),
        id,
        String(leaseMs),
      ]);
      if (Number(ok) !== 1) return null;
      held.set(id, key);
      timer ??= setInterval(renew, options.renewMs);
      return id;
    },

    /** Gives a slot back (best effort: an unreturned slot ends with its lease). */
    give(id: string): void {
      const key = held.get(id);
      if (!key) return;
      held.delete(id);
      live.redis.zrem(key, id).catch(() => {});
      if (held.size === 0 && timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
      }
    },

    /** Stops renewing (on shutdown). */
    close(): void {
      clearInterval(timer);
      timer = undefined;
      held.clear();
    },
  };
}

/** The SSE slot counter. */
export type SseSlots = ReturnType<typeof sseSlots>;
