import { ApiError, forbidden } from "../core/errors.ts";
import { canRead, type StreamCaller } from "./access.ts";
import type { Hub } from "./hub.ts";
import { ensureLiveWorkout, type LiveRideDeps } from "./live_rides.ts";
import type { StreamInfo, StreamMeta, StreamOwner, StreamStore } from "./store.ts";

/** What posting to a stream uses: binding it to a live workout, and the local SSE hub. */
export type MessageDeps = LiveRideDeps & { hub: Hub };

function notOwner(): ApiError {
  return forbidden("Only the stream's owner may do that");
}

function notVisible(): ApiError {
  return forbidden("This stream is private to its rider");
}

/**
 * Creates a named stream (or finds it). A rider's stream is always bound to the live workout
 * that archives it; a shared-key stream belongs to no rider. 403 for another owner's name.
 */
export async function openStream(
  deps: LiveRideDeps,
  name: string,
  owner: StreamOwner,
): Promise<{ messageId: string | null; workoutId?: string }> {
  if (owner !== "shared") {
    return await ensureLiveWorkout(deps, name, owner.slice("user:".length));
  }
  const result = await deps.streams.create(name, owner);
  if (!result.ok) throw notOwner();
  return { messageId: result.messageId };
}

/**
 * Adds a message to a stream (created if need be) and hands it to this instance's viewers. A
 * rider's message is only stored into a live workout: one is started or revived first.
 */
export async function postMessage(
  deps: MessageDeps,
  name: string,
  entry: { owner: StreamOwner; message: string; author?: string },
): Promise<string> {
  let result = await deps.streams.post(name, entry);
  for (let i = 0; i < 3 && !result.ok && result.reason === "no_workout"; i++) {
    await ensureLiveWorkout(deps, name, entry.owner.slice("user:".length));
    result = await deps.streams.post(name, entry);
  }
  if (!result.ok && result.reason === "forbidden") throw notOwner();
  if (!result.ok) {
    throw new ApiError("workout_closing", "The stream's workout is being archived", {
      headers: { "Retry-After": "1" },
    });
  }
  deps.hub.published(name, result);
  return result.messageId;
}

/** The streams a caller may see, as GET /api/streams lists them. */
export async function visibleStreams(
  streams: StreamStore,
  caller: StreamCaller,
): Promise<StreamInfo[]> {
  return (await streams.list())
    .filter((s) => canRead(caller, s.name, s.meta))
    .map(({ name, length, firstMessageId, lastMessageId }) => ({
      name,
      length,
      firstMessageId,
      lastMessageId,
    }));
}

/** A stream's meta (null when there is none yet); 403 when the caller may not see it. */
export async function readableMeta(
  streams: StreamStore,
  caller: StreamCaller,
  name: string,
): Promise<StreamMeta | null> {
  if (caller.kind === "share" && caller.streamName !== name) throw notVisible();
  const meta = await streams.meta(name);
  if (meta && !canRead(caller, name, meta)) throw notVisible();
  return meta;
}

/**
 * Entries of a stream between two ids, when the caller may see it (an unknown one has none), as
 * the JSON text of a `StreamEntry[]`: its meta and entries come in one round trip, the entries
 * dropped unless the meta lets it see them.
 */
export async function readMessagesJson(
  streams: StreamStore,
  caller: StreamCaller,
  name: string,
  range: { start: string; end: string; count: number },
): Promise<string> {
  if (caller.kind === "share" && caller.streamName !== name) throw notVisible();
  const { meta, entriesJson } = await streams.page(name, range);
  if (meta && !canRead(caller, name, meta)) throw notVisible();
  return entriesJson;
}
