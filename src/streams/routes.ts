import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv, Principal } from "../deps.ts";
import { ApiError } from "../errors.ts";
import { createRouter, errors, json, jsonBody, userSecurity } from "../http/openapi.ts";
import { completeWorkout, startWorkout } from "../workouts/lifecycle.ts";
import { frame } from "./hub.ts";
import type { StreamOwner } from "./store.ts";

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

/** The caller as a stream owner: a rider, or the shared key / anonymous (when allowed). */
function ownerOf(c: Context<AppEnv>): StreamOwner {
  const principal: Principal | null = c.get("principal");
  if (principal?.kind === "user") return `user:${principal.userId}`;
  if (principal?.kind === "legacy" || c.get("deps").config.allowAnonymousStreams) return "shared";
  throw new ApiError(401, "unauthorized", "Unauthorized: Invalid API Key", {
    extra: { hint: "Use the X-API-Key header for authentication" },
    headers: { "WWW-Authenticate": 'Bearer realm="bike-power-tracker"' },
  });
}

function forbidden(): ApiError {
  return new ApiError(403, "forbidden", "Only the stream's owner may do that");
}

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
    ...errors(400, 401, 403),
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
    ...errors(400, 401, 403, 409, 429, 503),
  },
});

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "Every live stream",
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
    ...errors(401),
  },
});

const readMessages = createRoute({
  method: "get",
  path: "/{name}/messages",
  tags,
  summary: "Entries of a stream between two ids (count capped at 1000)",
  security,
  request: {
    params: NameParams,
    query: z.object({
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
    ...errors(400, 401),
  },
});

const cleanup = createRoute({
  method: "delete",
  path: "/cleanup",
  tags,
  summary: "Delete streams whose last entry is older than `retention` ms (shared key only)",
  security: [{ apiKeyAuth: [] }] as Record<string, string[]>[],
  request: {
    query: z.object({ retention: z.coerce.number().int().min(0).default(24 * 3600_000) }),
  },
  responses: {
    200: json(
      z.object({ success: z.literal(true), deletedCount: z.number().int(), message: z.string() }),
      "Deleted",
    ),
    ...errors(401, 403, 503),
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
    ...errors(400, 401, 403, 404, 503),
  },
});

const sseResponse = {
  200: {
    content: { "text/event-stream": { schema: z.string() } },
    description: "Unnamed `data:` frames: connected, message…, stream_deleted",
  },
  ...errors(400, 401),
};

const listen = createRoute({
  method: "get",
  path: "/{name}/listen",
  tags,
  summary: "Server-sent events of one stream (also accepts ?apiKey=)",
  security,
  request: { params: NameParams },
  responses: sseResponse,
});

const listenAll = createRoute({
  method: "get",
  path: "/listenAll",
  tags,
  summary: "Server-sent events of every stream (also accepts ?apiKey=)",
  security,
  responses: sseResponse,
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

function sse(c: Context<AppEnv>, stream: string | null): Response {
  const hub = c.get("deps").hub;
  let unsubscribe: (() => void) | undefined;
  let finished = false;
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const viewer = {
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
          controller.close();
        },
      };
      // Subscribe first, so every entry added after the "connected" frame is delivered.
      const remove = await hub.subscribe(stream, viewer);
      unsubscribe = remove;
      if (finished) return remove();
      viewer.write(frame({ type: "connected", streamName: stream ?? "all" }));
    },
    cancel() {
      finished = true;
      unsubscribe?.();
    },
  });
  return c.body(body, 200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
}

/** The old clients' /api/streams routes (COMPAT), plus SSE through the hub. */
export function streamRoutes() {
  const app = createRouter();

  app.openapi(create, async (c) => {
    const { streamName: name } = c.req.valid("json");
    const deps = c.get("deps");
    const owner = ownerOf(c);
    const result = await deps.streams.create(name, owner);
    if (!result.ok) throw forbidden();
    let workoutId: string | undefined;
    if (result.created && owner !== "shared") {
      const workout = await startWorkout(deps, {
        userId: owner.slice("user:".length),
        title: name,
        sport: "cycling",
        streamName: name,
      });
      await deps.streams.bindWorkout(name, workout.id);
      workoutId = workout.id;
    }
    return c.json({
      success: true as const,
      streamName: name,
      messageId: result.messageId,
      message: "Stream created successfully",
      ...(workoutId ? { workoutId } : {}),
    }, 200);
  });

  app.openapi(postMessage, async (c) => {
    const { name } = c.req.valid("param");
    const body = c.req.valid("json");
    const message = typeof body.message === "string" ? body.message : JSON.stringify(body.message);
    if (message.trim() === "") {
      throw new ApiError(400, "validation_failed", "message is required and must not be blank");
    }
    // UTF-8 needs at most 3 bytes per UTF-16 unit: only a long message is worth encoding.
    if (message.length * 3 > maxMessageBytes && utf8.encode(message).length > maxMessageBytes) {
      throw new ApiError(400, "message_too_large", "Message exceeds the 100KB limit");
    }
    const result = await c.get("deps").streams.post(name, {
      owner: ownerOf(c),
      message,
      author: body.author,
    });
    if (!result.ok && result.reason === "forbidden") throw forbidden();
    if (!result.ok) {
      throw new ApiError(409, "workout_closing", "The stream's workout is being archived");
    }
    c.get("deps").hub.published(name, result);
    return c.json({ success: true as const, messageId: result.messageId, streamName: name }, 200);
  });

  app.openapi(list, async (c) => {
    ownerOf(c);
    const streams = await c.get("deps").streams.list();
    return c.json({
      streams: streams.map(({ lastWrite: _lastWrite, ...info }) => info),
    }, 200);
  });

  app.openapi(readMessages, async (c) => {
    ownerOf(c);
    const { name } = c.req.valid("param");
    const q = c.req.valid("query");
    const messages = await c.get("deps").streams.range(name, q.start, q.end, q.count);
    return c.json({ streamName: name, messages }, 200);
  });

  app.openapi(cleanup, async (c) => {
    // It can end every rider's live ride, so not even anonymous streaming allows it.
    if (c.get("principal")?.kind !== "legacy") {
      throw new ApiError(403, "forbidden", "Cleanup needs the shared API key");
    }
    const { retention } = c.req.valid("query");
    const cutoff = Date.now() - retention;
    let deleted = 0;
    for (const stream of await c.get("deps").streams.list()) {
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
    if (!meta) throw new ApiError(404, "not_found", "Stream not found");
    if (meta.owner !== owner) throw forbidden();
    if (!(await deleteStream(c, name))) throw new ApiError(404, "not_found", "Stream not found");
    return c.json({ success: true as const, message: `Stream ${name} deleted successfully` }, 200);
  });

  app.openapi(listenAll, (c) => {
    ownerOf(c);
    return sse(c, null);
  });

  app.openapi(listen, (c) => {
    ownerOf(c);
    return sse(c, c.req.valid("param").name);
  });

  return app;
}
