import { createRoute, z } from "@hono/zod-openapi";
import type { ErrorCode } from "../../core/error_codes.ts";
import { errors, json, jsonBody, userSecurity } from "../../http/openapi.ts";
import { streamNameSchema, uuidParam } from "../../http/schemas.ts";

const tags = ["Live streams (legacy)"];
const security = userSecurity;

/** What any stream route can answer before its handler runs, and for a caller it cannot serve. */
const caller: ErrorCode[] = [
  "unauthorized",
  "invalid_token",
  "invalid_api_key",
  "too_many_attempts",
  "rate_limited",
  "service_unavailable",
];
/** The same for the routes only a signed-in rider may use. */
const signedIn: ErrorCode[] = [...caller, "rider_not_registered"];
/** What a JSON body can answer before its handler runs. */
const jsonInput: ErrorCode[] = [
  "bad_request",
  "validation_failed",
  "unsupported_media_type",
  "payload_too_large",
];

const streamName = streamNameSchema;
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

/** `?share=`: the secret of a share link, for viewers without an account. */
const shareQuery = z.string().max(200).optional().openapi({
  param: { name: "share", in: "query" },
  description: "A share link's secret (`bpts_…`): lets a viewer without an account watch",
});

/** The body of a new share link (optional: an empty body takes the defaults). */
export const ShareBody = z.object({
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

/** `createStream`. */
export const createStreamRoute = createRoute({
  operationId: "createStream",
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
    ...errors(...caller, ...jsonInput, "forbidden", "stream_in_use", "workout_closing"),
  },
});

/** `postStreamMessage`. */
export const postMessageRoute = createRoute({
  operationId: "postStreamMessage",
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
      ...caller,
      ...jsonInput,
      "message_too_large",
      "forbidden",
      "stream_in_use",
      "workout_closing",
    ),
  },
});

/** `listStreams`. */
export const listStreamsRoute = createRoute({
  operationId: "listStreams",
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
    ...errors(...caller),
  },
});

/** `readStreamMessages`. */
export const readMessagesRoute = createRoute({
  operationId: "readStreamMessages",
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
    ...errors(...caller, "validation_failed", "invalid_value", "invalid_share", "forbidden"),
  },
});

/** `cleanupStreams`. */
export const cleanupRoute = createRoute({
  operationId: "cleanupStreams",
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
    ...errors(...caller, "validation_failed", "forbidden"),
  },
});

/** `deleteStream`. */
export const deleteStreamRoute = createRoute({
  operationId: "deleteStream",
  method: "delete",
  path: "/{name}",
  tags,
  summary: "Delete a stream (its workout, if any, is archived first)",
  security,
  request: { params: NameParams },
  responses: {
    200: json(z.object({ success: z.literal(true), message: z.string() }), "Deleted"),
    ...errors(...caller, "validation_failed", "forbidden", "not_found"),
  },
});

const sseStream = {
  content: { "text/event-stream": { schema: z.string() } },
  description: "Unnamed `data:` frames: connected, message…, stream_deleted",
};

/** `listenStream`. */
export const listenRoute = createRoute({
  operationId: "listenStream",
  method: "get",
  path: "/{name}/listen",
  tags,
  summary: "Server-sent events of one stream (also accepts ?apiKey= or ?share=)",
  security,
  request: { params: NameParams, query: z.object({ share: shareQuery }) },
  responses: {
    200: sseStream,
    ...errors(...caller, "validation_failed", "invalid_share", "forbidden", "too_many_connections"),
  },
});

/** `listenAllStreams`. */
export const listenAllRoute = createRoute({
  operationId: "listenAllStreams",
  method: "get",
  path: "/listenAll",
  tags,
  summary: "Server-sent events of every stream the caller may see (also accepts ?apiKey=)",
  security,
  responses: { 200: sseStream, ...errors(...caller, "too_many_connections") },
});

/** `createStreamShare`. */
export const createShareRoute = createRoute({
  operationId: "createStreamShare",
  method: "post",
  path: "/{name}/shares",
  tags,
  summary: "Create a share link: anyone with it may watch this stream until it expires",
  security: userSecurity,
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
    ...errors(...signedIn, ...jsonInput, "forbidden"),
  },
});

/** `listStreamShares`. */
export const listSharesRoute = createRoute({
  operationId: "listStreamShares",
  method: "get",
  path: "/{name}/shares",
  tags,
  summary: "The rider's share links of a stream, newest first",
  security: userSecurity,
  request: { params: NameParams },
  responses: {
    200: json(z.object({ shares: z.array(ShareSchema) }), "Share links"),
    ...errors(...signedIn, "validation_failed"),
  },
});

/** `revokeStreamShare`. */
export const revokeShareRoute = createRoute({
  operationId: "revokeStreamShare",
  method: "delete",
  path: "/{name}/shares/{id}",
  tags,
  summary: "Revoke a share link; its open viewers are disconnected",
  security: userSecurity,
  request: {
    params: NameParams.extend({
      id: uuidParam("must be a share link id (UUID)"),
    }),
  },
  responses: {
    200: json(z.object({ success: z.literal(true), message: z.string() }), "Revoked"),
    ...errors(...signedIn, "validation_failed", "not_found", "revocation_pending"),
  },
});

/** `setStreamVisibility`. */
export const setVisibilityRoute = createRoute({
  operationId: "setStreamVisibility",
  method: "put",
  path: "/{name}/visibility",
  tags,
  summary: "Make a rider's stream public (anyone may watch) or private again",
  security: userSecurity,
  request: {
    params: NameParams,
    body: jsonBody(z.object({ visibility: z.enum(["private", "public"]) })),
  },
  responses: {
    200: json(
      z.object({ streamName: z.string(), visibility: z.enum(["private", "public"]) }),
      "Changed",
    ),
    ...errors(...signedIn, ...jsonInput, "forbidden", "not_found"),
  },
});
