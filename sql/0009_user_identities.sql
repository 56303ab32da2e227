-- OpenID Connect identities: a rider may have a password and several providers' subjects.
-- users.provider/provider_id keep the identity an account was created with; this table is the
-- one sign-in looks up.
create table user_identities (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  provider text not null,
  subject text not null,
  email text,
  created_at timestamptz not null default now(),
  last_login_at timestamptz,
  constraint user_identities_provider_subject_key unique (provider, subject)
);

create index user_identities_user_id_idx on user_identities (user_id);

insert into user_identities (user_id, provider, subject, email)
select id, provider, provider_id, email from users
where provider is not null and provider_id is not null;
