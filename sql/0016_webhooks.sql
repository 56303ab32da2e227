-- Webhooks: a rider's URLs told about their workouts (docs/webhooks.md). The secret signs each
-- delivery (HMAC-SHA256), so it is kept in clear: unlike an API key it must be used, not checked.
create table webhooks (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  url text not null check (url ~ '^https?://' and length(url) <= 2048),
  events text[] not null check (
    cardinality(events) > 0
    and events <@ array['workout.completed', 'workout.updated', 'workout.deleted']
  ),
  secret text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index webhooks_user_idx on webhooks (user_id);

-- The outbox: one row per event, written in the transaction of the change itself and fanned out
-- to the rider's matching hooks in the same statement (webhook_deliveries). Its id is the
-- deliveries' idempotency id (Webhook-Id).
create table webhook_events (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  type text not null,
  workout_id uuid not null,
  data jsonb not null,
  occurred_at timestamptz not null default now()
);

create index webhook_events_occurred_idx on webhook_events (occurred_at);

-- One row per event and hook: the delivery worker claims due pending rows (for update skip
-- locked), and the hook's delivery log reads them.
create table webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  webhook_id uuid not null references webhooks (id) on delete cascade,
  event_id uuid not null references webhook_events (id) on delete cascade,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts int not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_attempt_at timestamptz,
  last_status_code int,
  last_error text,
  response_excerpt text,
  created_at timestamptz not null default now(),
  delivered_at timestamptz,
  unique (webhook_id, event_id)
);

create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at)
  where status = 'pending';
create index webhook_deliveries_log_idx on webhook_deliveries (webhook_id, created_at desc);
create index webhook_deliveries_event_idx on webhook_deliveries (event_id);
