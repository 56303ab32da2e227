import type { OpenAPIHono } from "@hono/zod-openapi";
import { onRoutes, requireUser } from "../../http/authenticate.ts";
import type { AppEnv } from "../../http/deps.ts";
import { createRouter } from "../../http/openapi.ts";
import * as handlers from "./handlers.ts";
import * as specs from "./specs.ts";

/**
 * The old clients' /api/streams routes (COMPAT), plus SSE through the hub and sharing. The
 * legacy routes also serve the shared key and, where allowed, anonymous callers; only share
 * links and visibility need a signed-in rider.
 */
export function streamRoutes(): OpenAPIHono<AppEnv> {
  const router = createRouter();
  router.use("/:name/shares/*", onRoutes(requireUser));
  router.use("/:name/visibility", onRoutes(requireUser));
  // Order matters: DELETE /cleanup before DELETE /{name}.
  return router
    .openapi(specs.createStreamRoute, handlers.createStream)
    .openapi(specs.postMessageRoute, handlers.postStreamMessage)
    .openapi(specs.listStreamsRoute, handlers.listStreams)
    .openapi(specs.readMessagesRoute, handlers.readStreamMessages)
    .openapi(specs.cleanupRoute, handlers.cleanupStreams)
    .openapi(specs.deleteStreamRoute, handlers.deleteStream)
    .openapi(specs.listenAllRoute, handlers.listenAllStreams)
    .openapi(specs.listenRoute, handlers.listenStream)
    .openapi(specs.createShareRoute, handlers.createStreamShare)
    .openapi(specs.listSharesRoute, handlers.listStreamShares)
    .openapi(specs.revokeShareRoute, handlers.revokeStreamShare)
    .openapi(specs.setVisibilityRoute, handlers.setStreamVisibility);
}
