-- Share links of live streams: a rider lets people without an account watch one stream (by
-- name) until the link expires or is revoked. Only a hash of the link's secret is kept.
create table stream_shares (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  stream_name text not null check (stream_name ~ '^[a-zA-Z0-9_-]{1,64}$'),
  token_hash bytea not null unique,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  check (expires_at > created_at)
);

create index stream_shares_user_stream_idx on stream_shares (user_id, stream_name);
