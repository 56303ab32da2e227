import { createRoute, z } from "@hono/zod-openapi";
import { errors, json, jsonBody, userSecurity } from "../../http/openapi.ts";
import { idParams, jsonBodyErrors, signedInErrors } from "../../http/schemas.ts";
import { webhookEventTypes } from "../../webhooks/outbox.ts";

const tags = ["Webhooks"];

const url = z.string().trim().min(1, "must not be blank").max(2048).openapi({
  example: "https://example.com/hooks/bike-power-tracker",
  description: "Where deliveries are POSTed: http or https, not a loopback or private address " +
    "(unless WEBHOOK_ALLOW_PRIVATE)",
});
const events = z.array(z.enum(webhookEventTypes)).min(1, "must name at least one event").max(3)
  .openapi({ example: ["workout.completed"], description: "The events delivered to this hook" });

/** A webhook as JSON (never its secret). */
export const WebhookSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    events: z.array(z.enum(webhookEventTypes)),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Webhook");

const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z.string().openapi({
    example: "whsec_Xy3kQ9aBWc1n…",
    description: "The signing secret, shown only in this answer (docs/webhooks.md)",
  }),
}).openapi("CreatedWebhook");

/** One delivery in a hook's log. */
export const DeliverySchema = z
  .object({
    id: z.uuid(),
    eventId: z.uuid().openapi({ description: "The event's id, sent as Webhook-Id (idempotency)" }),
    eventType: z.enum(webhookEventTypes),
    workoutId: z.uuid(),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    nextAttemptAt: z.string().nullable().openapi({
      format: "date-time",
      description: "When a pending delivery is tried next (null once delivered or failed)",
    }),
    lastAttemptAt: z.string().nullable().openapi({ format: "date-time" }),
    lastStatusCode: z.number().int().nullable().openapi({
      description: "The receiver's last HTTP status (null: no answer)",
    }),
    lastError: z.string().nullable(),
    responseExcerpt: z.string().nullable().openapi({
      description: "The first 256 characters of the receiver's last answer",
    }),
    createdAt: z.string().openapi({ format: "date-time" }),
    deliveredAt: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("WebhookDelivery");

const hookErrors = [...signedInErrors, "service_unavailable"] as const;

/** POST /api/webhooks */
export const create = createRoute({
  method: "post",
  path: "/",
  operationId: "createWebhook",
  tags,
  summary: "Register a webhook (its signing secret is shown once)",
  security: userSecurity,
  request: { body: jsonBody(z.object({ url, events }).strict()) },
  responses: {
    201: json(CreatedWebhookSchema, "The new hook with its secret"),
    ...errors(...jsonBodyErrors, ...hookErrors, "webhook_url_refused", "too_many_webhooks"),
  },
});

/** GET /api/webhooks */
export const list = createRoute({
  method: "get",
  path: "/",
  operationId: "listWebhooks",
  tags,
  summary: "The rider's webhooks, newest first",
  security: userSecurity,
  responses: {
    200: json(z.object({ webhooks: z.array(WebhookSchema) }), "The rider's hooks"),
    ...errors(...hookErrors),
  },
});

/** GET /api/webhooks/{id} */
export const get = createRoute({
  method: "get",
  path: "/{id}",
  operationId: "getWebhook",
  tags,
  summary: "One of the rider's webhooks",
  security: userSecurity,
  request: { params: idParams() },
  responses: {
    200: json(WebhookSchema, "The hook"),
    ...errors("validation_failed", ...hookErrors, "not_found"),
  },
});

/** PATCH /api/webhooks/{id} */
export const update = createRoute({
  method: "patch",
  path: "/{id}",
  operationId: "updateWebhook",
  tags,
  summary: "Change a webhook's URL or events (its secret stays)",
  security: userSecurity,
  request: {
    params: idParams(),
    body: jsonBody(z.object({ url: url.optional(), events: events.optional() }).strict()),
  },
  responses: {
    200: json(WebhookSchema, "The changed hook"),
    ...errors(...jsonBodyErrors, ...hookErrors, "not_found", "webhook_url_refused"),
  },
});

/** DELETE /api/webhooks/{id} */
export const remove = createRoute({
  method: "delete",
  path: "/{id}",
  operationId: "deleteWebhook",
  tags,
  summary: "Delete a webhook with its delivery log (pending deliveries are not sent)",
  security: userSecurity,
  request: { params: idParams() },
  responses: {
    204: { description: "Deleted" },
    ...errors("validation_failed", ...hookErrors, "not_found"),
  },
});

/** GET /api/webhooks/{id}/deliveries */
export const deliveries = createRoute({
  method: "get",
  path: "/{id}/deliveries",
  operationId: "listWebhookDeliveries",
  tags,
  summary: "A webhook's delivery log, newest first: attempts, answers, next attempt",
  security: userSecurity,
  request: {
    params: idParams(),
    query: z.object({
      limit: z.coerce.number().int().min(1).max(200).default(50),
      offset: z.coerce.number().int().min(0).default(0),
    }),
  },
  responses: {
    200: json(z.object({ deliveries: z.array(DeliverySchema) }), "A page of deliveries"),
    ...errors("validation_failed", ...hookErrors, "not_found"),
  },
});
