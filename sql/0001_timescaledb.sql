-- TimescaleDB powers the telemetry hypertables; refuse clearly when the server lacks it.
do $$
begin
  if not exists (select 1 from pg_available_extensions where name = 'timescaledb') then
    raise exception 'TimescaleDB is not installed on this PostgreSQL server'
      using hint = 'Use the timescale/timescaledb image (docker compose) or run deno task services';
  end if;
end
$$;

create extension if not exists timescaledb;
