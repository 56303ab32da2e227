import type { Sample } from "../core/sample.ts";
import { telemetrySample } from "./telemetry_message.ts";
import { type PipelineReply, scriptBatcher } from "../live/transport.ts";
import { RedisReplyError } from "../core/errors.ts";
import type { LiveStore } from "../live/store.ts";

/**
 * The old clients' named live streams, in Redis (COMPAT "Live streams").
 *
 * Keys (under the configured prefix, names built in live/keys.ts):
 * - `stream:<name>` the Redis stream; every value a string (read back without JSON parsing);
 * - `stream:<name>:meta` hash: `owner` (`user:<id>` or `shared`), `workout` (bound workout id),
 *   `visibility` (`public` when the rider made the stream public; absent means private);
 * - `streams` sorted set: stream names by last write (ms), for listing and cleanup;
 * - `streams:events` a short stream of `created` / `deleted` / `visibility` events (with the
 *   stream's owner and visibility), for SSE on every instance.
 * Every write refreshes the TTL of the stream's keys.
 *
 * A rider's message is only ever added while the stream is bound to a live workout of that rider
 * (the workout that archives it); shared-key and anonymous streams belong to no rider and are
 * never archived.
 */

/** Who owns a stream: a rider, or everyone holding the shared key (and anonymous callers). */
export type StreamOwner = `user:${string}` | "shared";

/** Who may see a stream besides its owner: nobody (`private`) or everyone (`public`). */
export type Visibility = "private" | "public";

/** What access checks need to know of a stream. */
export type StreamMeta = { owner: StreamOwner; workout: string | null; visibility: Visibility };

/** One stream entry: its id and string fields. */
export type StreamEntry = { id: string; data: Record<string, string> };

/** A stream as GET /api/streams lists it. */
export type StreamInfo = {
  name: string;
  length: number;
  firstMessageId: string | null;
  lastMessageId: string | null;
};

const createScript = `
local owner = redis.call('HGET', KEYS[2], 'owner')
if owner and owner ~= ARGV[1] then return {-1, ''} end
if owner then
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
  return {0, last[1] and last[1][1] or ''}
end
redis.call('HSET', KEYS[2], 'owner', ARGV[1])
local id = redis.call('XADD', KEYS[1], '*', 'type', 'stream_created', 'timestamp', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[4])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', 1000, '*', 'type', 'created', 'stream', ARGV[4], 'owner', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {1, id}
`;

// KEYS: stream, meta, streams, streams:events, workouts:active. ARGV: owner, now, ttl, name,
// message, author ('' = none), the prefix of workout keys (keys.workoutPrefix: the bound workout's
// key, live/workout_live.ts's, is ARGV[7] .. id, its id being read here from the meta hash).
// -1: another owner's stream; -2: its workout is being archived; -3: a rider's stream without a
// live workout (the caller starts or revives one and binds it, then posts again).
const postScript = `
local meta = redis.call('HMGET', KEYS[2], 'owner', 'workout')
local owner, bound = meta[1], meta[2]
if owner and owner ~= ARGV[1] then return -1 end
if string.sub(ARGV[1], 1, 5) == 'user:' then
  if not bound then return -3 end
  local state = redis.call('HGET', ARGV[7] .. bound, 'state')
  if state == 'closing' then return -2 end
  if state ~= 'active' then return -3 end
elseif not owner then
  redis.call('HSET', KEYS[2], 'owner', ARGV[1])
  redis.call('XADD', KEYS[1], '*', 'type', 'stream_created', 'timestamp', ARGV[2])
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', 1000, '*', 'type', 'created', 'stream', ARGV[4], 'owner', ARGV[1])
end
local before = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local previous = ''
if before[1] then previous = before[1][1] end
local id
if ARGV[6] == '' then
  id = redis.call('XADD', KEYS[1], '*', 'message', ARGV[5], 'timestamp', ARGV[2])
else
  id = redis.call('XADD', KEYS[1], '*', 'message', ARGV[5], 'timestamp', ARGV[2], 'author', ARGV[6])
end
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if bound then
  redis.call('ZADD', KEYS[5], ARGV[2], bound)
  redis.call('PEXPIRE', ARGV[7] .. bound, ARGV[3])
end
return {id, previous}
`;

const removeScript = `
local existed = redis.call('EXISTS', KEYS[1], KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[5])
  redis.call('PEXPIRE', KEYS[5], 10000)
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', 1000, '*', 'type', 'deleted', 'stream', ARGV[1], 'tombstone', KEYS[5])
return existed
`;

