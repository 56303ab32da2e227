import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { requireUser, userIdOf } from "../http/authenticate.ts";
import { randomSecret } from "../auth/secrets.ts";
import { hashSecret } from "../auth/secrets.ts";
import type { AppEnv } from "../http/deps.ts";
import { ApiError } from "../core/errors.ts";
import { clientAddress } from "../http/client_address.ts";
import { createRouter, errors, json, jsonBody, userSecurity } from "../http/openapi.ts";
import { completeWorkout } from "../workouts/lifecycle.ts";
import { canRead, shareTokenPrefix, type StreamCaller } from "../streams/access.ts";
import { ownerOf, streamCaller } from "../http/stream_caller.ts";
import { frame, type Viewer } from "../streams/hub.ts";
import { ensureLiveWorkout } from "../streams/live_rides.ts";
import { insertShare, listShares, revokeShare } from "../streams/share_queries.ts";
import type { StreamMeta } from "../streams/store.ts";

const tags = ["Live streams (legacy)"];
const security = userSecurity;
const maxMessageBytes = 100 * 1024;
const utf8 = new TextEncoder();
/** Frames a slow SSE viewer may have queued before it is disconnected. */
const maxQueuedFrames = 10_000;

const streamName = z
  .string({ error: "streamName is required" })
  .min(1, "streamName is required")
  .max(64, "streamName must be at most 64 characters")
  .regex(/^[a-zA-Z0-9_-]+$/, "streamName must be alphanumeric (letters, digits, _ and -)");
const NameParams = z.object({
  name: streamName.openapi({
    param: { name: "name", in: "path" },
    example: "workout-1764140000000",
  }),
});

/**
 * A range bound: -, + or an id. An unescaped + in a query string arrives as a space. The id's
 * milliseconds and sequence number must each fit in an unsigned 64-bit integer, as Redis
 * requires (a wider one would fail in Redis, which is the caller's mistake, not an outage).
 */
function rangeId(name: string) {
  const maxU64 = 18446744073709551615n;
  const fits = (v: string) =>
    v === "-" || v === "+" ||
    v.replace(/^\(/, "").split("-").every((part) => !/^\d+$/.test(part) || BigInt(part) <= maxU64);
  return z
    .string()
    .transform((v) => (v === " " ? "+" : v.trim()))
    .pipe(
      z.string()
        .regex(/^(-|\+|\(?\d+(-\d+)?)$/, `${name} must be -, + or an id`)
        .refine(fits, `${name} must be an id whose parts fit in 64 bits`),
    );
}

const EntrySchema = z.object({ id: z.string(), data: z.record(z.string(), z.string()) });

function forbidden(): ApiError {
  return new ApiError("forbidden", "Only the stream's owner may do that");
}

function notVisible(): ApiError {
  return new ApiError("forbidden", "This stream is private to its rider");
}

/** `?share=`: the secret of a share link, for viewers without an account. */
const shareQuery = z.string().max(200).optional().openapi({
  param: { name: "share", in: "query" },
  description: "A share link's secret (`bpts_…`): lets a viewer without an account watch",
});

/** The body of a new share link (optional: an empty body takes the defaults). */
const ShareBody = z.object({
  expiresInMinutes: z
    .number({ error: "expiresInMinutes must be a whole number of minutes" })
    .int("expiresInMinutes must be a whole number of minutes")
    .min(1, "expiresInMinutes must be at least 1")
    .optional()
    .openapi({ description: "Minutes the link lives (default 24 h; at most SHARE_LINK_MAX_DAYS)" }),
});

const ShareSchema = z.object({
  id: z.uuid(),
  streamName: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  revokedAt: z.string().nullable(),
  active: z.boolean().openapi({ description: "Neither revoked nor expired" }),
}).openapi("StreamShare");

const create = createRoute({
  method: "post",
  path: "/create",
  tags,
  summary: "Create a named live stream (a signed-in rider's stream also starts a workout)",
  security,
  request: { body: jsonBody(z.object({ streamName })) },
  responses: {
    200: json(
      z.object({
        success: z.literal(true),
        streamName: z.string(),
        messageId: z.string().nullable(),
        message: z.string(),
        workoutId: z.string().optional(),
      }),
      "Created (or already there)",
    ),
    ...errors("validation_failed", "unauthorized", "forbidden"),
  },
});

const postMessage = createRoute({
  method: "post",
  path: "/{name}/messages",
  tags,
  summary: "Add a message (telemetry is a JSON text in `message`); the stream need not exist",
  security,
  request: {
    params: NameParams,
    body: jsonBody(z.object({
      message: z.union([z.string(), z.record(z.string(), z.unknown())], {
        error: (issue) =>
          issue.input === undefined
            ? "message is required"
            : "message must be a string or a JSON object",
      }),
      author: z.string().max(64, "author must be at most 64 characters").optional(),
    })),
  },
  responses: {
    200: json(
      z.object({ success: z.literal(true), messageId: z.string(), streamName: z.string() }),
      "Stored",
    ),
    ...errors(
      "validation_failed",
      "unauthorized",
      "forbidden",
      "conflict",
      "rate_limited",
      "service_unavailable",
    ),
  },
});

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "The live streams the caller may see (own, public, or shared-key ones)",
  security,
  responses: {
    200: json(
      z.object({
        streams: z.array(z.object({
          name: z.string(),
          length: z.number().int(),
          firstMessageId: z.string().nullable(),
          lastMessageId: z.string().nullable(),
        })),
      }),
      "Streams",
    ),
    ...errors("unauthorized"),
  },
});

