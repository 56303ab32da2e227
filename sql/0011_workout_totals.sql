-- Per-workout totals as a hypertable on the ride's start time, and a per-rider 15-minute rollup of
-- them, for the history analytics (totals per week/month/year in the rider's time zone, fitness,
-- zone times).
--
-- Why 15 minutes: every UTC offset in use since 1990 is a multiple of 15 minutes (Asia/Kolkata
-- +5:30, Asia/Kathmandu +5:45, Australia/Eucla +8:45, Pacific/Chatham +12:45), so a local
-- midnight is always on a 15-minute UTC boundary and a 15-minute UTC bucket never straddles two
-- local days, weeks, months or years: re-bucketing these buckets in any zone at query time is
-- exact. Daily UTC buckets cannot do that (a ride at 23:30 in Sydney is the next UTC day). The
-- rollup also keeps each bucket's first and last start, so a query can still check that both lie
-- in the same local period and read the bucket's raw rows when they do not (never, with real
-- zones).
--
-- workout_totals is kept by triggers on workouts, so every path that completes a workout (the
-- archive transaction, however it is reached) writes its row in the same transaction, and
-- deleting a workout deletes it. Existing completed workouts are copied in below. Like
-- workout_efforts it has no foreign key (see sql/0006_telemetry.sql).
--
-- Zone seconds come from the summary written at archive time: computed with the FTP and max heart
-- rate the rider had then (null when there was none).
create table workout_totals (
  user_id uuid not null,
  workout_id uuid not null,
  start_time timestamptz not null,
  duration_s integer,
  moving_s integer,
  distance_m double precision,
  work_kj double precision,
  tss double precision,
  elevation_gain_m double precision,
  power_zone_1_s integer,
  power_zone_2_s integer,
  power_zone_3_s integer,
  power_zone_4_s integer,
  power_zone_5_s integer,
  power_zone_6_s integer,
  power_zone_7_s integer,
  hr_zone_1_s integer,
  hr_zone_2_s integer,
  hr_zone_3_s integer,
  hr_zone_4_s integer,
  hr_zone_5_s integer,
  constraint workout_totals_pkey primary key (workout_id, start_time)
);

-- One row per ride: 365-day chunks keep a rider's whole history in a handful of chunks.
select create_hypertable(
  'workout_totals',
  by_range('start_time', interval '365 days'),
  create_default_indexes => false
);

create index workout_totals_user_id_start_time_idx on workout_totals (user_id, start_time);

