-- Archived samples and per-workout best efforts, as TimescaleDB hypertables.
--
-- Neither hypertable has a foreign key to workouts, on purpose. TimescaleDB copies a foreign
-- key onto every chunk, so each new chunk adds RI triggers on `workouts` and takes a SHARE ROW
-- EXCLUSIVE lock on it while the chunk is created -- inside the archive transaction, which
-- already holds a row lock on its workout, so two rides archived across a chunk boundary could
-- deadlock. Every archived sample would also pay an RI lookup, and a cascade would have to reach
-- into compressed chunks. Rows are only written by the archive transaction, which inserts them
-- for a workout it has just locked; deleting a workout deletes its telemetry and efforts in the
-- same transaction (application code).

-- One row per received sample, as granular as it arrived.
--
-- Chunk interval: 7 days. A query that does not bound `time` -- reading or deleting one workout
-- by id -- plans every chunk, which measured ~0.1-0.3 ms per chunk here: with daily chunks a
-- year of history would add 35-100 ms to each such query, weekly chunks a seventh of that. (The
-- queries in src/analytics/aggregate_queries.ts bound `time` by the workout's own range, so they
-- touch one or two chunks either way.) A 1 Hz ride-hour is 3,600 rows, ~0.8 MB with indexes, so
-- a week stays a few hundred MB at a few hundred ride-hours a day; far beyond that, lower it with
-- set_chunk_time_interval (it applies to new chunks). Rides are archived within a day of being
-- recorded (the live TTL is 24 h by default), so inserts hit the newest, uncompressed chunks, and
-- a ride stays in one chunk (two across a week boundary), which keeps its compression batches
-- (segment by workout_id) full at 1,000 rows.
create table telemetry (
  workout_id uuid not null,
  user_id uuid not null,
  time timestamptz not null,
  power double precision,
  cadence double precision,
  heart_rate double precision,
  speed double precision,
  distance double precision,
  altitude double precision,
  lat double precision,
  lon double precision,
  -- Archiving inserts with `on conflict do nothing`, so a retried archive is a no-op.
  constraint telemetry_workout_id_time_key unique (workout_id, time)
);

-- The default (time desc) index stays: continuous-aggregate refreshes read a time window.
select create_hypertable('telemetry', by_range('time', interval '7 days'));

-- The exact best average power of each workout for each standard duration, stored on the
-- workout's start time (about 14 rows per ride).
--
-- Chunk interval: 90 days. The table is tiny (~14 rows per ride, ~3 MB a day even at 1,000 rides
-- a day), and the analytics read a rider's efforts over months or all time, where every chunk
-- costs planning time and an index descent: 4 chunks a year. Over 3 years of 1,000 rides (plus 19
-- other riders' 19,000), an all-time power curve measured faster with 90-day chunks than with
-- 1-year chunks or a plain table (smaller per-chunk indexes).
create table workout_efforts (
  user_id uuid not null,
  workout_id uuid not null,
  start_time timestamptz not null,
  duration_s integer not null check (duration_s > 0),
  watts double precision not null check (watts >= 0),
  constraint workout_efforts_pkey primary key (workout_id, duration_s, start_time)
);

select create_hypertable(
  'workout_efforts',
  by_range('start_time', interval '90 days'),
  create_default_indexes => false
);

-- Serves "best N-second power per day/week/month" (the Apache view groups these rows by day):
-- one rider's efforts of one duration over a time range, read from the index alone.
create index workout_efforts_user_id_duration_s_start_time_idx
  on workout_efforts (user_id, duration_s, start_time desc) include (watts);

-- Serves the power curve: per duration, the rider's efforts already in the curve's order (best
-- watts, then the earliest ride), so the query merges the chunks' indexes instead of sorting.
create index workout_efforts_user_id_duration_s_watts_idx
  on workout_efforts (user_id, duration_s, watts desc, start_time, workout_id);
