import type { Context } from "hono";
import { hashSecret } from "../../core/secrets.ts";
import { ApiError } from "../../core/errors.ts";
import { clientAddress } from "../../http/client_address.ts";
import type { AppEnv } from "../../http/deps.ts";
import { canRead, type StreamCaller } from "../../streams/access.ts";
import { frame, isEntryId, type Viewer } from "../../streams/hub.ts";
import type { StreamMeta } from "../../streams/store.ts";

/** Frames a slow SSE viewer may have queued before it is disconnected. */
const maxQueuedFrames = 10_000;

function tooManyViewers(max: number): ApiError {
  return new ApiError(
    "too_many_connections",
    `At most ${max} live connections may be open at once; close one first`,
    { headers: { "Retry-After": "5" } },
  );
}

/** Takes an SSE slot for the caller: per rider, or per address for anonymous viewers. */
async function takeSlot(c: Context<AppEnv>, caller: StreamCaller): Promise<string | undefined> {
  const { config, sseSlots } = c.get("deps");
  let holder: string;
  let max: number;
  if (caller.kind === "rider") {
    [holder, max] = [`user:${caller.userId}`, config.sseMax.perRider];
  } else if (caller.kind === "share" || caller.anonymous) {
    const address = clientAddress(c, config.trustedProxyHops);
    [holder, max] = [`addr:${await sha256Hex(address)}`, config.sseMax.perAddress];
  } else {
    return undefined; // the deployment's shared key: its operator's own clients
  }
  if (max <= 0) return undefined;
  const slot = await sseSlots.take(holder, max);
  if (slot === null) throw tooManyViewers(max);
  return slot;
}

async function sha256Hex(text: string): Promise<string> {
  const hash = await hashSecret(text);
  return Array.from(hash.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Answers server-sent events of one stream (or of all the caller may see, `stream` null). */
export async function sse(
  c: Context<AppEnv>,
  caller: StreamCaller,
  stream: { name: string; meta: StreamMeta | null } | null,
): Promise<Response> {
  const { hub, sseSlots } = c.get("deps");
  const lastEventId = c.req.header("last-event-id")?.trim();
  const resumeFrom = isEntryId(lastEventId) ? lastEventId : undefined;
  const slot = await takeSlot(c, caller);
  let unsubscribe: (() => void) | undefined;
  let finished = false;
  const release = () => {
    if (slot !== undefined) sseSlots.give(slot);
  };
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const viewer: Viewer = {
        write: (bytes: Uint8Array) => {
          if (finished) return;
          // A viewer that stops reading but stays connected is dropped, not buffered forever.
          if ((controller.desiredSize ?? 0) < -maxQueuedFrames) return viewer.end();
          controller.enqueue(bytes);
        },
        end: () => {
          if (finished) return;
          finished = true;
          unsubscribe?.();
          release();
          controller.close();
        },
        canSee: (name, meta) => canRead(caller, name, meta),
        tags: caller.tags,
      };
      // Subscribe first, so every entry added after the "connected" frame is delivered; a
      // viewer of one stream reconnecting with Last-Event-ID gets the entries after it first.
      const after = stream ? resumeFrom : undefined;
      const remove = await hub.subscribe(stream?.name ?? null, viewer, stream?.meta, { after })
        .catch((err) => {
          release();
          throw err;
        });
      unsubscribe = remove;
      if (finished) return remove();
      viewer.write(frame({ type: "connected", streamName: stream?.name ?? "all" }));
      if (stream && after !== undefined) {
        // Redis failing here ends the connection: EventSource comes back with the same id.
        await hub.resume(stream.name, viewer).catch(() => viewer.end());
      }
    },
    cancel() {
      finished = true;
      unsubscribe?.();
      release();
    },
  });
  return c.body(body, 200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
}
