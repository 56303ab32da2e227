import type { OpenAPIHono } from "@hono/zod-openapi";
import { onRoutes, requireUser } from "../../http/authenticate.ts";
import type { AppEnv } from "../../http/deps.ts";
import { createRouter } from "../../http/openapi.ts";
import * as handlers from "./handlers.ts";
import * as specs from "./specs.ts";

/** Routes under /api/webhooks: a rider's hooks and their delivery logs (token or API key). */
export function webhookRoutes(): OpenAPIHono<AppEnv> {
  const router = createRouter();
  router.use("*", onRoutes(requireUser));
  return router
    .openapi(specs.create, handlers.createWebhook)
    .openapi(specs.list, handlers.listWebhooks)
    .openapi(specs.get, handlers.getWebhook)
    .openapi(specs.update, handlers.updateWebhook)
    .openapi(specs.remove, handlers.deleteWebhook)
    .openapi(specs.deliveries, handlers.listDeliveries);
}