const readMessages = createRoute({
  method: "get",
  path: "/{name}/messages",
  tags,
  summary: "Entries of a stream between two ids (count capped at 1000; also with ?share=)",
  security,
  request: {
    params: NameParams,
    query: z.object({
      share: shareQuery,
      start: rangeId("start").default("-"),
      end: rangeId("end").default("+"),
      count: z.coerce.number().int().min(1).default(100).transform((n) => Math.min(n, 1000)),
    }),
  },
  responses: {
    200: json(
      z.object({ streamName: z.string(), messages: z.array(EntrySchema) }),
      "Entries (an unknown stream has none)",
    ),
    ...errors("validation_failed", "unauthorized", "forbidden"),
  },
});

const cleanup = createRoute({
  method: "delete",
  path: "/cleanup",
  tags,
  summary: "Delete shared streams whose last entry is older than `retention` ms (shared key only)",
  security: [{ apiKeyAuth: [] }] as Record<string, string[]>[],
  request: {
    query: z.object({ retention: z.coerce.number().int().min(0).default(24 * 3600_000) }),
  },
  responses: {
    200: json(
      z.object({ success: z.literal(true), deletedCount: z.number().int(), message: z.string() }),
      "Deleted",
    ),
    ...errors("unauthorized", "forbidden", "service_unavailable"),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/{name}",
  tags,
  summary: "Delete a stream (its workout, if any, is archived first)",
  security,
  request: { params: NameParams },
  responses: {
    200: json(z.object({ success: z.literal(true), message: z.string() }), "Deleted"),
    ...errors("validation_failed", "unauthorized", "forbidden", "not_found", "service_unavailable"),
  },
});

const sseResponse = {
  200: {
    content: { "text/event-stream": { schema: z.string() } },
    description: "Unnamed `data:` frames: connected, message…, stream_deleted",
  },
  ...errors("validation_failed", "unauthorized", "forbidden", "rate_limited"),
};

const listen = createRoute({
  method: "get",
  path: "/{name}/listen",
  tags,
  summary: "Server-sent events of one stream (also accepts ?apiKey= or ?share=)",
  security,
  request: { params: NameParams, query: z.object({ share: shareQuery }) },
  responses: sseResponse,
});

const listenAll = createRoute({
  method: "get",
  path: "/listenAll",
  tags,
  summary: "Server-sent events of every stream the caller may see (also accepts ?apiKey=)",
  security,
  responses: sseResponse,
});

const createShare = createRoute({
  method: "post",
  path: "/{name}/shares",
  tags,
  summary: "Create a share link: anyone with it may watch this stream until it expires",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    params: NameParams,
    body: {
      content: {
        "application/json": { schema: ShareBody },
      },
      required: false,
    },
  },
  responses: {
    201: json(
      ShareSchema.extend({
        token: z.string().openapi({ description: "The secret; shown once" }),
        listenUrl: z.string(),
        messagesUrl: z.string(),
      }),
      "Created",
    ),
    ...errors("validation_failed", "unauthorized", "forbidden"),
  },
});

