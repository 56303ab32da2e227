create table users (
  id uuid primary key default gen_random_uuid(),
  email text,
  password_hash text,
  provider text,
  provider_id text,
  display_name text,
  avatar_url text,
  weight_kg double precision check (weight_kg > 0 and weight_kg < 500),
  ftp_watts integer check (ftp_watts > 0 and ftp_watts <= 3000),
  max_hr integer check (max_hr > 0 and max_hr < 300),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_login_at timestamptz,
  constraint users_provider_identity unique (provider, provider_id),
  constraint users_has_identity check (email is not null or provider_id is not null)
);

-- Email addresses are unique regardless of case.
create unique index users_email_lower_key on users (lower(email));
