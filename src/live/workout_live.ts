import type { Sample } from "../core/sample.ts";
import type { LiveStore } from "./store.ts";
import { scriptBatcher } from "./transport.ts";

/**
 * Live samples of active workouts, in Redis.
 *
 * Keys (all under the configured prefix; the names are built in keys.ts, and streams/store.ts's
 * message script also reads `workout:<id>` and writes `workouts:active`, see there):
 * - `workout:<id>` hash: `user` (owner id), `state` (`active` or `closing`), `closing_at` (ms),
 *   `first` (time of the first sample, ms: a ride may span at most `maxSpanMs` around it),
 *   `gap` (`1` once the live keys vanished mid-ride and were re-opened: samples were lost);
 * - `workout:<id>:samples` stream: one entry per accepted batch, field `s` holding one JSON
 *   document `[[time, power, cadence, heartRate, speed, distance, altitude, lat, lon], …]`
 *   (a JSON document so that @upstash/redis's parsing of stream values is lossless);
 * - `workouts:active` sorted set: workout id scored by its last write (ms), for the idle sweeper;
 * - `workouts:ended:<id>` a marker left for a minute after a workout's live keys are removed, so a
 *   request that read the workout as active just before it was archived cannot open it again.
 *
 * Every write refreshes the TTL of the workout's keys, so an abandoned ride never leaks memory.
 */

/** A stored sample row: time (epoch ms) and the metrics in `Sample` field order. */
type Row = [number, ...(number | null)[]];

const ingestScript = `
local meta = redis.call('HMGET', KEYS[1], 'user', 'state')
if not meta[1] or meta[1] ~= ARGV[1] then return 0 end
if meta[2] ~= 'active' then return -1 end
local first = tonumber(redis.call('HGET', KEYS[1], 'first') or ARGV[6])
if tonumber(ARGV[7]) - first > tonumber(ARGV[8]) or first - tonumber(ARGV[6]) > tonumber(ARGV[8]) then
  return -2
end
redis.call('HSETNX', KEYS[1], 'first', ARGV[6])
local id = redis.call('XADD', KEYS[2], '*', 's', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
return id
`;

