import type { Sql } from "../db/client.ts";

/** The events a webhook may subscribe to. */
export const webhookEventTypes = [
  "workout.completed",
  "workout.updated",
  "workout.deleted",
] as const;

/** One of {@linkcode webhookEventTypes}. */
export type WebhookEventType = (typeof webhookEventTypes)[number];

/**
 * Writes an event to the outbox and one pending delivery per hook of the rider subscribed to it,
 * in one statement on the caller's transaction (so the event commits or rolls back with the
 * change). Nothing is written when no hook of the rider wants the event.
 */
export async function recordWebhookEvent(
  tx: Sql,
  event: { type: WebhookEventType; userId: string; workoutId: string; data: unknown },
): Promise<void> {
  await tx`
    with hooks as (
      select id from webhooks
      where user_id = ${event.userId} and ${event.type} = any (events)
    ), e as (
      insert into webhook_events (user_id, type, workout_id, data)
      select ${event.userId}, ${event.type}, ${event.workoutId}, ${tx.json(event.data as never)}
      where exists (select 1 from hooks)
      returning id
    )
    insert into webhook_deliveries (webhook_id, event_id)
    select hooks.id, e.id from hooks, e
  `;
}