// KEYS: meta, events. ARGV: visibility, name. 0 when the stream does not exist.
const visibilityScript = `
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return 0 end
redis.call('HSET', KEYS[1], 'visibility', ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 1000, '*', 'type', 'visibility', 'stream', ARGV[2], 'owner', owner, 'visibility', ARGV[1])
return 1
`;

// KEYS: meta. ARGV: workout id, the ended workout it may replace ('' = none). Binds the workout
// unless another one is bound; answers the bound id, or '' when the stream does not exist.
const bindScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return '' end
local current = redis.call('HGET', KEYS[1], 'workout')
if not current or current == ARGV[2] then
  redis.call('HSET', KEYS[1], 'workout', ARGV[1])
  return ARGV[1]
end
return current
`;

/**
 * What fixes every range of a stream's entries, from its XINFO STREAM reply: its length, last
 * generated id (it only grows, on every XADD, and XDEL leaves it) and first entry's id. Entries
 * never change, so a state with the same three holds the same entries, and once any entry was
 * added or removed the stream never shows an earlier fingerprint again. `"none"` for no stream;
 * undefined when the reply says nothing sure (then nothing is kept).
 */
function fingerprintOf(reply: PipelineReply): string | undefined {
  if (reply.error !== undefined) return /no such key/i.test(reply.error) ? "none" : undefined;
  const info = reply.result;
  if (!Array.isArray(info)) return undefined;
  let length: unknown;
  let lastId: unknown;
  let first: unknown;
  for (let i = 0; i + 1 < info.length; i += 2) {
    if (info[i] === "length") length = info[i + 1];
    else if (info[i] === "last-generated-id") lastId = info[i + 1];
    else if (info[i] === "first-entry") first = info[i + 1];
  }
  if (typeof length !== "number" || typeof lastId !== "string") return undefined;
  const firstId = Array.isArray(first) && typeof first[0] === "string" ? first[0] : "";
  return `${length} ${lastId} ${firstId}`;
}

/** The answers kept per instance: at most this many bytes of JSON text in all. */
const pageCacheBytes = 8 * 1024 * 1024;
/** A larger answer is not kept. */
const pageCacheMaxAnswer = 1024 * 1024;

/** One command's result in a pipeline's replies; its error reply thrown. */
function resultOf(reply: PipelineReply): unknown {
  if (reply.error !== undefined) throw new RedisReplyError(reply.error);
  return reply.result;
}

/** A stream's meta from its HMGET owner/workout/visibility and EXISTS replies. */
function toMeta(fields: unknown, exists: unknown): StreamMeta | null {
  const [owner, workout, visible] = (Array.isArray(fields) ? fields : [null, null, null]) as (
    | string
    | null
  )[];
  if (!owner) {
    // A stream without meta (written by an old deployment) is a shared one.
    return Number(exists) > 0
      ? { owner: "shared" as const, workout: null, visibility: "private" as const }
      : null;
  }
  return {
    owner: owner as StreamOwner,
    workout: workout ?? null,
    visibility: visible === "public" ? "public" as const : "private" as const,
  };
}

function toEntry([id, fields]: [string, string[]]): StreamEntry {
  // The fields every message entry has, as an object literal: one shape for all of them, which
  // JSON.stringify writes faster (a GET of 100 entries: ~18% less time than the loop below).
  if (fields.length === 4 && fields[0] === "message" && fields[2] === "timestamp") {
    return { id, data: { message: fields[1], timestamp: fields[3] } };
  }
  if (
    fields.length === 6 && fields[0] === "message" && fields[2] === "timestamp" &&
    fields[4] === "author"
  ) {
    return { id, data: { message: fields[1], timestamp: fields[3], author: fields[5] } };
  }
  const data: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) data[fields[i]] = fields[i + 1];
  return { id, data };
}

/** A message entry just appended to a stream. */
export type PostedEntry = {
  ok: true;
  messageId: string;
  /** The entry before it (null when it is the first). */
  previousId: string | null;
  /** Its fields exactly as stored. */
  fields: Record<string, string>;
};

/** Legacy stream operations on the live store. */
export function streamStore(live: LiveStore, options: { ttlMs: number }) {
  const streamKey = live.keys.stream;
  const metaKey = live.keys.streamMeta;
  const registryKey = live.keys.streams;
  const eventsKey = live.keys.streamsEvents;
  const create = live.raw.createScript<[number, string]>(createScript);
  const post = scriptBatcher<number | [string, string]>(live.transport, postScript);
  const remove = live.raw.createScript<number>(removeScript);
  const visibility = live.raw.createScript<number>(visibilityScript);
  const bind = live.raw.createScript<string>(bindScript);
  const pages = new Map<string, { fingerprint: string; json: string }>();
  let pagesBytes = 0;
  const keys = (name: string) => [streamKey(name), metaKey(name), registryKey, eventsKey];

  return {
    streamKey,
    eventsKey,

    /** Creates a stream with its marker entry; an existing one of the same owner is kept. */
    async create(name: string, owner: StreamOwner, now = Date.now()) {
      const [status, id] = await create.exec(keys(name), [
        owner,
        String(now),
        String(options.ttlMs),
        name,
      ]);
      if (Number(status) === -1) return { ok: false as const };
      return { ok: true as const, created: Number(status) === 1, messageId: id || null };
    },

    /**
     * Binds a stream to the workout that archives its telemetry, unless another workout than
     * `replacing` (one that has ended) is bound. Answers the workout bound now (null when the
     * stream does not exist).
     */
    async bindWorkout(
      name: string,
      workoutId: string,
      replacing: string | null = null,
    ): Promise<string | null> {
      const bound = await bind.exec([metaKey(name)], [workoutId, replacing ?? ""]);
      return bound ? String(bound) : null;
    },

    /** Makes a stream public or private again; false when it does not exist. */
    async setVisibility(name: string, value: Visibility): Promise<boolean> {
      return Number(await visibility.exec([metaKey(name), eventsKey], [value, name])) === 1;
    },

    /**
     * Appends a message entry (creating the stream if needed) with one Redis command. Answers its
     * id, the id of the entry before it and its fields as stored, so that this instance can
     * relay it to its own viewers without reading it back.
     */
    async post(
      name: string,
      entry: { owner: StreamOwner; message: string; author?: string },
      now = Date.now(),
    ): Promise<PostedEntry | { ok: false; reason: "forbidden" | "closing" | "no_workout" }> {
      const result = await post.exec([...keys(name), live.keys.workoutsActive], [
        entry.owner,
        String(now),
        String(options.ttlMs),
        name,
        entry.message,
        entry.author ?? "",
        live.keys.workoutPrefix, // the script builds the bound workout's key (see keys.ts)
      ]);
      if (Number(result) === -1) return { ok: false, reason: "forbidden" };
      if (Number(result) === -2) return { ok: false, reason: "closing" };
      if (Number(result) === -3) return { ok: false, reason: "no_workout" };
      const [messageId, previousId] = result as unknown as [string, string];
      // The fields in the order XADD stored them (a reader gets them back in this order).
      const fields: Record<string, string> = { message: entry.message, timestamp: String(now) };
      if (entry.author) fields.author = entry.author;
      return { ok: true, messageId, previousId: previousId || null, fields };
    },

    /** The owner, bound workout and visibility of a stream, or null when it does not exist. */
    async meta(name: string): Promise<StreamMeta | null> {
      return (await this.metas([name]))[0];
    },

    /** `meta` of several streams with one round trip (batched with other requests' reads). */
    async metas(names: readonly string[]): Promise<(StreamMeta | null)[]> {
      if (names.length === 0) return [];
      const replies = await live.reads.send(names.flatMap((name) => [
        ["HMGET", metaKey(name), "owner", "workout", "visibility"],
        ["EXISTS", streamKey(name)],
      ]));
      return names.map((_, i) => toMeta(resultOf(replies[i * 2]), resultOf(replies[i * 2 + 1])));
    },

    /** Entries between two ids (inclusive, `-` and `+` for the ends). */
    async range(name: string, start: string, end: string, count: number): Promise<StreamEntry[]> {
      const [reply] = await live.reads.send([
        ["XRANGE", streamKey(name), start, end, "COUNT", String(count)],
      ]);
      return (resultOf(reply) as [string, string[]][]).map(toEntry);
    },

    /**
     * A stream's meta and its entries between two ids as the JSON text of a `StreamEntry[]`, in
     * one round trip (batched with other requests' reads): the entries are only for a caller the
     * meta lets see them. The text of the last read of the same range is kept with the stream's
     * fingerprint (see {@linkcode fingerprintOf}), read before the entries; while Redis answers
     * the same fingerprint the entries are neither sent again nor parsed and written again (a
     * GET of 100 entries at 50 connections: ~300 µs of this process's CPU and ~450 µs of the
     * local bridge's when read, ~120 and ~25 when kept). A changed stream costs one more round
     * trip for its entries.
     */
    async page(
      name: string,
      range: { start: string; end: string; count: number },
    ): Promise<{ meta: StreamMeta | null; entriesJson: string }> {
      const key = `${name}\n${range.start}\n${range.end}\n${range.count}`;
      const known = pages.get(key);
      const entriesCommand = [
        "XRANGE",
        streamKey(name),
        range.start,
        range.end,
        "COUNT",
        String(range.count),
      ];
      const info = ["XINFO", "STREAM", streamKey(name)];
      const replies = await live.reads.send([
        ["HMGET", metaKey(name), "owner", "workout", "visibility"],
        ["EXISTS", streamKey(name)],
        info,
        ...(known ? [] : [entriesCommand]),
      ]);
      const meta = toMeta(resultOf(replies[0]), resultOf(replies[1]));
      let fingerprint = fingerprintOf(replies[2]);
      if (known && fingerprint !== undefined && fingerprint === known.fingerprint) {
        if (pages.get(key) === known) {
          pages.delete(key); // the most recently used last
          pages.set(key, known);
        }
        return { meta, entriesJson: known.json };
      }
      let entries = replies[3];
      if (known) {
        // Changed since: its entries, with the fingerprint they go with (read before them).
        [replies[2], entries] = await live.reads.send([info, entriesCommand]);
        fingerprint = fingerprintOf(replies[2]);
      }
      const json = JSON.stringify((resultOf(entries) as [string, string[]][]).map(toEntry));
      const current = pages.get(key); // another read may have replaced `known` meanwhile
      if (current) {
        pages.delete(key);
        pagesBytes -= current.json.length;
      }
      if (fingerprint !== undefined && json.length <= pageCacheMaxAnswer) {
        pages.set(key, { fingerprint, json });
        pagesBytes += json.length;
        for (const [oldest, page] of pages) {
          if (pagesBytes <= pageCacheBytes) break;
          pages.delete(oldest);
          pagesBytes -= page.json.length;
        }
      }
      return { meta, entriesJson: json };
    },

    /** Every stream in the registry with its length and first/last ids. */
    async list(): Promise<(StreamInfo & { lastWrite: number; meta: StreamMeta })[]> {
      const names = await live.raw.zrange<string[]>(registryKey, 0, -1, { withScores: true });
      const pairs: [string, number][] = [];
      for (let i = 0; i + 1 < names.length; i += 2) pairs.push([names[i], Number(names[i + 1])]);
      if (pairs.length === 0) return [];
      const p = live.raw.pipeline();
      for (const [name] of pairs) {
        p.xlen(streamKey(name));
        p.xrange(streamKey(name), "-", "+", 1);
        p.xrevrange(streamKey(name), "+", "-", 1);
      }
      const [replies, metas] = await Promise.all([
        p.exec() as Promise<unknown[]>,
        this.metas(pairs.map(([name]) => name)),
      ]);
      const result: (StreamInfo & { lastWrite: number; meta: StreamMeta })[] = [];
      const gone: string[] = [];
      pairs.forEach(([name, lastWrite], i) => {
        const length = Number(replies[i * 3]);
        const first = replies[i * 3 + 1] as [string, string[]][];
        const last = replies[i * 3 + 2] as [string, string[]][];
        if (length === 0 && first.length === 0) {
          gone.push(name);
          return;
        }
        result.push({
          name,
          length,
          firstMessageId: first[0]?.[0] ?? null,
          lastMessageId: last[0]?.[0] ?? null,
          lastWrite,
          meta: metas[i] ?? { owner: "shared", workout: null, visibility: "private" },
        });
      });
      if (gone.length > 0) await live.raw.zrem(registryKey, ...gone);
      return result;
    },

    /** The telemetry samples of a stream while it is bound to this workout (none otherwise). */
    async boundSamples(name: string, workoutId: string): Promise<Sample[]> {
      const meta = await this.meta(name);
      if (meta?.workout !== workoutId) return [];
      const samples: Sample[] = [];
      let start = "-";
      for (;;) {
        const entries = await this.range(name, start, "+", 1000);
        for (const { id, data } of entries) {
          if (data.message === undefined) continue;
          const sample = telemetrySample(data.message, Number(data.timestamp ?? id.split("-")[0]));
          if (sample) samples.push(sample);
        }
        if (entries.length < 1000) return samples;
        start = `(${entries[entries.length - 1].id}`;
      }
    },

    /** Deletes a stream if it is still bound to this workout; answers whether it did. */
    async removeBound(name: string, workoutId: string): Promise<boolean> {
      const meta = await this.meta(name);
      return meta?.workout === workoutId ? await this.remove(name) : false;
    },

    /**
     * Deletes a stream and tells every instance's viewers. The entries move to a tombstone key
     * that lives 10 s, so a viewer still gets what was added just before the delete.
     * Answers false if there was no stream.
     */
    async remove(name: string): Promise<boolean> {
      const tombstone = live.keys.streamTombstone(crypto.randomUUID());
      const existed = await remove.exec(
        [streamKey(name), metaKey(name), registryKey, eventsKey, tombstone],
        [name],
      );
      return Number(existed) > 0;
    },
  };
}

/** The legacy stream operations object. */
export type StreamStore = ReturnType<typeof streamStore>;
