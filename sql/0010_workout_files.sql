-- The original file of an uploaded ride (FIT, TCX, GPX or CSV), kept byte for byte. A rider who
-- uploads the same file again (same sha256) gets the workout it already made, so the pair is
-- unique. Deleting the workout (or the rider) deletes its file.
create table workout_files (
  workout_id uuid primary key references workouts (id) on delete cascade,
  user_id uuid not null references users (id) on delete cascade,
  sha256 bytea not null check (length(sha256) = 32),
  format text not null check (format in ('fit', 'tcx', 'gpx', 'csv')),
  filename text check (length(filename) between 1 and 255),
  bytes bytea not null,
  created_at timestamptz not null default now(),
  constraint workout_files_user_id_sha256_key unique (user_id, sha256)
);
