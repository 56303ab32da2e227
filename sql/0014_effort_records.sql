-- The record history of GET /api/analytics/records, kept as rows instead of recomputed on every
-- request: per rider and duration, every effort that beat all the rider's efforts of that
-- duration in the rides that started before it (on equal start times, the lower workout id counts
-- as earlier), with the best it beat (`previous_watts`, null for the first). The last record of a
-- duration is the all-time best.
--
-- Why a table: the rule needs, for each effort, the best of every earlier one, which is one ordered
-- pass over all of a rider's efforts (14 per ride): ~21,000 rows for five years of 300 rides a
-- year, ~20 ms of Postgres CPU per request, where the answer is ~50 rows (records are rare once a
-- history is long). Kept here, reading it is one index range (0.4 ms).
--
-- The same table on both TimescaleDB editions (a plain table, not a rollup), kept by triggers on
-- workout_efforts like workout_totals is kept by triggers on workouts, so every path that writes
-- or deletes efforts (the archive transaction, deleting a ride or an account, anything else)
-- keeps it in the same transaction:
--
--   insert of an effort  the best before it is the watts of the latest earlier record (none: it is
--                        the first); if it beats that, it becomes a record, the later records it
--                        equals or beats stop being ones, and the next later record now beat it.
--                        Three index probes; nothing when it beats nothing. Measured: ~0.5 ms
--                        for a ride's 14 efforts.
--   delete of a record   the rider's records of that duration are computed again from their
--                        efforts (one index range: 2-12 ms for 1,500 rides on a loaded 2-core
--                        machine); deleting an effort that is not a record changes nothing.
--   update of an effort  (never done by the service) both durations are computed again.
--
-- The triggers of one rider take a transaction-level advisory lock on the rider first (key class
-- 14, hashtext of the user id: two riders may share a key, which only makes one wait), so that two
-- transactions never change the same rider's records from the same stale rows; every statement
-- after it sees what the previous holder committed (read committed). It is taken after the rows it
-- works on are locked (the workout row, by the archive and the deletion), and nothing waits for a
-- row lock while holding it, so it adds no deadlock.
create table effort_records (
  user_id uuid not null,
  duration_s integer not null,
  start_time timestamptz not null,
  workout_id uuid not null,
  watts double precision not null,
  previous_watts double precision,
  constraint effort_records_pkey primary key (user_id, duration_s, start_time, workout_id)
);

-- The rule itself, as one ordered pass over one rider's efforts of one duration (served by
-- workout_efforts_user_id_duration_s_start_time_workout_id_idx of sql/0011).
create function effort_records_compute(rider uuid, duration integer) returns void
language plpgsql as $function$
begin
  delete from effort_records where user_id = rider and duration_s = duration;
  insert into effort_records (user_id, duration_s, start_time, workout_id, watts, previous_watts)
  select rider, duration, start_time, workout_id, watts, previous_watts
  from (
    select
      start_time, workout_id, watts,
      max(watts) over (
        order by start_time, workout_id
        rows between unbounded preceding and 1 preceding
      ) as previous_watts
    from workout_efforts
    where user_id = rider and duration_s = duration
  ) as efforts
  where previous_watts is null or watts > previous_watts;
end
$function$;

create function effort_records_sync() returns trigger
language plpgsql as $function$
declare
  rider constant uuid := case when tg_op = 'INSERT' then new.user_id else old.user_id end;
  best_before double precision;
begin
  perform pg_advisory_xact_lock(14, hashtext(rider::text));
  if tg_op = 'UPDATE' then
    perform effort_records_compute(old.user_id, old.duration_s);
    if (new.user_id, new.duration_s) is distinct from (old.user_id, old.duration_s) then
      perform pg_advisory_xact_lock(14, hashtext(new.user_id::text));
      perform effort_records_compute(new.user_id, new.duration_s);
    end if;
    return null;
  end if;
  if tg_op = 'DELETE' then
    if exists (
      select from effort_records
      where
        user_id = old.user_id and duration_s = old.duration_s
        and start_time = old.start_time and workout_id = old.workout_id
    ) then
      perform effort_records_compute(old.user_id, old.duration_s);
    end if;
    return null;
  end if;
  -- INSERT: the best before the new effort is the latest earlier record's.
  select r.watts into best_before
  from effort_records r
  where
    r.user_id = new.user_id and r.duration_s = new.duration_s
    and (r.start_time, r.workout_id) < (new.start_time, new.workout_id)
  order by r.start_time desc, r.workout_id desc
  limit 1;
  if found and not new.watts > best_before then
    return null;
  end if;
  delete from effort_records r
  where
    r.user_id = new.user_id and r.duration_s = new.duration_s
    and (r.start_time, r.workout_id) > (new.start_time, new.workout_id)
    and not r.watts > new.watts;
  update effort_records r set previous_watts = new.watts
  from (
    select start_time, workout_id
    from effort_records
    where
      user_id = new.user_id and duration_s = new.duration_s
      and (start_time, workout_id) > (new.start_time, new.workout_id)
    order by start_time, workout_id
    limit 1
  ) as next_record
  where
    r.user_id = new.user_id and r.duration_s = new.duration_s
    and r.start_time = next_record.start_time and r.workout_id = next_record.workout_id;
  insert into effort_records (user_id, duration_s, start_time, workout_id, watts, previous_watts)
  values (new.user_id, new.duration_s, new.start_time, new.workout_id, new.watts, best_before);
  return null;
end
$function$;

create trigger workout_efforts_records
  after insert or update or delete on workout_efforts
  for each row
  execute function effort_records_sync();

-- The records of the efforts already archived, by the same rule.
select effort_records_compute(user_id, duration_s)
from (select distinct user_id, duration_s from workout_efforts) as pairs;

analyze effort_records;
