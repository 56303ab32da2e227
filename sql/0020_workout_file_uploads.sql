-- What GET /api/workouts/:id/original needs to give an upload back as it came: the Content-Type
-- the upload declared (null: none, or a multipart part without one; the format's type is used)
-- and whether the kept bytes are the gzip file that was uploaded (`.gz`, alone or inside a zip),
-- which is also what `sha256` is of.
alter table workout_files
  add column content_type text check (length(content_type) between 1 and 255),
  add column gzip boolean not null default false;
