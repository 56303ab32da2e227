-- Every FTP a rider has had; the newest row at or before a ride's start is the FTP in force for it.
create table ftp_history (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  ftp_watts integer not null check (ftp_watts > 0 and ftp_watts <= 3000),
  source text not null default 'manual' check (length(source) between 1 and 50),
  created_at timestamptz not null default now()
);

create index ftp_history_user_created_idx on ftp_history (user_id, created_at desc);
