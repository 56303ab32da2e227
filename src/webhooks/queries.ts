import type { Sql } from "../db/client.ts";
import type { WebhookEventType } from "./outbox.ts";

/** A webhook as the queries return it (never its secret). */
export type WebhookRow = {
  id: string;
  url: string;
  events: WebhookEventType[];
  createdAt: Date;
  updatedAt: Date;
};

/** One delivery of an event to a hook, as its log shows it. */
export type DeliveryRow = {
  id: string;
  eventId: string;
  eventType: WebhookEventType;
  workoutId: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  responseExcerpt: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
};

/** Inserts a hook unless the rider already has `max`; answers how many they have otherwise. */
export async function insertWebhook(
  sql: Sql,
  hook: { userId: string; url: string; events: WebhookEventType[]; secret: string; max: number },
): Promise<{ ok: true; hook: WebhookRow } | { ok: false; count: number }> {
  return await sql.begin(async (tx) => {
    // The rider's row is the lock: two concurrent creations cannot both pass the count.
    await tx`select 1 from users where id = ${hook.userId} for update`;
    const [{ count }] = await tx<{ count: number }[]>`
      select count(*)::int as count from webhooks where user_id = ${hook.userId}
    `;
    if (count >= hook.max) return { ok: false as const, count };
    const [row] = await tx<WebhookRow[]>`
      insert into webhooks (user_id, url, events, secret)
      values (${hook.userId}, ${hook.url}, ${hook.events}, ${hook.secret})
      returning id, url, events, created_at, updated_at
    `;
    return { ok: true as const, hook: row };
  });
}

/** The rider's hooks, newest first. */
export async function listWebhooks(sql: Sql, userId: string): Promise<WebhookRow[]> {
  return await sql<WebhookRow[]>`
    select id, url, events, created_at, updated_at from webhooks
    where user_id = ${userId}
    order by created_at desc, id
  `;
}

/** One of the rider's hooks. */
export async function getWebhook(
  sql: Sql,
  ids: { userId: string; webhookId: string },
): Promise<WebhookRow | undefined> {
  const [row] = await sql<WebhookRow[]>`
    select id, url, events, created_at, updated_at from webhooks
    where id = ${ids.webhookId} and user_id = ${ids.userId}
  `;
  return row;
}

/** Changes one of the rider's hooks' URL or events. */
export async function updateWebhook(
  sql: Sql,
  ids: { userId: string; webhookId: string },
  patch: { url?: string; events?: WebhookEventType[] },
): Promise<WebhookRow | undefined> {
  const keys = (["url", "events"] as const).filter((k) => patch[k] !== undefined);
  if (keys.length === 0) return await getWebhook(sql, ids);
  const [row] = await sql<WebhookRow[]>`
    update webhooks set ${sql(patch, ...keys)}, updated_at = now()
    where id = ${ids.webhookId} and user_id = ${ids.userId}
    returning id, url, events, created_at, updated_at
  `;
  return row;
}

/** Deletes one of the rider's hooks with its deliveries; false when it is not theirs. */
export async function deleteWebhook(
  sql: Sql,
  ids: { userId: string; webhookId: string },
): Promise<boolean> {
  const rows = await sql`
    delete from webhooks where id = ${ids.webhookId} and user_id = ${ids.userId} returning id
  `;
  return rows.length > 0;
}

/** A hook's deliveries, newest first (the caller has checked the hook is the rider's). */
export async function listDeliveries(
  sql: Sql,
  options: { webhookId: string; limit: number; offset: number },
): Promise<DeliveryRow[]> {
  return await sql<DeliveryRow[]>`
    select d.id, d.event_id, e.type as event_type, e.workout_id, d.status, d.attempts,
      case when d.status = 'pending' then d.next_attempt_at end as next_attempt_at,
      d.last_attempt_at, d.last_status_code, d.last_error, d.response_excerpt, d.created_at,
      d.delivered_at
    from webhook_deliveries d
    join webhook_events e on e.id = d.event_id
    where d.webhook_id = ${options.webhookId}
    order by d.created_at desc, d.id
    limit ${options.limit} offset ${options.offset}
  `;
}

/** A claimed delivery: what the worker needs to send it. */
export type ClaimedDelivery = {
  id: string;
  attempts: number;
  url: string;
  secret: string;
  eventId: string;
  eventType: WebhookEventType;
  occurredAt: Date;
  data: unknown;
};

/**
 * Claims up to `limit` due pending deliveries: their next attempt is pushed `leaseMs` ahead and
 * their attempt counted, in one statement, so that another instance (for update skip locked) or
 * this one's next pass does not take them while they are sent. A sender that dies mid-send leaves
 * the lease to run out, and the delivery is sent again (at least once).
 */
export async function claimDueDeliveries(
  sql: Sql,
  options: { limit: number; leaseMs: number },
): Promise<ClaimedDelivery[]> {
  return await sql<ClaimedDelivery[]>`
    with due as (
      select id from webhook_deliveries
      where status = 'pending' and next_attempt_at <= now()
      order by next_attempt_at
      limit ${options.limit}
      for update skip locked
    )
    update webhook_deliveries d set
      attempts = d.attempts + 1,
      last_attempt_at = now(),
      next_attempt_at = now() + ${options.leaseMs} * interval '1 millisecond'
    from due, webhooks h, webhook_events e
    where d.id = due.id and h.id = d.webhook_id and e.id = d.event_id
    returning d.id, d.attempts, h.url, h.secret, e.id as event_id, e.type as event_type,
      e.occurred_at, e.data
  `;
}

/** Records a delivery's answer: delivered, or a failure retried at `retryAt` or (null) given up. */
export async function recordAttempt(
  sql: Sql,
  result: {
    id: string;
    delivered: boolean;
    statusCode: number | null;
    error: string | null;
    excerpt: string | null;
    retryAt: Date | null;
  },
): Promise<void> {
  const status = result.delivered ? "delivered" : result.retryAt ? "pending" : "failed";
  await sql`
    update webhook_deliveries set
      status = ${status},
      last_status_code = ${result.statusCode},
      last_error = ${result.error},
      response_excerpt = ${result.excerpt},
      next_attempt_at = coalesce(${result.retryAt}, next_attempt_at),
      delivered_at = ${result.delivered ? sql`now()` : null}
    where id = ${result.id}
  `;
}

/** Deletes events (and their deliveries) older than `days`. */
export async function pruneEvents(sql: Sql, days: number): Promise<number> {
  const rows = await sql`
    delete from webhook_events where occurred_at < now() - ${days} * interval '1 day' returning id
  `;
  return rows.length;
}
