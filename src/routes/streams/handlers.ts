import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Context, TypedResponse } from "hono";
import { forbidden, invalid } from "../../core/errors.ts";
import { userIdOf } from "../../http/authenticate.ts";
import { jsonAnswer } from "../../http/compress.ts";
import type { AppEnv } from "../../http/deps.ts";
import { ownerOf, streamCaller } from "../../http/stream_caller.ts";
import {
  openStream,
  postMessage,
  readableMeta,
  readMessagesJson,
  visibleStreams,
} from "../../streams/messages.ts";
import { cleanupSharedStreams, deleteOwnStream } from "../../streams/removal.ts";
import type { StreamEntry } from "../../streams/store.ts";
import { listShares } from "../../streams/share_queries.ts";
import { changeVisibility, createShareLink, revokeShareLink } from "../../streams/shares.ts";
import { sse } from "./sse.ts";
import {
  type cleanupRoute,
  type createShareRoute,
  type createStreamRoute,
  type deleteStreamRoute,
  type listenAllRoute,
  type listenRoute,
  type listSharesRoute,
  type listStreamsRoute,
  type postMessageRoute,
  type readMessagesRoute,
  type revokeShareRoute,
  type setVisibilityRoute,
  ShareBody,
} from "./specs.ts";

/** A handler of one route spec, in the app's environment. */
type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppEnv>;

const maxMessageBytes = 100 * 1024;
const utf8 = new TextEncoder();

/** A JSON body that may be empty (then `{}`); malformed JSON is a 400. */
async function optionalJson(c: Context<AppEnv>): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw invalid("Malformed JSON in request body", "bad_request");
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

/** POST /api/streams/create. */
export const createStream: AppRouteHandler<typeof createStreamRoute> = async (c) => {
  const { streamName: name } = c.req.valid("json");
  const opened = await openStream(c.var.deps, name, ownerOf(c));
  return c.json({
    success: true as const,
    streamName: name,
    messageId: opened.messageId,
    message: "Stream created successfully",
    ...(opened.workoutId !== undefined ? { workoutId: opened.workoutId } : {}),
  }, 200);
};

/** POST /api/streams/{name}/messages. */
export const postStreamMessage: AppRouteHandler<typeof postMessageRoute> = async (c) => {
  const { name } = c.req.valid("param");
  const body = c.req.valid("json");
  const message = typeof body.message === "string" ? body.message : JSON.stringify(body.message);
  if (message.trim() === "") throw invalid("message is required and must not be blank");
  // UTF-8 needs at most 3 bytes per UTF-16 unit: only a long message is worth encoding.
  if (message.length * 3 > maxMessageBytes && utf8.encode(message).length > maxMessageBytes) {
    throw invalid("Message exceeds the 100KB limit", "message_too_large");
  }
  const messageId = await postMessage(c.var.deps, name, {
    owner: ownerOf(c),
    message,
    author: body.author,
  });
  return c.json({ success: true as const, messageId, streamName: name }, 200);
};

/** GET /api/streams. */
export const listStreams: AppRouteHandler<typeof listStreamsRoute> = async (c) => {
  const caller = await streamCaller(c, undefined);
  return c.json({ streams: await visibleStreams(c.var.deps.streams, caller) }, 200);
};

/** GET /api/streams/{name}/messages. */
export const readStreamMessages: AppRouteHandler<typeof readMessagesRoute> = async (c) => {
  const { name } = c.req.valid("param");
  const q = c.req.valid("query");
  const caller = await streamCaller(c, q.share);
  const messages = await readMessagesJson(c.var.deps.streams, caller, name, q);
  // The bytes c.json({ streamName, messages }) would send, gzipped for a client that accepts it
  // (100 messages: 33 KB).
  const text = `{"streamName":${JSON.stringify(name)},"messages":${messages}}`;
  return jsonAnswer(c, text) as unknown as TypedResponse<
    { streamName: string; messages: StreamEntry[] },
    200,
    "json"
  >;
};

/** DELETE /api/streams/cleanup: the shared key only. */
export const cleanupStreams: AppRouteHandler<typeof cleanupRoute> = async (c) => {
  // It can end every shared stream, so not even anonymous streaming allows it.
  if (c.var.principal?.kind !== "legacy") throw forbidden("Cleanup needs the shared API key");
  const deleted = await cleanupSharedStreams(c.var.deps, c.req.valid("query").retention);
  return c.json({
    success: true as const,
    deletedCount: deleted,
    message: `Deleted ${deleted} inactive streams`,
  }, 200);
};

/** DELETE /api/streams/{name}: its workout, if any, is archived first. */
export const deleteStream: AppRouteHandler<typeof deleteStreamRoute> = async (c) => {
  const { name } = c.req.valid("param");
  await deleteOwnStream(c.var.deps, name, ownerOf(c));
  return c.json({ success: true as const, message: `Stream ${name} deleted successfully` }, 200);
};

/** GET /api/streams/listenAll. */
export const listenAllStreams: AppRouteHandler<typeof listenAllRoute> = async (c) => {
  const caller = await streamCaller(c, undefined);
  return await sse(c, caller, null);
};

/** GET /api/streams/{name}/listen. */
export const listenStream: AppRouteHandler<typeof listenRoute> = async (c) => {
  const { name } = c.req.valid("param");
  const caller = await streamCaller(c, c.req.valid("query").share);
  const meta = await readableMeta(c.var.deps.streams, caller, name);
  return await sse(c, caller, { name, meta });
};

/** POST /api/streams/{name}/shares. */
export const createStreamShare: AppRouteHandler<typeof createShareRoute> = async (c) => {
  const { name } = c.req.valid("param");
  const { share, token } = await createShareLink(c.var.deps, {
    userId: userIdOf(c.var.principal),
    streamName: name,
    lifetime: async () => {
      const parsed = ShareBody.safeParse(await optionalJson(c));
      if (!parsed.success) throw invalid(parsed.error.issues[0].message);
      return parsed.data.expiresInMinutes;
    },
  });
  const query = `share=${encodeURIComponent(token)}`;
  return c.json({
    ...shareJson(share),
    token,
    listenUrl: `/api/streams/${name}/listen?${query}`,
    messagesUrl: `/api/streams/${name}/messages?${query}`,
  }, 201);
};

/** GET /api/streams/{name}/shares. */
export const listStreamShares: AppRouteHandler<typeof listSharesRoute> = async (c) => {
  const shares = await listShares(c.var.deps.sql, {
    userId: userIdOf(c.var.principal),
    streamName: c.req.valid("param").name,
  });
  return c.json({ shares: shares.map(shareJson) }, 200);
};

/** DELETE /api/streams/{name}/shares/{id}. */
export const revokeStreamShare: AppRouteHandler<typeof revokeShareRoute> = async (c) => {
  const { name, id } = c.req.valid("param");
  await revokeShareLink(c.var.deps, {
    userId: userIdOf(c.var.principal),
    streamName: name,
    shareId: id,
  });
  return c.json({ success: true as const, message: "Share link revoked" }, 200);
};

/** PUT /api/streams/{name}/visibility. */
export const setStreamVisibility: AppRouteHandler<typeof setVisibilityRoute> = async (c) => {
  const { name } = c.req.valid("param");
  const { visibility } = c.req.valid("json");
  await changeVisibility(c.var.deps, {
    userId: userIdOf(c.var.principal),
    streamName: name,
    visibility,
  });
  return c.json({ streamName: name, visibility }, 200);
};
