-- Rollups that the analytics read, under the same names and columns on every TimescaleDB
-- edition:
--
--   telemetry_10s, telemetry_1m  per workout and bucket: sample count and sum/count/max per
--                                metric (sum and count so averages re-aggregate exactly)
--   workout_efforts_daily        per rider, UTC day and duration: the best watts
--
-- On the Timescale License edition they are continuous aggregates with real-time aggregation
-- (materialized_only = false: rows newer than the materialized watermark come from the raw
-- tables), refresh policies, and telemetry is compressed. On the Apache edition, which has none of
-- that, they are plain views over the same query. The edition is read from
-- `timescaledb.license` (set in every session once the extension exists, also in a session
-- opened before it was created); anything but 'timescale' gets views.
--
-- The whole file runs in one transaction on both editions: continuous aggregates are created
-- `with no data` (`with data` cannot run in a transaction) -- the tables are new and empty, and
-- real-time aggregation shows anything not yet materialized -- and the policy and compression
-- calls are plain function calls. Checked on TimescaleDB 2.23 (the licensed PGlite build) and
-- 2.19.3 Apache.
--
-- Refresh policies start at the beginning of time (start_offset => null): a refresh only
-- recomputes buckets that were invalidated, and rides are archived after they were recorded, so
-- a window anchored at "now" could miss a late archive or an imported old ride for good. The
-- archive path refreshes the ride's own window right after it commits (refreshAggregates in
-- src/db/timescale.ts); the hourly policy is the backstop for a refresh that never ran. The
-- policy stops one bucket short of now; real-time aggregation covers the rest.
--
-- Telemetry chunks are compressed (segment by workout_id, ordered by time, so reading one ride
-- decompresses only its own batches) once their whole range is 7 days old, i.e. rows 7-14 days
-- old with 7-day chunks: rides are archived within the live TTL (24 h by default), so inserts
-- land in uncompressed chunks, and a ride is mostly reviewed sample by sample in its first days;
-- after that raw reads are rare and charts come from the rollups. A later write (an imported old
-- ride, a deletion) still works on compressed chunks, just slower.
do $migration$
declare
  license constant text := current_setting('timescaledb.license', true);
  telemetry_rollup constant text := $q$
    select
      time_bucket(%L, time) as bucket,
      workout_id,
      user_id,
      count(*) as samples,
      sum(power) as power_sum,
      count(power) as power_count,
      max(power) as power_max,
      sum(cadence) as cadence_sum,
      count(cadence) as cadence_count,
      max(cadence) as cadence_max,
      sum(heart_rate) as heart_rate_sum,
      count(heart_rate) as heart_rate_count,
      max(heart_rate) as heart_rate_max,
      sum(speed) as speed_sum,
      count(speed) as speed_count,
      max(speed) as speed_max,
      max(distance) as distance_max,
      sum(altitude) as altitude_sum,
      count(altitude) as altitude_count
    from telemetry
    group by bucket, workout_id, user_id
  $q$;
  efforts_daily constant text := $q$
    select
      time_bucket('1 day', start_time) as bucket,
      user_id,
      duration_s,
      max(watts) as watts
    from workout_efforts
    group by bucket, user_id, duration_s
  $q$;
  continuous constant text :=
    'create materialized view %I with (timescaledb.continuous, '
    'timescaledb.materialized_only = false) as %s with no data';
begin
  -- Never fall back to views on a server whose edition could not be read.
  if license is null then
    raise exception 'timescaledb.license is not set: TimescaleDB is not loaded in this database';
  end if;
  if license <> 'timescale' then
    execute format('create view telemetry_10s as %s', format(telemetry_rollup, '10 seconds'));
    execute format('create view telemetry_1m as %s', format(telemetry_rollup, '1 minute'));
    execute format('create view workout_efforts_daily as %s', efforts_daily);
    return;
  end if;

  execute format(continuous, 'telemetry_10s', format(telemetry_rollup, '10 seconds'));
  execute format(continuous, 'telemetry_1m', format(telemetry_rollup, '1 minute'));
  execute format(continuous, 'workout_efforts_daily', efforts_daily);

  -- bestsByBucket reads one rider's days for one duration.
  create index workout_efforts_daily_user_id_duration_s_bucket_idx
    on workout_efforts_daily (user_id, duration_s, bucket desc);

  perform add_continuous_aggregate_policy(
    'telemetry_10s',
    start_offset => null,
    end_offset => interval '10 seconds',
    schedule_interval => interval '1 hour'
  );
  perform add_continuous_aggregate_policy(
    'telemetry_1m',
    start_offset => null,
    end_offset => interval '1 minute',
    schedule_interval => interval '1 hour'
  );
  perform add_continuous_aggregate_policy(
    'workout_efforts_daily',
    start_offset => null,
    end_offset => interval '1 day',
    schedule_interval => interval '1 hour'
  );

  alter table telemetry set (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'workout_id',
    timescaledb.compress_orderby = 'time'
  );
  perform add_compression_policy('telemetry', compress_after => interval '7 days');
end
$migration$;
