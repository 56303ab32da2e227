import { ApiError } from "../core/errors.ts";
import type { LiveStore } from "../live/store.ts";
import { withTimeout } from "../live/store.ts";
import type { Logger } from "../core/log.ts";

/** A credential (or everything of a rider, or a share link) that must stop working. */
export type Revocation = { kind: "session" | "api_key" | "user" | "share"; id: string };

/**
 * The revocation feed: every instance learns of every revocation within one poll (~250 ms)
 * without a Postgres read per request.
 *
 * Storage: one Redis stream `<prefix>auth:revocations`, one entry `{r: "<kind>:<id>"}` per
 * revocation. Stream ids are assigned by Redis and only grow, so each instance reads
 * `XRANGE (lastId +` once per poll — one command per poll per instance, none per request, and no
 * clock skew between instances can hide an entry. Entries are trimmed (XADD MINID ~) once older
 * than `retentionMs`, which must cover the longest a credential can be honoured without asking
 * Postgres: an access token's lifetime (sessions, users) and the API-key cache's entry lifetime
 * (keys, users). Past that, a revoked access token has expired and a cached key is re-read from
 * Postgres, where the revocation was committed first.
 */
export type Revocations = {
  /**
   * Records a revocation in Redis for every instance (call it after the Postgres revocation
   * commits). This instance treats it as revoked at once, even if Redis fails; then it keeps
   * retrying in the background and the call rejects with a 503 so the client retries.
   */
  publish: (r: Revocation) => Promise<void>;
  /** True when the feed has shown this revocation (in memory; current to within one poll). */
  isRevoked: (r: Revocation) => boolean;
  /** Calls `listener` once for every revocation seen from now on (this or any instance). */
  subscribe: (listener: (r: Revocation) => void) => () => void;
  /** True when the feed was read successfully within the last `freshMs` (~2 s). */
  fresh: () => boolean;
  /** Loads the retained revocations and starts polling. */
  start: () => void;
  /** Stops polling; resolves once a poll in flight has finished. */
  close: () => Promise<void>;
};

const kinds = new Set<Revocation["kind"]>(["session", "api_key", "user", "share"]);
/** Entries read per XRANGE page. */
const pageSize = 1000;

function member(r: Revocation): string {
  return `${r.kind}:${r.id}`;
}

function parseMember(text: unknown): Revocation | undefined {
  if (typeof text !== "string") return undefined;
  const colon = text.indexOf(":");
  const kind = text.slice(0, colon) as Revocation["kind"];
  if (colon < 1 || !kinds.has(kind)) return undefined;
  return { kind, id: text.slice(colon + 1) };
}

/** The millisecond part of a stream id (`<ms>-<seq>`). */
function idTime(id: string): number {
  return Number(id.slice(0, id.indexOf("-")));
}

/** Builds the revocation feed on the live store (not started: call `start`). */
export function createRevocations(
  live: LiveStore,
  options: { retentionMs: number; log: Logger; pollMs?: number; freshMs?: number },
): Revocations {
  const key = live.keys.revocations;
  const pollMs = options.pollMs ?? 250;
  const freshMs = options.freshMs ?? 2000;
  const { retentionMs, log } = options;
  /** member -> when it was revoked (ms), for expiry from memory. */
  const revoked = new Map<string, number>();
  const listeners = new Set<(r: Revocation) => void>();
  /** Revocations this instance could not write to Redis yet. */
  const pending = new Map<string, Revocation>();
  let lastId: string | undefined;
  let lastReadAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let lastExpiry = 0;
  let inFlight: Promise<void> = Promise.resolve();

  const see = (r: Revocation, at: number) => {
    const m = member(r);
    if (revoked.has(m)) return;
    revoked.set(m, at);
    for (const listener of listeners) {
      try {
        listener(r);
      } catch (err) {
        log.warn("revocation listener failed", { err: String(err) });
      }
    }
  };

  const expire = (now: number) => {
    if (now - lastExpiry < 10_000) return;
    lastExpiry = now;
    // Map order is insertion order, roughly oldest first.
    for (const [m, at] of revoked) {
      if (at >= now - retentionMs - 60_000) break;
      revoked.delete(m);
    }
  };

  const write = (r: Revocation) =>
    live.raw.xadd(key, "*", { r: member(r) }, {
      trim: { type: "MINID", threshold: `${Date.now() - retentionMs}`, comparison: "~" },
    });

  /** Reads every entry after `lastId` (all retained entries the first time), page by page. */
  const read = async () => {
    for (;;) {
      const start = lastId === undefined ? "-" : `(${lastId}`;
      const rows = await live.raw.xrange(key, start, "+", pageSize) as unknown as [
        string,
        string[],
      ][];
      for (const [id, fields] of rows) {
        lastId = id;
        const r = parseMember(fields[fields.indexOf("r") + 1]);
        if (r) see(r, idTime(id));
      }
      if (rows.length < pageSize) return;
    }
  };

  const retryPending = async () => {
    for (const [m, r] of pending) {
      await write(r);
      pending.delete(m);
    }
  };

  const tick = async () => {
    const began = Date.now();
    try {
      const done = await withTimeout(
        retryPending().then(read).then(() => true),
        Math.max(500, freshMs - pollMs),
      );
      if (done) lastReadAt = began;
    } catch (err) {
      log.debug("revocation feed read failed", { err: String(err) });
    }
    expire(Date.now());
  };

  const poll = () => {
    inFlight = tick().finally(() => {
      if (running) timer = setTimeout(poll, pollMs);
    });
  };

  return {
    async publish(r) {
      see(r, Date.now());
      try {
        await write(r);
      } catch (err) {
        pending.set(member(r), r);
        log.warn("could not publish a revocation; retrying in the background", {
          kind: r.kind,
          err: String(err),
        });
        throw new ApiError(
          "revocation_pending",
          "The revocation is saved but could not reach every instance yet; try again shortly",
          { headers: { "Retry-After": "2" } },
        );
      }
    },
    isRevoked: (r) => revoked.has(member(r)),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    fresh: () => running && Date.now() - lastReadAt <= freshMs,
    start() {
      if (running) return;
      running = true;
      timer = setTimeout(poll, 0);
    },
    async close() {
      running = false;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
