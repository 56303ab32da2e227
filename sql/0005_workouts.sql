-- A workout is one ride: `active` while it streams live, `completed` once its samples are
-- archived into telemetry. The summary metrics are real columns so that history lists and
-- sorting stay plain SQL; everything else computed at archive time lives in `summary`.
create table workouts (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  stream_name text,
  status text not null default 'active' check (status in ('active', 'completed')),
  title text,
  notes text,
  sport text not null default 'cycling',
  start_time timestamptz not null default now(),
  end_time timestamptz,
  duration_s integer,
  moving_s integer,
  avg_power double precision,
  max_power double precision,
  normalized_power double precision,
  avg_cadence double precision,
  max_cadence double precision,
  avg_heart_rate double precision,
  max_heart_rate double precision,
  avg_speed double precision,
  max_speed double precision,
  distance_m double precision,
  elevation_gain_m double precision,
  work_kj double precision,
  intensity_factor double precision,
  tss double precision,
  ftp_watts integer,
  sample_count integer not null default 0,
  summary jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz
);

-- A live stream name belongs to at most one active workout at a time (across all users); a
-- completed workout releases it for reuse.
create unique index workouts_active_stream_name_key on workouts (stream_name)
  where status = 'active' and stream_name is not null;

-- A rider's history, newest first.
create index workouts_user_id_start_time_idx on workouts (user_id, start_time desc);

-- The idle sweeper lists active workouts; they are few, so a partial index stays tiny.
create index workouts_active_idx on workouts (status) where status = 'active';