// A workout whose live keys are gone (expired, flushed) is still closed, so that nothing can
// revive it while it is archived.
const closeScript = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('HSET', KEYS[1], 'state', 'closing', 'closing_at', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if state == 'closing' and tonumber(redis.call('HGET', KEYS[1], 'closing_at') or '0') > tonumber(ARGV[2]) then
  return -1
end
redis.call('HSET', KEYS[1], 'state', 'closing', 'closing_at', ARGV[1])
return 1
`;

// KEYS: meta, ended marker, workouts:active. ARGV: user, ttl, now, id.
// 0: ended (archived or deleted); 1: live keys already there; 2: opened again, marked with a gap
// (what the lost keys held is gone).
const reviveScript = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'state', 'active', 'gap', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 2
`;

/** How long the ended marker of a workout stays (ms): far longer than any request that read it as active. */
const endedMarkerMs = 60_000;

/** What appending a batch did. */
export type AppendResult =
  | { ok: true; cursor: string }
  | { ok: false; reason: "not_live" | "closing" | "span" };

/** Samples read back from a live stream, with the cursor of the last entry read. */
export type LivePage = { samples: Sample[]; cursor: string | null; entries: number };

function toRow(s: Sample): Row {
  return [s.time, s.power, s.cadence, s.heartRate, s.speed, s.distance, s.altitude, s.lat, s.lon];
}

function fromRow(row: readonly (number | null)[]): Sample {
  return {
    time: row[0] as number,
    power: row[1] ?? null,
    cadence: row[2] ?? null,
    heartRate: row[3] ?? null,
    speed: row[4] ?? null,
    distance: row[5] ?? null,
    altitude: row[6] ?? null,
    lat: row[7] ?? null,
    lon: row[8] ?? null,
  };
}

/** Decodes an entry's `s` field, whether the client already parsed the JSON or not. */
function decodeEntry(value: unknown): Sample[] {
  const rows = typeof value === "string" ? JSON.parse(value) : value;
  if (!Array.isArray(rows)) throw new Error("Live stream entry is not a list of samples");
  return rows.map(fromRow);
}

/** Live-sample operations for workouts, built on the live store. */
export function workoutLive(live: LiveStore, options: { ttlMs: number; maxSpanMs: number }) {
  const ttlMs = options.ttlMs;
  const metaKey = live.keys.workout;
  const streamKey = live.keys.workoutSamples;
  const activeKey = live.keys.workoutsActive;
  // Through the batched transport, as the legacy message POST: calls that arrive while a round
  // trip is under way share the next pipeline request, written at most once (a 2xx only after
  // Redis answered). One @upstash/redis fetch per call cost 250–300 µs of CPU here.
  const ingest = scriptBatcher<number | string>(live.transport, ingestScript);
  const endedKey = live.keys.workoutEnded;
  const close = live.redis.createScript<number>(closeScript);
  const revive = live.redis.createScript<number>(reviveScript);

  return {
    /**
     * Registers a workout as live for its owner (idempotent). `gap` marks a re-open after its
     * live keys vanished (samples were lost), so the archive says so.
     */
    async open(
      workoutId: string,
      userId: string,
      now = Date.now(),
      flags: { gap?: boolean } = {},
    ): Promise<void> {
      const tx = live.redis.multi();
      tx.hset(metaKey(workoutId), {
        user: userId,
        state: "active",
        ...(flags.gap ? { gap: "1" } : {}),
      });
      tx.pexpire(metaKey(workoutId), options.ttlMs);
      tx.zadd(activeKey, { score: now, member: workoutId });
      await tx.exec();
    },

    /**
     * Appends a batch as one stream entry with one Redis command (a Lua script), batched with
     * other requests' calls into one REST request.
     */
    async append(
      workoutId: string,
      userId: string,
      samples: readonly Sample[],
      now = Date.now(),
    ): Promise<AppendResult> {
      let first = Infinity;
      let last = -Infinity;
      for (const s of samples) {
        if (s.time < first) first = s.time;
        if (s.time > last) last = s.time;
      }
      const result = await ingest.exec(
        [metaKey(workoutId), streamKey(workoutId), activeKey],
        [
          userId,
          JSON.stringify(samples.map(toRow)),
          String(options.ttlMs),
          String(now),
          workoutId,
          String(first),
          String(last),
          String(options.maxSpanMs),
        ],
      );
      if (result === 0) return { ok: false, reason: "not_live" };
      if (result === -1) return { ok: false, reason: "closing" };
      if (result === -2) return { ok: false, reason: "span" };
      return { ok: true, cursor: String(result) };
    },

    /** Reads up to `count` entries after `cursor` (exclusive; null = from the start). */
    async read(workoutId: string, cursor: string | null, count: number): Promise<LivePage> {
      const start = cursor === null ? "-" : `(${cursor}`;
      const entries = await live.redis.xrange(streamKey(workoutId), start, "+", count);
      const samples: Sample[] = [];
      let last: string | null = cursor;
      let n = 0;
      for (const [id, fields] of Object.entries(entries)) {
        samples.push(...decodeEntry((fields as Record<string, unknown>).s));
        last = id;
        n++;
      }
      return { samples, cursor: last, entries: n };
    },

    /** Reads every entry, paged. */
    async readAll(workoutId: string, pageSize = 1000): Promise<LivePage> {
      const samples: Sample[] = [];
      let cursor: string | null = null;
      let entries = 0;
      for (;;) {
        const page: LivePage = await this.read(workoutId, cursor, pageSize);
        samples.push(...page.samples);
        entries += page.entries;
        if (page.entries < pageSize) return { samples, cursor: page.cursor, entries };
        cursor = page.cursor;
      }
    },

    /**
     * Opens the live keys of an active workout again when they are gone (Redis lost them), unless
     * the workout was archived or deleted meanwhile. Answers "ended", "live" (they were there)
     * or "revived".
     */
    async revive(
      workoutId: string,
      userId: string,
      now = Date.now(),
    ): Promise<"ended" | "live" | "revived"> {
      const result = await revive.exec([metaKey(workoutId), endedKey(workoutId), activeKey], [
        userId,
        String(options.ttlMs),
        String(now),
        workoutId,
      ]);
      return result === 0 ? "ended" : result === 1 ? "live" : "revived";
    },

    /**
     * Stops ingest before archiving. Answers false when another closer holds it (closing for
     * less than `staleMs`) or the workout is not live.
     */
    async markClosing(workoutId: string, options: { now?: number; staleMs?: number } = {}) {
      const now = options.now ?? Date.now();
      const result = await close.exec([metaKey(workoutId)], [
        String(now),
        String(now - (options.staleMs ?? 5 * 60_000)),
        String(ttlMs),
      ]);
      return result === 1;
    },

    /** Lets ingest continue after a failed archive. */
    async reopen(workoutId: string): Promise<void> {
      const tx = live.redis.multi();
      tx.hset(metaKey(workoutId), { state: "active" });
      tx.pexpire(metaKey(workoutId), options.ttlMs);
      tx.pexpire(streamKey(workoutId), options.ttlMs);
      await tx.exec();
    },

    /** Whether the workout's live meta is there, and whether it lost samples (a re-open). */
    async liveState(workoutId: string): Promise<{ present: boolean; gap: boolean }> {
      const row = await live.redis.hmget<Record<string, unknown>>(
        metaKey(workoutId),
        "user",
        "gap",
      );
      return { present: row?.user != null, gap: row?.gap != null };
    },

    /** True when the workout has live keys. */
    async exists(workoutId: string): Promise<boolean> {
      return (await live.redis.exists(metaKey(workoutId), streamKey(workoutId))) > 0;
    },

    /** Deletes a workout's live keys (after archiving or deleting it) and marks it ended. */
    async remove(workoutId: string): Promise<void> {
      const tx = live.redis.multi();
      tx.del(metaKey(workoutId), streamKey(workoutId));
      tx.zrem(activeKey, workoutId);
      tx.set(endedKey(workoutId), "1", { px: endedMarkerMs });
      await tx.exec();
    },

    /** Workouts whose last write is older than `before` (ms), oldest first. */
    async idleSince(before: number, limit = 50): Promise<string[]> {
      return await live.redis.zrange<string[]>(activeKey, 0, before, {
        byScore: true,
        offset: 0,
        count: limit,
      });
    },
  };
}

/** The live-sample operations object. */
export type WorkoutLive = ReturnType<typeof workoutLive>;
