-- Laps of an imported ride (FIT lap messages, TCX <Lap>), with their summary computed on the
-- ride's 1-s grid at import (docs/analytics.md, "Laps"). Owner-scoped by user_id like workouts;
-- they go with their workout and with their rider.
create table workout_laps (
  workout_id uuid not null references workouts (id) on delete cascade,
  user_id uuid not null references users (id) on delete cascade,
  lap_index integer not null check (lap_index >= 0),
  start_time timestamptz not null,
  end_time timestamptz not null,
  summary jsonb not null,
  primary key (workout_id, lap_index)
);

create index workout_laps_user on workout_laps (user_id);
