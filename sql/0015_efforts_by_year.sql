-- The yearly bests of GET /api/analytics/records (per local calendar year in the rider's zone and
-- duration, the best effort, on a tie the earliest ride) read from a plain copy of workout_efforts
-- that knows each effort's UTC year, instead of from the hypertable.
--
-- Why a copy: on the hypertable each year's top-1 probes need that year's time bounds as constants
-- so that chunks are excluded at plan time (a bound taken from a joined row excludes none: every
-- probe then descends all ~20 chunks' indexes), which means planning one block per year: for five
-- years of rides ~3-10 ms of planning and 2-4 ms of execution per request. Here one statement with
-- one probe per year and duration plans in ~0.4 ms and runs in ~1 ms.
--
-- Why the UTC year: a local year [Jan 1 in the zone, next Jan 1 in the zone) is the part of UTC
-- year Y inside it plus at most a sliver (less than a day) of UTC year Y-1 or Y+1. Ordered by
-- (user, duration, UTC year, watts desc, ...), the best of the first part is the first row of UTC
-- year Y that lies in the local year (the rows skipped are those in the other sliver); the slivers
-- are short ranges of the start-time index.
--
-- Kept by a trigger on workout_efforts (insert, delete, update), like effort_records (sql/0014),
-- in the writing transaction; no foreign key, as workout_efforts has none.
create table efforts_by_year (
  user_id uuid not null,
  workout_id uuid not null,
  start_time timestamptz not null,
  duration_s integer not null,
  watts double precision not null,
  utc_year integer not null
    generated always as (extract(year from start_time at time zone 'UTC')::integer) stored,
  constraint efforts_by_year_pkey primary key (workout_id, duration_s, start_time)
);

create index efforts_by_year_user_id_duration_s_utc_year_watts_idx
  on efforts_by_year (user_id, duration_s, utc_year, watts desc, start_time, workout_id);
create index efforts_by_year_user_id_duration_s_start_time_idx
  on efforts_by_year (user_id, duration_s, start_time);

create function efforts_by_year_sync() returns trigger
language plpgsql as $function$
begin
  if tg_op in ('DELETE', 'UPDATE') then
    delete from efforts_by_year
    where
      workout_id = old.workout_id and duration_s = old.duration_s
      and start_time = old.start_time;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into efforts_by_year (user_id, workout_id, start_time, duration_s, watts)
    values (new.user_id, new.workout_id, new.start_time, new.duration_s, new.watts);
  end if;
  return null;
end
$function$;

create trigger workout_efforts_by_year
  after insert or update or delete on workout_efforts
  for each row
  execute function efforts_by_year_sync();

insert into efforts_by_year (user_id, workout_id, start_time, duration_s, watts)
select user_id, workout_id, start_time, duration_s, watts
from workout_efforts;

-- Statistics now, so that the first requests after the migration get index probes, not the plans
-- of a table the planner has never seen (measured: 20 ms of Postgres CPU per records request until
-- autovacuum analysed it).
analyze efforts_by_year;