const getShares = createRoute({
  method: "get",
  path: "/{name}/shares",
  tags,
  summary: "The rider's share links of a stream, newest first",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: { params: NameParams },
  responses: {
    200: json(z.object({ shares: z.array(ShareSchema) }), "Share links"),
    ...errors("validation_failed", "unauthorized"),
  },
});

const deleteShare = createRoute({
  method: "delete",
  path: "/{name}/shares/{id}",
  tags,
  summary: "Revoke a share link; its open viewers are disconnected",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    params: NameParams.extend({
      id: z.uuid("must be a share link id (UUID)").openapi({ param: { name: "id", in: "path" } }),
    }),
  },
  responses: {
    200: json(z.object({ success: z.literal(true), message: z.string() }), "Revoked"),
    ...errors("validation_failed", "unauthorized", "not_found"),
  },
});

const setVisibility = createRoute({
  method: "put",
  path: "/{name}/visibility",
  tags,
  summary: "Make a rider's stream public (anyone may watch) or private again",
  security: userSecurity,
  middleware: [requireUser] as const,
  request: {
    params: NameParams,
    body: jsonBody(z.object({ visibility: z.enum(["private", "public"]) })),
  },
  responses: {
    200: json(
      z.object({ streamName: z.string(), visibility: z.enum(["private", "public"]) }),
      "Changed",
    ),
    ...errors("validation_failed", "unauthorized", "forbidden", "not_found"),
  },
});

/** Deletes a stream, archiving its workout first; false when there was no stream. */
async function deleteStream(c: Context<AppEnv>, name: string): Promise<boolean> {
  const { streams } = c.get("deps");
  const meta = await streams.meta(name);
  if (!meta) return false;
  if (meta.workout && meta.owner.startsWith("user:")) {
    const userId = meta.owner.slice("user:".length);
    await completeWorkout(c.get("deps"), { workoutId: meta.workout, userId }).catch((err) => {
      if (err instanceof ApiError && err.status < 500) return; // already archived or gone
      throw err;
    });
  }
  await streams.remove(name); // archiving may already have removed it
  return true;
}

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

async function sse(
  c: Context<AppEnv>,
  caller: StreamCaller,
  stream: { name: string; meta: StreamMeta | null } | null,
): Promise<Response> {
  const { hub, sseSlots } = c.get("deps");
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
      // Subscribe first, so every entry added after the "connected" frame is delivered.
      const remove = await hub.subscribe(stream?.name ?? null, viewer, stream?.meta)
        .catch((err) => {
          release();
          throw err;
        });
      unsubscribe = remove;
      if (finished) return remove();
      viewer.write(frame({ type: "connected", streamName: stream?.name ?? "all" }));
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

/** The caller of a read route and the stream's meta; 403 when the caller may not see it. */
async function readableStream(c: Context<AppEnv>, name: string, share: string | undefined) {
  const caller = await streamCaller(c, share);
  if (caller.kind === "share" && caller.streamName !== name) throw notVisible();
  const meta = await c.get("deps").streams.meta(name);
  if (meta && !canRead(caller, name, meta)) throw notVisible();
  return { caller, meta };
}

/** A JSON body that may be empty (then `{}`); malformed JSON is a 400. */
async function optionalJson(c: Context<AppEnv>): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError("bad_request", "Malformed JSON in request body");
  }
}

