import type { LiveStore } from "../live/store.ts";
import type { Logger } from "../core/log.ts";
import type { PostedEntry, StreamMeta, StreamStore } from "./store.ts";

/**
 * A connected SSE viewer: the hub writes whole encoded frames to it and ends it.
 *
 * `canSee` says which streams it may see (every stream when absent); `tags` name the credentials
 * it connected with (`session:<id>`, `api_key:<id>`, `user:<id>`, `share:<id>`), so that revoking
 * one of them ends it.
 */
export type Viewer = {
  write: (bytes: Uint8Array) => void;
  end: () => void;
  canSee?: (name: string, meta: StreamMeta) => boolean;
  tags?: readonly string[];
};

/** Counters that show what the hub costs. */
export type HubStats = {
  /** Connected viewers on this instance. */
  viewers: number;
  /** Streams this instance currently reads from Redis. */
  watchedStreams: number;
  /** Polling loops running (0 or 1): one reader serves every viewer of every stream. */
  readers: number;
  /** Redis commands the hub has sent since it started. */
  redisReads: number;
};

type RawEntry = [string, string[]];

/** Whether stream entry id `a` comes after `b` (`ms-seq` ids; every id comes after none). */
export function isAfter(a: string, b: string | undefined): boolean {
  if (b === undefined) return true;
  const [aMs, aSeq] = a.split("-").map(Number);
  const [bMs, bSeq] = b.split("-").map(Number);
  return aMs > bMs || (aMs === bMs && (aSeq ?? 0) > (bSeq ?? 0));
}

function fields(raw: string[]): Record<string, string> {
  const data: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) data[raw[i]] = raw[i + 1];
  return data;
}

const encoder = new TextEncoder();
const ping = encoder.encode(": ping\n\n");

/**
 * An SSE frame, encoded once for every viewer: one unnamed `data:` line (COMPAT), after an `id:`
 * line when it is a stream entry for that stream's viewers, so that EventSource resumes with
 * Last-Event-ID after a reconnect (the old clients' `data:`-line parsers skip other lines).
 */
export function frame(payload: unknown, id?: string): Uint8Array {
  const data = `data: ${JSON.stringify(payload)}\n\n`;
  return encoder.encode(id === undefined ? data : `id: ${id}\n${data}`);
}

/** Whether a Last-Event-ID is a stream entry id this service sent (`<ms>-<seq>`). */
export function isEntryId(text: string | undefined): text is string {
  return text !== undefined && /^\d{1,15}-\d{1,15}$/.test(text);
}

/**
 * SSE fan-out for one instance (DESIGN §4): a single polling loop reads, with one XREAD per
 * tick, the events stream and only the streams someone here watches, and feeds every local viewer.
 * No blocking command is ever sent; with no viewers nothing is read at all.
 */
