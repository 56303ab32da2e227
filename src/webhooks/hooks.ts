import { ApiError, conflict, notFound } from "../core/errors.ts";
import { randomSecret } from "../core/secrets.ts";
import type { Sql } from "../db/client.ts";
import { refuseWebhookUrl } from "./address.ts";
import type { WebhookEventType } from "./outbox.ts";
import {
  deleteWebhook,
  type DeliveryRow,
  getWebhook,
  insertWebhook,
  listDeliveries,
  listWebhooks,
  updateWebhook,
  type WebhookRow,
} from "./queries.ts";

/** Prefix of webhook signing secrets. */
export const webhookSecretPrefix = "whsec_";

/** What managing a rider's webhooks uses. */
export type WebhookDeps = {
  sql: Sql;
  config: { webhooks: { perUserMax: number; allowPrivate: boolean } };
};

/** Which rider's which hook. */
export type WebhookIds = { userId: string; webhookId: string };

async function checkUrl(deps: WebhookDeps, url: string): Promise<void> {
  const refused = await refuseWebhookUrl(url, { allowPrivate: deps.config.webhooks.allowPrivate });
  if (refused) throw new ApiError("webhook_url_refused", refused);
}

/** Registers a hook; answers it with its signing secret (shown this once). */
export async function createWebhook(
  deps: WebhookDeps,
  userId: string,
  input: { url: string; events: WebhookEventType[] },
): Promise<{ hook: WebhookRow; secret: string }> {
  await checkUrl(deps, input.url);
  const secret = `${webhookSecretPrefix}${randomSecret(32)}`;
  const result = await insertWebhook(deps.sql, {
    userId,
    url: input.url,
    events: [...new Set(input.events)],
    secret,
    max: deps.config.webhooks.perUserMax,
  });
  if (!result.ok) {
    throw conflict(
      "too_many_webhooks",
      `You already have ${result.count} webhooks (the most allowed); delete one first`,
    );
  }
  return { hook: result.hook, secret };
}

/** The rider's hooks, newest first. */
export async function ownWebhooks(deps: WebhookDeps, userId: string): Promise<WebhookRow[]> {
  return await listWebhooks(deps.sql, userId);
}

/** One of the rider's hooks; 404 when it is not theirs. */
export async function ownWebhook(deps: WebhookDeps, ids: WebhookIds): Promise<WebhookRow> {
  const hook = await getWebhook(deps.sql, ids);
  if (!hook) throw notFound("Webhook");
  return hook;
}

/** Changes a hook's URL or events; 404 when it is not the rider's. */
export async function changeWebhook(
  deps: WebhookDeps,
  ids: WebhookIds,
  patch: { url?: string; events?: WebhookEventType[] },
): Promise<WebhookRow> {
  if (patch.url !== undefined) await checkUrl(deps, patch.url);
  const events = patch.events && [...new Set(patch.events)];
  const hook = await updateWebhook(deps.sql, ids, { url: patch.url, events });
  if (!hook) throw notFound("Webhook");
  return hook;
}

/** Deletes a hook and its delivery log; pending deliveries are not sent. */
export async function removeWebhook(deps: WebhookDeps, ids: WebhookIds): Promise<void> {
  if (!(await deleteWebhook(deps.sql, ids))) throw notFound("Webhook");
}

/** A hook's delivery log, newest first; 404 when the hook is not the rider's. */
export async function webhookDeliveries(
  deps: WebhookDeps,
  ids: WebhookIds,
  page: { limit: number; offset: number },
): Promise<DeliveryRow[]> {
  await ownWebhook(deps, ids);
  return await listDeliveries(deps.sql, { webhookId: ids.webhookId, ...page });
}
