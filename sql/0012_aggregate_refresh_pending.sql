-- Continuous-aggregate refreshes still owed: one row per aggregate and window that a committed
-- write (archiving a ride, deleting one) has changed and that no successful refresh has covered
-- yet. The write inserts its rows in its own transaction, so a crash between the commit and the
-- refresh loses nothing; the request then refreshes each aggregate (a short retry when it collides
-- with a concurrent refresh, which fails instead of waiting since TimescaleDB 2.26.3/2.27) and
-- deletes the rows it covered; whatever is left is refreshed by a drain loop on every instance
-- (src/db/timescale.ts). Rows are only inserted, never updated by a write, so concurrent archives
-- never wait on each other here; the drain merges overlapping windows of one aggregate.
--
-- The same table on both editions: on the Apache edition the rollups are views, nothing is ever
-- written here and the drain never reads it.
--
--   workout_id        the ride the window belongs to (no foreign key: a deleted ride's rows stay)
--   aggregate         the continuous aggregate (its view name)
--   window_start/end  the bucket-aligned window to refresh, [start, end)
--   due_at            not before: a lease (the writing request's own attempt, or a drain's claim)
--                     or a back-off after an error that is not a passing collision
--   attempts          refresh attempts so far; last_error the last failure's message
create table aggregate_refresh_pending (
  id bigint generated always as identity primary key,
  workout_id uuid,
  aggregate text not null,
  window_start timestamptz not null,
  window_end timestamptz not null,
  due_at timestamptz not null default now(),
  attempts integer not null default 0,
  last_error text,
  created_at timestamptz not null default now(),
  constraint aggregate_refresh_pending_window_check check (window_start < window_end)
);

-- The drain's claim: due rows, oldest first (one index probe when there are none).
create index aggregate_refresh_pending_due_at_idx on aggregate_refresh_pending (due_at);
-- The writing request finds its own rows after the commit.
create index aggregate_refresh_pending_workout_id_idx on aggregate_refresh_pending (workout_id);