export function createHub(
  live: LiveStore,
  store: StreamStore,
  options: { pollMs: number; heartbeatMs: number; log: Logger },
) {
  const byStream = new Map<string, Set<Viewer>>();
  const all = new Set<Viewer>();
  const cursors = new Map<string, string>(); // stream name -> last id delivered
  // Single-stream viewers that joined after entries listenAll viewers have yet to get: the last
  // id before they joined (they get only newer entries).
  const floors = new Map<Viewer, string>();
  // Streams read from the start for listenAll viewers: the last id before that, which their own
  // viewers have to get past first.
  const catchUps = new Map<string, string>();
  const metas = new Map<string, StreamMeta | null>(); // what access checks need, per stream
  // Viewers resuming after a reconnect (Last-Event-ID): the entries after `after` up to `upTo`
  // (the last one the hub had delivered when they joined) are read from Redis for them; what is
  // delivered live meanwhile is held and written after, so they get every entry once, in order.
  const resuming = new Map<Viewer, { after: string; upTo: string; held: Uint8Array[] }>();
  let eventsCursor: string | null = null;
  const pending = new Map<string, Promise<void>>(); // first cursor reads in flight
  let allPending: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let redisReads = 0;
  let closed = false;

  const heartbeat = setInterval(() => {
    for (const viewer of allViewers()) safeWrite(viewer, ping);
  }, options.heartbeatMs);

  function allViewers(): Viewer[] {
    return [...all, ...[...byStream.values()].flatMap((set) => [...set])];
  }

  function safeWrite(viewer: Viewer, bytes: Uint8Array) {
    const resume = resuming.get(viewer);
    if (resume) return void resume.held.push(bytes);
    try {
      viewer.write(bytes);
    } catch {
      // the viewer has gone; its unsubscribe cleans up
    }
  }

  async function lastId(key: string): Promise<string> {
    redisReads++;
    const rows = await live.raw.xrevrange(key, "+", "-", 1) as unknown as RawEntry[];
    return rows[0]?.[0] ?? "0-0";
  }

  async function startLoop() {
    if (running) return;
    running = true;
    eventsCursor = await lastId(store.eventsKey);
    schedule();
  }

  function schedule() {
    timer = setTimeout(tick, options.pollMs);
  }

  function viewerCount() {
    let n = all.size;
    for (const set of byStream.values()) n += set.size;
    return n;
  }

  async function tick() {
    if (closed) return;
    if (viewerCount() === 0) {
      running = false;
      for (const name of [...cursors.keys()]) forget(name);
      return;
    }
    const names = [...cursors.keys()];
    const keys = [store.eventsKey, ...names.map(store.streamKey)];
    const ids = [eventsCursor ?? "$", ...names.map((n) => cursors.get(n)!)];
    try {
      redisReads++;
      const reply = (await live.raw.xread(keys, ids, { count: 1000 })) as
        | [string, RawEntry[]][]
        | null;
      const events: Record<string, string>[] = [];
      const batches: [string, RawEntry[]][] = [];
      for (const [key, entries] of reply ?? []) {
        if (key === store.eventsKey) {
          for (const [id, raw] of entries) {
            eventsCursor = id;
            events.push(fields(raw));
          }
          continue;
        }
        const name = names[keys.indexOf(key) - 1];
        if (name !== undefined) batches.push([name, entries]);
      }
      // Who may see what first: a stream made private is never shown to others afterwards.
      for (const event of events) noteMeta(event);
      await loadMetas(batches.map(([name]) => name));
      for (const [name, entries] of batches) {
        if (!cursors.has(name)) continue;
        for (const [id, raw] of entries) {
          // Entries this instance relayed itself while the read was under way are not repeated.
          if (isAfter(id, cursors.get(name))) deliver(name, id, fields(raw));
        }
      }
      // Entries first, then creations and deletions (a deletion ends its viewers).
      for (const event of events) await handleEvent(event);
    } catch (err) {
      options.log.warn("stream hub poll failed", { err: String(err) });
    }
    schedule();
  }

  /** Takes the owner and visibility an event carries (created, visibility) into the cache. */
  function noteMeta(event: Record<string, string>) {
    const name = event.stream;
    if (!name || !event.owner) return;
    if (event.type === "created" || event.type === "visibility") {
      const known = metas.get(name);
      metas.set(name, {
        owner: event.owner as StreamMeta["owner"],
        workout: known?.workout ?? null,
        visibility: event.visibility === "public" ? "public" : "private",
      });
    }
  }

  /** Reads the meta of streams not in the cache yet (one round trip). */
  async function loadMetas(names: string[]) {
    const missing = names.filter((name) => !metas.has(name));
    if (missing.length === 0) return;
    redisReads++;
    const found = await store.metas(missing);
    missing.forEach((name, i) => metas.set(name, found[i]));
  }

  function sees(viewer: Viewer, name: string): boolean {
    if (!viewer.canSee) return true;
    const meta = metas.get(name);
    return meta ? viewer.canSee(name, meta) : false;
  }

  /** Stops tracking a stream nobody here watches. */
  function forget(name: string) {
    cursors.delete(name);
    catchUps.delete(name);
    metas.delete(name);
  }

  function deliver(name: string, id: string, data: Record<string, string>) {
    cursors.set(name, id);
    const catchUp = catchUps.get(name);
    if (catchUp !== undefined && !isAfter(catchUp, id)) catchUps.delete(name);
    const text = frame({ type: "message", id, data }, id);
    for (const viewer of byStream.get(name) ?? []) {
      const floor = floors.get(viewer);
      if (floor !== undefined && !isAfter(id, floor)) continue;
      if (sees(viewer, name)) safeWrite(viewer, text);
    }
    if (all.size > 0) {
      const withStream = frame({ type: "message", stream: name, id, data });
      for (const viewer of all) if (sees(viewer, name)) safeWrite(viewer, withStream);
    }
  }

  async function handleEvent(event: Record<string, string>) {
    const name = event.stream;
    if (!name) return;
    const cursor = cursors.get(name);
    if (event.type === "deleted" && cursor !== undefined && event.tombstone) {
      // Entries added after our last read and before the delete are in the tombstone.
      redisReads++;
      const rest = await live.raw.xrange(event.tombstone, `(${cursor}`, "+", 10_000)
        .catch(() => []) as unknown as RawEntry[];
      for (const [id, raw] of rest) deliver(name, id, fields(raw));
    }
    if (event.type === "created" && all.size > 0 && !cursors.has(name)) {
      cursors.set(name, "0-0");
    }
    if (event.type === "deleted") {
      const text = frame({ type: "stream_deleted", streamName: name });
      for (const viewer of byStream.get(name) ?? []) {
        if (sees(viewer, name)) safeWrite(viewer, text);
        floors.delete(viewer);
        viewer.end();
      }
      byStream.delete(name);
      // listenAll viewers read `stream`, as on every other frame they get (COMPAT).
      const withStream = frame({ type: "stream_deleted", stream: name, streamName: name });
      for (const viewer of all) if (sees(viewer, name)) safeWrite(viewer, withStream);
      forget(name);
    }
  }

  return {
    /**
     * Adds a viewer of one stream (or of every stream with `null`), from now on — or, for one
     * stream with `after` (its Last-Event-ID), from the entry after that one: call
     * {@linkcode resume} once the viewer's first frame is written. Answers the function that
     * removes it.
     */
    async subscribe(
      stream: string | null,
      viewer: Viewer,
      meta?: StreamMeta | null,
      options: { after?: string } = {},
    ): Promise<() => void> {
      if (closed) throw new Error("Stream hub is closed");
      if (stream === null) {
        if (all.size === 0) {
          // Concurrent first listenAll viewers share one read.
          allPending ??= (async () => {
            redisReads++;
            const streams = await store.list();
            for (const s of streams) {
              if (!cursors.has(s.name)) cursors.set(s.name, s.lastMessageId ?? "0-0");
              metas.set(s.name, s.meta);
            }
          })().finally(() => allPending = undefined);
          await allPending;
        }
        all.add(viewer);
      } else {
        if (meta !== undefined && !metas.has(stream)) metas.set(stream, meta);
        // Concurrent first viewers share one read, and a cursor is never moved back.
        if (!cursors.has(stream)) {
          let first = pending.get(stream);
          if (!first) {
            first = lastId(store.streamKey(stream))
              .then((id) => {
                if (cursors.has(stream)) return;
                if (all.size === 0) return void cursors.set(stream, id);
                // listenAll viewers are owed every entry of a stream they have not been sent
                // yet (it was created after they connected): read it from the start for them,
                // and only what comes after `id` for this stream's own viewers.
                cursors.set(stream, "0-0");
                catchUps.set(stream, id);
              })
              .finally(() => pending.delete(stream));
            pending.set(stream, first);
          }
          await first;
        }
        const floor = catchUps.get(stream);
        if (floor !== undefined) floors.set(viewer, floor);
        // What this stream's viewers have been sent up to now; later entries come live.
        const upTo = floor ?? cursors.get(stream)!;
        const after = options.after;
        if (after !== undefined && isAfter(upTo, after)) {
          resuming.set(viewer, { after, upTo, held: [] });
        } else if (after !== undefined && isAfter(after, upTo)) {
          // It saw more than this instance has read yet (another instance relayed it first).
          floors.set(viewer, after);
        }
        let set = byStream.get(stream);
        if (!set) byStream.set(stream, set = new Set());
        set.add(viewer);
      }
      await startLoop();
      return () => {
        all.delete(viewer);
        floors.delete(viewer);
        resuming.delete(viewer);
        if (stream !== null) {
          const set = byStream.get(stream);
          set?.delete(viewer);
          if (set?.size === 0) {
            byStream.delete(stream);
            if (all.size === 0) forget(stream);
          }
        }
        if (all.size === 0) {
          for (const name of [...cursors.keys()]) if (!byStream.has(name)) forget(name);
        }
      };
    },

    /**
     * Sends a viewer that subscribed with `after` the entries it missed (read from Redis), then
     * what was delivered live meanwhile. A no-op for any other viewer.
     */
    async resume(stream: string, viewer: Viewer): Promise<void> {
      const owed = resuming.get(viewer);
      if (!owed) return;
      try {
        let start = `(${owed.after}`;
        for (;;) {
          redisReads++;
          const entries = await store.range(stream, start, owed.upTo, 1000);
          if (!resuming.has(viewer)) return; // it left meanwhile
          if (sees(viewer, stream)) {
            for (const { id, data } of entries) {
              viewer.write(frame({ type: "message", id, data }, id));
            }
          }
          if (entries.length < 1000) break;
          start = `(${entries[entries.length - 1].id}`;
        }
      } finally {
        if (resuming.delete(viewer)) {
          for (const bytes of owed.held) safeWrite(viewer, bytes);
        }
      }
    },

    /**
     * Relays an entry this instance has just appended to `stream` to its viewers here without
     * reading it back — when it directly follows the last entry they got. Otherwise (entries
     * from other instances came between, or nobody here watches) the next poll delivers it in
     * order.
     */
    published(stream: string, entry: PostedEntry): void {
      const cursor = cursors.get(stream);
      if (closed || cursor === undefined || cursor !== entry.previousId) return;
      deliver(stream, entry.messageId, entry.fields);
    },

    /**
     * Ends every viewer here that connected with one of these credentials (a revoked key or
     * session, a deleted account, a revoked share link). Answers how many were ended.
     */
    endTagged(tag: string): number {
      let ended = 0;
      for (const viewer of allViewers()) {
        if (viewer.tags?.includes(tag)) {
          viewer.end();
          ended++;
        }
      }
      return ended;
    },

    /** What the hub is doing now. */
    stats(): HubStats {
      return {
        viewers: viewerCount(),
        watchedStreams: cursors.size,
        readers: running ? 1 : 0,
        redisReads,
      };
    },

    /** Ends every viewer and stops reading (on shutdown). */
    close(): void {
      closed = true;
      clearTimeout(timer);
      clearInterval(heartbeat);
      running = false;
      for (const viewer of allViewers()) viewer.end();
      byStream.clear();
      all.clear();
      floors.clear();
      for (const name of [...cursors.keys()]) forget(name);
    },
  };
}

/** The hub object. */
export type Hub = ReturnType<typeof createHub>;
