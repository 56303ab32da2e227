-- The whole power-duration curve (docs/analytics.md): per ride, the mean-maximal power at every
-- duration of curveDurations (src/analytics/curve.ts) up to its elapsed time, as one array, and
-- per rider and UTC month the element-wise best of the month's rides with the ride of each point,
-- so that a period's curve reduces ~60 month arrays and the rides of the partial months at its
-- ends, not every ride.
--
-- Why tables kept by a trigger and not a continuous aggregate: the month's value is an
-- element-wise arg-max over arrays, which no built-in aggregate computes; kept like
-- effort_records (sql/0014) it is the same plain table on both TimescaleDB editions, exact, and
-- written in the transaction that archives or deletes the ride.
--
-- workout_curves is a plain table with a foreign key to workouts (not a hypertable, see
-- sql/0006): deleting a workout cascades to its curve, and the trigger below keeps the month.
create table workout_curves (
  workout_id uuid primary key references workouts (id) on delete cascade,
  user_id uuid not null,
  start_time timestamptz not null,
  watts double precision[] not null check (cardinality(watts) > 0)
);

create index workout_curves_user_id_start_time_idx on workout_curves (user_id, start_time);

-- One row per rider and UTC month with rides that have power: per duration index the best watts
-- and, in ride_index, the 1-based position in rides / ride_starts of the ride it is from (on a
-- tie, the earlier ride by start time, then workout id).
create table curve_months (
  user_id uuid not null,
  month timestamptz not null,
  watts double precision[] not null,
  ride_index smallint[] not null,
  rides uuid[] not null,
  ride_starts timestamptz[] not null,
  constraint curve_months_pkey primary key (user_id, month)
);

-- The month of a start time: its UTC calendar month's first instant.
create function curve_month(t timestamptz) returns timestamptz
language sql immutable as $$ select date_trunc('month', t, 'UTC') $$;

-- The month's row computed again from its rides (one sort of ~30 rides × ~1,500 points); rides
-- lists every ride of the month, in (start time, workout id) order.
create function curve_months_compute(rider uuid, month_start timestamptz) returns void
language plpgsql as $function$
declare
  month_end constant timestamptz :=
    ((month_start at time zone 'UTC') + interval '1 month') at time zone 'UTC';
begin
  delete from curve_months where user_id = rider and month = month_start;
  with ranked as (
    select
      workout_id, start_time, watts,
      (row_number() over (order by start_time, workout_id))::smallint as k
    from workout_curves
    where user_id = rider and start_time >= month_start and start_time < month_end
  ),
  best as (
    select distinct on (u.i) u.i, u.w, r.k
    from ranked as r
    cross join lateral unnest(r.watts) with ordinality as u(w, i)
    order by u.i, u.w desc, r.k
  )
  insert into curve_months (user_id, month, watts, ride_index, rides, ride_starts)
  select
    rider, month_start,
    (select array_agg(w order by i) from best),
    (select array_agg(k order by i) from best),
    (select array_agg(workout_id order by k) from ranked),
    (select array_agg(start_time order by k) from ranked)
  where exists (select from ranked);
end
$function$;

-- Insert: the new ride merged into its month (one pass over ~1,500 points, ~1 ms); delete or
-- update: the month computed again. Under a transaction-level advisory lock on the rider (key
-- class 16), as in sql/0014, so two archives of one rider never merge into the same stale row.
create function curve_months_sync() returns trigger
language plpgsql as $function$
declare
  rider constant uuid := case when tg_op = 'INSERT' then new.user_id else old.user_id end;
  cur curve_months;
  k smallint;
  merged_watts double precision[];
  merged_index smallint[];
begin
  perform pg_advisory_xact_lock(16, hashtext(rider::text));
  if tg_op in ('DELETE', 'UPDATE') then
    if exists (
      select from curve_months
      where user_id = old.user_id and month = curve_month(old.start_time)
    ) then
      perform curve_months_compute(old.user_id, curve_month(old.start_time));
    end if;
    if tg_op = 'UPDATE' then
      perform pg_advisory_xact_lock(16, hashtext(new.user_id::text));
      perform curve_months_compute(new.user_id, curve_month(new.start_time));
    end if;
    return null;
  end if;
  select * into cur from curve_months
  where user_id = new.user_id and month = curve_month(new.start_time);
  if not found then
    insert into curve_months (user_id, month, watts, ride_index, rides, ride_starts)
    values (
      new.user_id, curve_month(new.start_time), new.watts,
      array_fill(1::smallint, array[cardinality(new.watts)]),
      array[new.workout_id], array[new.start_time]
    );
    return null;
  end if;
  k := cardinality(cur.rides) + 1;
  select
    array_agg(case when takes then nw else cw end order by i),
    array_agg(case when takes then k else ci end order by i)
  into merged_watts, merged_index
  from (
    select
      i, cw, ci, nw,
      nw is not null and (
        cw is null or nw > cw
        or (nw = cw and (new.start_time, new.workout_id) < (cur.ride_starts[ci], cur.rides[ci]))
      ) as takes
    from unnest(cur.watts, cur.ride_index, new.watts) with ordinality as u(cw, ci, nw, i)
  ) as points;
  update curve_months set
    watts = merged_watts,
    ride_index = merged_index,
    rides = cur.rides || new.workout_id,
    ride_starts = cur.ride_starts || new.start_time
  where user_id = cur.user_id and month = cur.month;
  return null;
end
$function$;

create trigger workout_curves_months
  after insert or update or delete on workout_curves
  for each row
  execute function curve_months_sync();

-- Every weight a rider has recorded, each from an instant on: the newest row at or before a ride's
-- start is the weight for the ride's W/kg.
create table weight_history (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  weight_kg double precision not null check (weight_kg > 0 and weight_kg < 500),
  valid_from timestamptz not null default now(),
  source text not null default 'manual' check (length(source) between 1 and 50),
  created_at timestamptz not null default now()
);

create index weight_history_user_valid_from_idx on weight_history (user_id, valid_from desc);

-- Every critical power and W′ a rider has set; the newest row at or before a ride's start is the
-- one in force for its W′ balance.
create table cp_history (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  cp_watts double precision not null check (cp_watts > 0 and cp_watts <= 3000),
  w_prime_j double precision not null check (w_prime_j > 0 and w_prime_j <= 200000),
  valid_from timestamptz not null default now(),
  source text not null default 'manual' check (length(source) between 1 and 50),
  created_at timestamptz not null default now()
);

create index cp_history_user_valid_from_idx on cp_history (user_id, valid_from desc);
