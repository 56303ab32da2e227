import type { RouteHandler, z } from "@hono/zod-openapi";
import { userIdOf } from "../../http/authenticate.ts";
import type { AppEnv } from "../../http/deps.ts";
import * as hooks from "../../webhooks/hooks.ts";
import type { DeliveryRow, WebhookRow } from "../../webhooks/queries.ts";
import type * as specs from "./specs.ts";
import type { DeliverySchema, WebhookSchema } from "./specs.ts";

function webhookJson(hook: WebhookRow): z.infer<typeof WebhookSchema> {
  return {
    id: hook.id,
    url: hook.url,
    events: hook.events,
    createdAt: hook.createdAt.toISOString(),
    updatedAt: hook.updatedAt.toISOString(),
  };
}

function deliveryJson(d: DeliveryRow): z.infer<typeof DeliverySchema> {
  return {
    ...d,
    nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
    lastAttemptAt: d.lastAttemptAt?.toISOString() ?? null,
    createdAt: d.createdAt.toISOString(),
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
  };
}

/** POST /api/webhooks: a new hook, its secret shown once. */
export const createWebhook: RouteHandler<typeof specs.create, AppEnv> = async (c) => {
  const { hook, secret } = await hooks.createWebhook(
    c.var.deps,
    userIdOf(c.var.principal),
    c.req.valid("json"),
  );
  return c.json({ ...webhookJson(hook), secret }, 201);
};

/** GET /api/webhooks: the caller's hooks. */
export const listWebhooks: RouteHandler<typeof specs.list, AppEnv> = async (c) => {
  const rows = await hooks.ownWebhooks(c.var.deps, userIdOf(c.var.principal));
  return c.json({ webhooks: rows.map(webhookJson) }, 200);
};

/** GET /api/webhooks/{id}: one of the caller's hooks. */
export const getWebhook: RouteHandler<typeof specs.get, AppEnv> = async (c) => {
  const ids = { userId: userIdOf(c.var.principal), webhookId: c.req.valid("param").id };
  return c.json(webhookJson(await hooks.ownWebhook(c.var.deps, ids)), 200);
};

/** PATCH /api/webhooks/{id}: changes a hook's URL or events. */
export const updateWebhook: RouteHandler<typeof specs.update, AppEnv> = async (c) => {
  const ids = { userId: userIdOf(c.var.principal), webhookId: c.req.valid("param").id };
  const hook = await hooks.changeWebhook(c.var.deps, ids, c.req.valid("json"));
  return c.json(webhookJson(hook), 200);
};

/** DELETE /api/webhooks/{id}: deletes one of the caller's hooks. */
export const deleteWebhook: RouteHandler<typeof specs.remove, AppEnv> = async (c) => {
  const ids = { userId: userIdOf(c.var.principal), webhookId: c.req.valid("param").id };
  await hooks.removeWebhook(c.var.deps, ids);
  return c.body(null, 204);
};

/** GET /api/webhooks/{id}/deliveries: the hook's delivery log. */
export const listDeliveries: RouteHandler<typeof specs.deliveries, AppEnv> = async (c) => {
  const ids = { userId: userIdOf(c.var.principal), webhookId: c.req.valid("param").id };
  const rows = await hooks.webhookDeliveries(c.var.deps, ids, c.req.valid("query"));
  return c.json({ deliveries: rows.map(deliveryJson) }, 200);
};