function shareJson(share: {
  id: string;
  streamName: string;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
}) {
  return {
    id: share.id,
    streamName: share.streamName,
    createdAt: share.createdAt.toISOString(),
    expiresAt: share.expiresAt.toISOString(),
    revokedAt: share.revokedAt?.toISOString() ?? null,
    active: share.revokedAt === null && share.expiresAt.getTime() > Date.now(),
  };
}

/** The old clients' /api/streams routes (COMPAT), plus SSE through the hub and sharing. */
export function streamRoutes() {
  const app = createRouter();

  app.openapi(create, async (c) => {
    const { streamName: name } = c.req.valid("json");
    const deps = c.get("deps");
    const owner = ownerOf(c);
    if (owner !== "shared") {
      // A rider's stream is always bound to the live workout that archives it.
      const { workoutId, messageId } = await ensureLiveWorkout(
        deps,
        name,
        owner.slice("user:".length),
      );
      return c.json({
        success: true as const,
        streamName: name,
        messageId,
        message: "Stream created successfully",
        workoutId,
      }, 200);
    }
    const result = await deps.streams.create(name, owner);
    if (!result.ok) throw forbidden();
    return c.json({
      success: true as const,
      streamName: name,
      messageId: result.messageId,
      message: "Stream created successfully",
    }, 200);
  });

  app.openapi(postMessage, async (c) => {
    const { name } = c.req.valid("param");
    const body = c.req.valid("json");
    const message = typeof body.message === "string" ? body.message : JSON.stringify(body.message);
    if (message.trim() === "") {
      throw new ApiError("validation_failed", "message is required and must not be blank");
    }
    // UTF-8 needs at most 3 bytes per UTF-16 unit: only a long message is worth encoding.
    if (message.length * 3 > maxMessageBytes && utf8.encode(message).length > maxMessageBytes) {
      throw new ApiError("message_too_large", "Message exceeds the 100KB limit");
    }
    const deps = c.get("deps");
    const entry = { owner: ownerOf(c), message, author: body.author };
    let result = await deps.streams.post(name, entry);
    // A rider's message is only stored into a live workout: start or revive it first.
    for (let i = 0; i < 3 && !result.ok && result.reason === "no_workout"; i++) {
      await ensureLiveWorkout(deps, name, entry.owner.slice("user:".length));
      result = await deps.streams.post(name, entry);
    }
    if (!result.ok && result.reason === "forbidden") throw forbidden();
    if (!result.ok) {
      throw new ApiError("workout_closing", "The stream's workout is being archived", {
        headers: { "Retry-After": "1" },
      });
    }
    deps.hub.published(name, result);
    return c.json({ success: true as const, messageId: result.messageId, streamName: name }, 200);
  });

  app.openapi(list, async (c) => {
    const caller = await streamCaller(c, undefined);
    const streams = await c.get("deps").streams.list();
    return c.json({
      streams: streams
        .filter((s) => canRead(caller, s.name, s.meta))
        .map(({ name, length, firstMessageId, lastMessageId }) => ({
          name,
          length,
          firstMessageId,
          lastMessageId,
        })),
    }, 200);
  });

  app.openapi(readMessages, async (c) => {
    const { name } = c.req.valid("param");
    const q = c.req.valid("query");
    await readableStream(c, name, q.share);
    const messages = await c.get("deps").streams.range(name, q.start, q.end, q.count);
    return c.json({ streamName: name, messages }, 200);
  });

  app.openapi(cleanup, async (c) => {
    // It can end every shared stream, so not even anonymous streaming allows it.
    if (c.get("principal")?.kind !== "legacy") {
      throw new ApiError("forbidden", "Cleanup needs the shared API key");
    }
    const { retention } = c.req.valid("query");
    const cutoff = Date.now() - retention;
    let deleted = 0;
    // Riders' streams are not the shared key's: the idle sweeper archives and ends them.
    for (const stream of await c.get("deps").streams.list()) {
      if (stream.meta.owner !== "shared") continue;
      const lastMs = Number((stream.lastMessageId ?? "0-0").split("-")[0]);
      if (lastMs < cutoff && await deleteStream(c, stream.name)) deleted++;
    }
    return c.json({
      success: true as const,
      deletedCount: deleted,
      message: `Deleted ${deleted} inactive streams`,
    }, 200);
  });

  app.openapi(remove, async (c) => {
    const { name } = c.req.valid("param");
    const owner = ownerOf(c);
    const meta = await c.get("deps").streams.meta(name);
    if (!meta) throw new ApiError("not_found", "Stream not found");
    if (meta.owner !== owner) throw forbidden();
    if (!(await deleteStream(c, name))) throw new ApiError("not_found", "Stream not found");
    return c.json({ success: true as const, message: `Stream ${name} deleted successfully` }, 200);
  });

  app.openapi(listenAll, async (c) => {
    const caller = await streamCaller(c, undefined);
    return await sse(c, caller, null);
  });

  app.openapi(listen, async (c) => {
    const { name } = c.req.valid("param");
    const { caller, meta } = await readableStream(c, name, c.req.valid("query").share);
    return await sse(c, caller, { name, meta });
  });

  app.openapi(createShare, async (c) => {
    const { name } = c.req.valid("param");
    const deps = c.get("deps");
    const userId = userIdOf(c.var.principal);
    const meta = await deps.streams.meta(name);
    if (meta && meta.owner !== `user:${userId}`) throw forbidden();
    const parsed = ShareBody.safeParse(await optionalJson(c));
    if (!parsed.success) {
      throw new ApiError("validation_failed", parsed.error.issues[0].message);
    }
    const maxMinutes = deps.config.shareLinkMaxDays * 24 * 60;
    const minutes = parsed.data.expiresInMinutes ?? 24 * 60;
    if (minutes > maxMinutes) {
      throw new ApiError(
        "validation_failed",
        `expiresInMinutes must be at most ${maxMinutes} (${deps.config.shareLinkMaxDays} days)`,
      );
    }
    const token = `${shareTokenPrefix}${randomSecret()}`;
    const share = await insertShare(deps.sql, {
      userId,
      streamName: name,
      tokenHash: await hashSecret(token),
      expiresAt: new Date(Date.now() + minutes * 60_000),
    });
    const query = `share=${encodeURIComponent(token)}`;
    return c.json({
      ...shareJson(share),
      token,
      listenUrl: `/api/streams/${name}/listen?${query}`,
      messagesUrl: `/api/streams/${name}/messages?${query}`,
    }, 201);
  });

  app.openapi(getShares, async (c) => {
    const { name } = c.req.valid("param");
    const shares = await listShares(c.var.deps.sql, {
      userId: userIdOf(c.var.principal),
      streamName: name,
    });
    return c.json({ shares: shares.map(shareJson) }, 200);
  });

  app.openapi(deleteShare, async (c) => {
    const { name, id } = c.req.valid("param");
    const deps = c.var.deps;
    const revoked = await revokeShare(deps.sql, {
      userId: userIdOf(c.var.principal),
      streamName: name,
      shareId: id,
    });
    if (!revoked) throw new ApiError("not_found", "Share link not found");
    // Its viewers on every instance are disconnected (the feed; at once here).
    deps.hub.endTagged(`share:${id}`);
    await deps.revocations.publish({ kind: "share", id });
    return c.json({ success: true as const, message: "Share link revoked" }, 200);
  });

  app.openapi(setVisibility, async (c) => {
    const { name } = c.req.valid("param");
    const { visibility } = c.req.valid("json");
    const deps = c.var.deps;
    const meta = await deps.streams.meta(name);
    if (!meta) throw new ApiError("not_found", "Stream not found");
    if (meta.owner !== `user:${userIdOf(c.var.principal)}`) throw forbidden();
    if (!(await deps.streams.setVisibility(name, visibility))) {
      throw new ApiError("not_found", "Stream not found");
    }
    return c.json({ streamName: name, visibility }, 200);
  });

  return app;
}