create function workout_totals_sync() returns trigger
language plpgsql as $function$
begin
  if tg_op = 'DELETE' then
    delete from workout_totals where workout_id = old.id and start_time = old.start_time;
    return old;
  end if;
  insert into workout_totals (
    user_id, workout_id, start_time, duration_s, moving_s, distance_m, work_kj, tss,
    elevation_gain_m, power_zone_1_s, power_zone_2_s, power_zone_3_s, power_zone_4_s,
    power_zone_5_s, power_zone_6_s, power_zone_7_s, hr_zone_1_s, hr_zone_2_s, hr_zone_3_s,
    hr_zone_4_s, hr_zone_5_s
  )
  values (
    new.user_id, new.id, new.start_time, new.duration_s, new.moving_s, new.distance_m,
    new.work_kj, new.tss, new.elevation_gain_m,
    (new.summary #>> '{powerZones,0,seconds}')::integer,
    (new.summary #>> '{powerZones,1,seconds}')::integer,
    (new.summary #>> '{powerZones,2,seconds}')::integer,
    (new.summary #>> '{powerZones,3,seconds}')::integer,
    (new.summary #>> '{powerZones,4,seconds}')::integer,
    (new.summary #>> '{powerZones,5,seconds}')::integer,
    (new.summary #>> '{powerZones,6,seconds}')::integer,
    (new.summary #>> '{heartRateZones,0,seconds}')::integer,
    (new.summary #>> '{heartRateZones,1,seconds}')::integer,
    (new.summary #>> '{heartRateZones,2,seconds}')::integer,
    (new.summary #>> '{heartRateZones,3,seconds}')::integer,
    (new.summary #>> '{heartRateZones,4,seconds}')::integer
  )
  on conflict do nothing;
  return new;
end
$function$;

-- A workout becomes completed exactly once (the archive transaction's conditional update).
create trigger workouts_totals_on_complete
  after update of status on workouts
  for each row
  when (old.status = 'active' and new.status = 'completed')
  execute function workout_totals_sync();

create trigger workouts_totals_on_delete
  after delete on workouts
  for each row
  when (old.status = 'completed')
  execute function workout_totals_sync();

insert into workout_totals (
  user_id, workout_id, start_time, duration_s, moving_s, distance_m, work_kj, tss,
  elevation_gain_m, power_zone_1_s, power_zone_2_s, power_zone_3_s, power_zone_4_s,
  power_zone_5_s, power_zone_6_s, power_zone_7_s, hr_zone_1_s, hr_zone_2_s, hr_zone_3_s,
  hr_zone_4_s, hr_zone_5_s
)
select
  user_id, id, start_time, duration_s, moving_s, distance_m, work_kj, tss, elevation_gain_m,
  (summary #>> '{powerZones,0,seconds}')::integer,
  (summary #>> '{powerZones,1,seconds}')::integer,
  (summary #>> '{powerZones,2,seconds}')::integer,
  (summary #>> '{powerZones,3,seconds}')::integer,
  (summary #>> '{powerZones,4,seconds}')::integer,
  (summary #>> '{powerZones,5,seconds}')::integer,
  (summary #>> '{powerZones,6,seconds}')::integer,
  (summary #>> '{heartRateZones,0,seconds}')::integer,
  (summary #>> '{heartRateZones,1,seconds}')::integer,
  (summary #>> '{heartRateZones,2,seconds}')::integer,
  (summary #>> '{heartRateZones,3,seconds}')::integer,
  (summary #>> '{heartRateZones,4,seconds}')::integer
from workouts
where status = 'completed';

-- Serves the record history (GET /api/analytics/records): one rider's efforts of each duration
-- in ride order, read from the index alone instead of sorting them.
create index workout_efforts_user_id_duration_s_start_time_workout_id_idx
  on workout_efforts (user_id, duration_s, start_time, workout_id) include (watts);

-- workout_totals_15m: per rider and 15-minute UTC bucket of start times, the ride count, the
-- first and last start, the sums of the totals (nulls left out), and per zone family the number
-- of rides that have zone times and their sums. A continuous aggregate on the Timescale License
-- edition (real-time, refreshed by the archive path and hourly), a plain view on Apache -- as in
-- sql/0007_aggregates.sql.
do $migration$
declare
  license constant text := current_setting('timescaledb.license', true);
  totals_15m constant text := $q$
    select
      time_bucket('15 minutes', start_time) as bucket,
      user_id,
      count(*) as rides,
      min(start_time) as first_start,
      max(start_time) as last_start,
      sum(duration_s) as duration_s,
      sum(moving_s) as moving_s,
      sum(distance_m) as distance_m,
      sum(work_kj) as work_kj,
      sum(tss) as tss,
      sum(elevation_gain_m) as elevation_gain_m,
      count(power_zone_1_s) as power_zone_rides,
      sum(power_zone_1_s) as power_zone_1_s,
      sum(power_zone_2_s) as power_zone_2_s,
      sum(power_zone_3_s) as power_zone_3_s,
      sum(power_zone_4_s) as power_zone_4_s,
      sum(power_zone_5_s) as power_zone_5_s,
      sum(power_zone_6_s) as power_zone_6_s,
      sum(power_zone_7_s) as power_zone_7_s,
      count(hr_zone_1_s) as hr_zone_rides,
      sum(hr_zone_1_s) as hr_zone_1_s,
      sum(hr_zone_2_s) as hr_zone_2_s,
      sum(hr_zone_3_s) as hr_zone_3_s,
      sum(hr_zone_4_s) as hr_zone_4_s,
      sum(hr_zone_5_s) as hr_zone_5_s
    from workout_totals
    group by bucket, user_id
  $q$;
begin
  if license is null then
    raise exception 'timescaledb.license is not set: TimescaleDB is not loaded in this database';
  end if;
  if license <> 'timescale' then
    execute format('create view workout_totals_15m as %s', totals_15m);
    return;
  end if;

  execute format(
    'create materialized view workout_totals_15m with (timescaledb.continuous, '
    'timescaledb.materialized_only = false) as %s with no data',
    totals_15m
  );
  create index workout_totals_15m_user_id_bucket_idx on workout_totals_15m (user_id, bucket);
  perform add_continuous_aggregate_policy(
    'workout_totals_15m',
    start_offset => null,
    end_offset => interval '15 minutes',
    schedule_interval => interval '1 hour'
  );
end
$migration$;
