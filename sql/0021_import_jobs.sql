-- Zip archive imports: one job per uploaded archive and one row per entry, both the rider's.
create table import_jobs (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  state text not null default 'running'
    check (state in ('running', 'done', 'failed', 'interrupted')),
  reason text,
  files_total integer not null,
  files_done integer not null default 0,
  imported integer not null default 0,
  duplicates integer not null default 0,
  failed integer not null default 0,
  skipped integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index import_jobs_user_id_idx on import_jobs (user_id);
-- The startup sweep finds running jobs without reading every job.
create index import_jobs_running_idx on import_jobs (id) where state = 'running';

create table import_job_files (
  job_id uuid not null references import_jobs (id) on delete cascade,
  position integer not null,
  name text not null,
  outcome text not null check (outcome in ('imported', 'duplicate', 'failed', 'skipped')),
  reason text,
  workout_id uuid references workouts (id) on delete set null,
  primary key (job_id, position)
);
