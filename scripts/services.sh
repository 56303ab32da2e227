#!/usr/bin/env bash
# Local dependencies of the Bike Power Tracker API: TimescaleDB, Redis and an Upstash-compatible
# REST bridge in front of Redis.
#
#   bash scripts/services.sh up     [dev|test]   start (idempotent; quick when already up)
#   bash scripts/services.sh down   [dev|test]   stop what this script started
#   bash scripts/services.sh status [dev|test]   show what is up (both profiles when omitted)
#
# Profiles (ports are fixed; the app's defaults point at dev):
#   dev   postgres://postgres@127.0.0.1:55432/bpt       redis 127.0.0.1:56379 (appendonly)
#         bridge http://127.0.0.1:58079 token bpt-local-token
#   test  postgres://postgres@127.0.0.1:55433/bpt_test  redis 127.0.0.1:56380 (no persistence)
#         bridge http://127.0.0.1:58080 token bpt-test-token
#
# With a working Docker engine (`docker info` succeeds) the services come from docker-compose.yml.
# Otherwise (Debian, root): PostgreSQL 17 + TimescaleDB run from a Debian trixie root folder built
# with debootstrap (scripts/build_root.sh) and cached in
# ${BPT_CACHE_DIR:-/var/cache/bike-power-tracker}/trixie-root,
# Redis is the host's redis-server and the bridge is scripts/redis_rest_bridge.ts on Deno.
# State, pid files and logs: .services/<profile>/ in the repo.
#
# Environment: BPT_CACHE_DIR (cache folder), BPT_SERVICES_MODE=auto|docker|local,
# BPT_DEBIAN_MIRROR (mirror for debootstrap; default: the host's apt sources).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${BPT_CACHE_DIR:-/var/cache/bike-power-tracker}"
ROOT="$CACHE_DIR/trixie-root"
PG_VERSION=17
# shellcheck source=scripts/ensure_deno.sh
source "$REPO/scripts/ensure_deno.sh"
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '%s\n' "$*" >&2; }
die() {
  printf 'services.sh: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat >&2 <<'EOF'
usage: bash scripts/services.sh up|down|status [dev|test]
EOF
  exit 2
}

# --- profiles ---------------------------------------------------------------------------------

set_profile() {
  PROFILE="$1"
  case "$PROFILE" in
    dev)
      PG_PORT=55432 PG_DB=bpt REDIS_PORT=56379 BRIDGE_PORT=58079 BRIDGE_TOKEN=bpt-local-token
      COMPOSE_SERVICES=(timescaledb redis srh)
      COMPOSE_PROFILE_ARGS=()
      ;;
    test)
      PG_PORT=55433 PG_DB=bpt_test REDIS_PORT=56380 BRIDGE_PORT=58080 BRIDGE_TOKEN=bpt-test-token
      COMPOSE_SERVICES=(timescaledb-test redis-test srh-test)
      COMPOSE_PROFILE_ARGS=(--profile test)
      ;;
    *) die "unknown profile '$PROFILE' (expected dev or test)" ;;
  esac
  STATE="$REPO/.services/$PROFILE"
  PG_CLUSTER="$PROFILE"
}

# --- generic helpers --------------------------------------------------------------------------

now_ms() { date +%s%3N; }

# Runs a command inside the trixie root with a clean environment.
in_root() {
  env -i PATH="$CHROOT_PATH" HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 chroot "$ROOT" "$@"
}

# Pid of the process listening on a TCP port of 127.0.0.1 (empty when none).
listener_pid() {
  ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2 || true
}

# True when pid $1 exists and is not a zombie.
pid_alive() {
  local state
  state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z ]]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True when pid $1 is alive and its command line contains $2.
pid_matches() {
  local pid="$1" pattern="$2"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern"
}

# Stops pid $1 (TERM, then KILL after $2 seconds) if its command line still contains $3.
stop_pid() {
  local pid="$1" grace="$2" pattern="$3" i
  pid_matches "$pid" "$pattern" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    pid_matches "$pid" "$pattern" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

redis_ping() { [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; }

bridge_healthy() { curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$1/health" 2>/dev/null; }

docker_engine() {
  case "${BPT_SERVICES_MODE:-auto}" in
    local) return 1 ;;
    docker) return 0 ;;
    auto) command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1 ;;
    *) die "BPT_SERVICES_MODE must be auto, docker or local" ;;
  esac
}

# The mode the profile was started in (recorded at `up`), or what `up` would pick now.
current_mode() {
  if [[ -f "$STATE/mode" ]]; then
    cat "$STATE/mode"
  elif docker_engine; then
    echo docker
  else
    echo local
  fi
}

# --- host prerequisites (local mode) ----------------------------------------------------------

require_root_debian() {
  [[ "$(id -u)" == 0 ]] || die "local services need root (no Docker engine answers); run as root or start Docker"
  command -v apt-get >/dev/null 2>&1 || die "no Docker engine and no apt-get: local services need Debian (bookworm) or Docker"
  command -v chroot >/dev/null 2>&1 || die "chroot is missing"
}

APT_UPDATED=0
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [[ "$APT_UPDATED" == 0 ]]; then
    log "apt-get update"
    apt-get update -qq >&2 || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  apt-get install -y -qq "$@" >&2 || die "apt-get install $* failed"
}

ensure_host_packages() {
  local missing=()
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v ss >/dev/null 2>&1 || missing+=(iproute2)
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}

# The Debian trixie root folder (debian_mirror, umount_below, configure_root, ensure_root) is
# built by scripts/build_root.sh, sourced here; it uses CACHE_DIR, ROOT, PG_VERSION, CHROOT_PATH,
# log, die and now_ms from this file.
# shellcheck source=scripts/build_root.sh
source "$REPO/scripts/build_root.sh"

mount_root() {
  mkdir -p "$ROOT/proc" "$ROOT/dev/shm"
  mountpoint -q "$ROOT/proc" || mount --bind /proc "$ROOT/proc"
  mountpoint -q "$ROOT/dev/shm" || mount -t tmpfs -o mode=1777,nosuid,nodev shm "$ROOT/dev/shm"
}

umount_root_if_idle() {
  [[ -d "$ROOT" ]] || return 0
  local c
  for c in dev test; do
    cluster_running "$c" && return 0
  done
  mountpoint -q "$ROOT/dev/shm" && umount "$ROOT/dev/shm"
  mountpoint -q "$ROOT/proc" && umount "$ROOT/proc"
  return 0
}

# --- PostgreSQL (local) -----------------------------------------------------------------------

# True when the cluster's postmaster is alive (checked from the host: no chroot needed).
cluster_running() {
  local pidfile="$ROOT/var/lib/postgresql/$PG_VERSION/$1/postmaster.pid" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(head -n1 "$pidfile")"
  pid_matches "$pid" postgres
}

pg_conf_text() {
  cat <<EOF
# written by bike-power-tracker scripts/services.sh (profile $PROFILE); rewritten on every 'up'
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '/var/run/postgresql'
ssl = off
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
EOF
  if [[ "$PROFILE" == test ]]; then
    cat <<'EOF'
# disposable test data: speed over durability
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
  fi
}

pg_hba_text() {
  cat <<'EOF'
# written by bike-power-tracker scripts/services.sh; local development only (loopback)
local   all   all                    trust
host    all   postgres  127.0.0.1/32 trust
host    all   postgres  ::1/128      trust
host    all   all       127.0.0.1/32 scram-sha-256
host    all   all       ::1/128      scram-sha-256
EOF
}

# Writes $2 to file $1 if it differs; returns 0 when it changed.
write_if_changed() {
  local file="$1" text="$2"
  if [[ -f "$file" ]] && [[ "$(cat "$file")" == "$text" ]]; then
    return 1
  fi
  printf '%s\n' "$text" >"$file"
  return 0
}

pg_up() {
  local conf_dir="$ROOT/etc/postgresql/$PG_VERSION/$PG_CLUSTER" changed=0 i
  mount_root
  if [[ ! -f "$conf_dir/postgresql.conf" ]]; then
    log "creating PostgreSQL cluster $PG_VERSION/$PG_CLUSTER (port $PG_PORT)"
    in_root pg_createcluster --locale C.UTF-8 --start-conf manual -p "$PG_PORT" \
      "$PG_VERSION" "$PG_CLUSTER" >"$STATE/pg_createcluster.log" 2>&1 ||
      {
        cat "$STATE/pg_createcluster.log" >&2
        die "pg_createcluster $PG_VERSION $PG_CLUSTER failed"
      }
  fi
  mkdir -p "$conf_dir/conf.d"
  write_if_changed "$conf_dir/conf.d/bike-power-tracker.conf" "$(pg_conf_text)" && changed=1
  write_if_changed "$conf_dir/pg_hba.conf" "$(pg_hba_text)" && changed=1
  ln -sfn "$ROOT/var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log" "$STATE/postgres.log"

  if cluster_running "$PG_CLUSTER"; then
    if ((changed)); then
      log "configuration of cluster $PG_CLUSTER changed: restarting it"
      setsid -w env -i PATH="$CHROOT_PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 chroot "$ROOT" \
        pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart >&2 9>&- || die "restarting cluster $PG_CLUSTER failed"
    fi
  else
    if port_open "$PG_PORT"; then
      die "port $PG_PORT is taken by another program (not the $PG_CLUSTER cluster in $ROOT)"
    fi
    # setsid: the postmaster gets its own session and outlives the calling shell or job.
    setsid -w env -i PATH="$CHROOT_PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 chroot "$ROOT" \
      pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >&2 9>&- ||
      {
        tail -n 20 "$STATE/postgres.log" >&2 || true
        die "starting PostgreSQL cluster $PG_CLUSTER failed (log: $STATE/postgres.log)"
      }
    echo "$ROOT $PG_VERSION/$PG_CLUSTER" >"$STATE/postgres.started"
  fi
  for ((i = 0; i < 300; i++)); do
    in_root pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 0.1
  done
  in_root pg_isready -q -h 127.0.0.1 -p "$PG_PORT" ||
    die "PostgreSQL on port $PG_PORT is not ready after 30 s (log: $STATE/postgres.log)"
  local info
  info="$(in_root psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "select exists (select from pg_database where datname = '$PG_DB')" \
    -c "select coalesce((select default_version from pg_available_extensions where name = 'timescaledb'), '?')" \
    )" || die "cannot query PostgreSQL on port $PG_PORT"
  local exists version license=apache
  { read -r exists; read -r version; } <<<"$info"
  # timescaledb.license is only defined once the extension is loaded: look at the build instead
  # (Debian's package is the Apache edition, without the timescaledb-tsl module).
  compgen -G "$ROOT/usr/lib/postgresql/$PG_VERSION/lib/timescaledb-tsl-*.so" >/dev/null && license=timescale
  if [[ "$exists" != t ]]; then
    in_root psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
      -c "create database $PG_DB owner postgres" >&2 || die "cannot create database $PG_DB"
  fi
  PG_DESC="TimescaleDB $version, $license"
}

pg_down() {
  [[ -f "$STATE/postgres.started" ]] || return 0
  if cluster_running "$PG_CLUSTER"; then
    mount_root
    setsid -w env -i PATH="$CHROOT_PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 chroot "$ROOT" \
      pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop -m fast >&2 ||
      log "warning: stopping cluster $PG_CLUSTER failed"
    log "stopped postgres (cluster $PG_VERSION/$PG_CLUSTER, port $PG_PORT)"
  fi
  rm -f "$STATE/postgres.started"
}

# --- Redis (local) ----------------------------------------------------------------------------

redis_up() {
  local pid="" i
  [[ -f "$STATE/redis.pid" ]] && pid="$(cat "$STATE/redis.pid")"
  if pid_matches "$pid" redis-server && redis_ping "$REDIS_PORT"; then
    return 0
  fi
  if redis_ping "$REDIS_PORT"; then
    log "note: a Redis this script did not start already answers on port $REDIS_PORT; using it"
    return 0
  fi
  port_open "$REDIS_PORT" && die "port $REDIS_PORT is taken by a program that is not Redis"
  local args=(--port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes
    --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log")
  if [[ "$PROFILE" == dev ]]; then
    mkdir -p "$CACHE_DIR/redis-dev"
    args+=(--dir "$CACHE_DIR/redis-dev" --appendonly yes)
  else
    args+=(--dir "$STATE" --appendonly no --save "")
  fi
  rm -f "$STATE/redis.pid"
  redis-server "${args[@]}" </dev/null >>"$STATE/redis.log" 2>&1 9>&- ||
    die "redis-server failed to start (log: $STATE/redis.log)"
  for ((i = 0; i < 100; i++)); do
    redis_ping "$REDIS_PORT" && break
    sleep 0.1
  done
  redis_ping "$REDIS_PORT" || die "Redis on port $REDIS_PORT does not answer (log: $STATE/redis.log)"
  for ((i = 0; i < 20; i++)); do
    [[ -s "$STATE/redis.pid" ]] && break
    sleep 0.05
  done
}

redis_down() {
  local pid=""
  [[ -f "$STATE/redis.pid" ]] && pid="$(cat "$STATE/redis.pid")"
  if pid_matches "$pid" redis-server; then
    stop_pid "$pid" 10 redis-server
    log "stopped redis (port $REDIS_PORT)"
  fi
  rm -f "$STATE/redis.pid"
}

# --- REST bridge (local) ----------------------------------------------------------------------

BRIDGE_PATTERN=redis_rest_bridge.ts

bridge_up() {
  local pid="" i
  [[ -f "$STATE/bridge.pid" ]] && pid="$(cat "$STATE/bridge.pid")"
  if pid_matches "$pid" "$BRIDGE_PATTERN" && bridge_healthy "$BRIDGE_PORT"; then
    return 0
  fi
  if [[ -z "$pid" ]] || ! pid_matches "$pid" "$BRIDGE_PATTERN"; then
    if bridge_healthy "$BRIDGE_PORT"; then
      log "note: a bridge this script did not start already answers on port $BRIDGE_PORT; using it"
      return 0
    fi
    port_open "$BRIDGE_PORT" && die "port $BRIDGE_PORT is taken by another program"
    [[ -f "$REPO/scripts/redis_rest_bridge.ts" ]] || die "scripts/redis_rest_bridge.ts is missing"
    ensure_deno || die "Deno is needed for the REST bridge"
    (
      cd "$REPO"
      BRIDGE_PORT="$BRIDGE_PORT" BRIDGE_REDIS_URL="redis://127.0.0.1:$REDIS_PORT" \
        BRIDGE_TOKEN="$BRIDGE_TOKEN" NO_COLOR=1 \
        exec setsid nohup deno run --allow-net --allow-env scripts/redis_rest_bridge.ts \
        </dev/null >"$STATE/bridge.log" 2>&1 9>&-
    ) &
    pid=$!
    echo "$pid" >"$STATE/bridge.pid"
  fi
  # The first start may download npm packages: allow a minute.
  for ((i = 0; i < 600; i++)); do
    bridge_healthy "$BRIDGE_PORT" && break
    if ! pid_alive "$pid"; then
      tail -n 20 "$STATE/bridge.log" >&2 || true
      rm -f "$STATE/bridge.pid"
      die "the REST bridge exited (log: $STATE/bridge.log)"
    fi
    sleep 0.1
  done
  if ! bridge_healthy "$BRIDGE_PORT"; then
    tail -n 20 "$STATE/bridge.log" >&2 || true
    die "the REST bridge does not answer GET /health on port $BRIDGE_PORT (log: $STATE/bridge.log)"
  fi
  # Record the process that really listens (setsid may have forked).
  local lpid
  lpid="$(listener_pid "$BRIDGE_PORT")"
  [[ -n "$lpid" ]] && echo "$lpid" >"$STATE/bridge.pid"
  return 0
}

bridge_down() {
  local pid=""
  [[ -f "$STATE/bridge.pid" ]] && pid="$(cat "$STATE/bridge.pid")"
  if pid_matches "$pid" "$BRIDGE_PATTERN"; then
    stop_pid "$pid" 5 "$BRIDGE_PATTERN"
    log "stopped bridge (port $BRIDGE_PORT)"
  fi
  rm -f "$STATE/bridge.pid"
}

# --- Docker mode ------------------------------------------------------------------------------

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose -f "$REPO/docker-compose.yml" "${COMPOSE_PROFILE_ARGS[@]}" "$@"
  elif command -v docker-compose >/dev/null 2>&1; then
    docker-compose -f "$REPO/docker-compose.yml" "${COMPOSE_PROFILE_ARGS[@]}" "$@"
  else
    die "a Docker engine answers but neither 'docker compose' nor 'docker-compose' is installed"
  fi
}

container_state() {
  local id
  id="$(compose ps -q "$1" 2>/dev/null | head -n1)"
  [[ -n "$id" ]] || return 0
  docker inspect -f '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' \
    "$id" 2>/dev/null || true
}

docker_up() {
  local svc state to_start=() i
  for svc in "${COMPOSE_SERVICES[@]}"; do
    state="$(container_state "$svc")"
    [[ "$state" == running/* ]] || to_start+=("$svc")
  done
  if ((${#to_start[@]})); then
    log "docker compose up -d ${to_start[*]}"
    compose up -d "${COMPOSE_SERVICES[@]}" >&2 || die "docker compose up failed"
    printf '%s\n' "${to_start[@]}" >>"$STATE/docker.started"
  fi
  for ((i = 0; i < 120; i++)); do
    local ready=1
    for svc in "${COMPOSE_SERVICES[@]}"; do
      state="$(container_state "$svc")"
      case "$state" in
        running/healthy | running/none) ;;
        *) ready=0 ;;
      esac
    done
    ((ready)) && bridge_healthy_or_open && break
    sleep 1
  done
  ((ready)) || die "containers are not healthy after 2 minutes (docker compose ps; docker compose logs)"
  PG_DESC="docker, $(compose exec -T "${COMPOSE_SERVICES[0]}" psql -U postgres -At \
    -c 'show timescaledb.license' 2>/dev/null | tr -d '\r' || echo '?') license"
}

bridge_healthy_or_open() { port_open "$BRIDGE_PORT"; }

docker_down() {
  [[ -f "$STATE/docker.started" ]] || return 0
  local started=()
  mapfile -t started < <(sort -u "$STATE/docker.started")
  if ((${#started[@]})); then
    compose stop "${started[@]}" >&2 || log "warning: docker compose stop failed"
    log "stopped containers: ${started[*]}"
  fi
  rm -f "$STATE/docker.started"
}

# --- commands ---------------------------------------------------------------------------------

print_endpoints() {
  local pg_url="postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB"
  printf '%-9s %s (%s)\n' postgres "$pg_url" "$PG_DESC"
  printf '%-9s %s\n' redis "127.0.0.1:$REDIS_PORT"
  printf '%-9s %s\n' bridge "http://127.0.0.1:$BRIDGE_PORT (token $BRIDGE_TOKEN)"
}

cmd_up() {
  local started mode
  started=$(now_ms)
  if docker_engine; then
    mode=docker
    mkdir -p "$STATE"
    echo docker >"$STATE/mode"
    docker_up
  else
    mode=local
    require_root_debian
    mkdir -p "$STATE"
    ensure_host_packages
    mkdir -p "$CACHE_DIR"
    exec 9>"$CACHE_DIR/.services.lock"
    flock -w 900 9 || die "another services.sh holds $CACHE_DIR/.services.lock"
    echo local >"$STATE/mode"
    ensure_root
    pg_up
    redis_up
    bridge_up
    flock -u 9
  fi
  printf 'services (%s, %s) up in %d ms\n' "$PROFILE" "$mode" "$(($(now_ms) - started))"
  print_endpoints
}

cmd_down() {
  [[ -d "$STATE" ]] || {
    echo "nothing started by this script for profile $PROFILE"
    return 0
  }
  if [[ "$(current_mode)" == docker ]]; then
    docker_down
  else
    require_root_debian
    mkdir -p "$CACHE_DIR"
    exec 9>"$CACHE_DIR/.services.lock"
    flock -w 120 9 || die "another services.sh holds $CACHE_DIR/.services.lock"
    bridge_down
    redis_down
    pg_down
    umount_root_if_idle
    flock -u 9
  fi
  rm -f "$STATE/mode"
  echo "services ($PROFILE) down"
}

# Prints the state of one profile; returns 0 when every service is up.
status_profile() {
  local ok=0 pg=down rd=down br=down who
  if [[ "$(current_mode)" == docker ]]; then
    local svc state
    for svc in "${COMPOSE_SERVICES[@]}"; do
      state="$(container_state "$svc")"
      printf '  %-17s %s\n' "$svc" "${state:-not created}"
      [[ "$state" == running/healthy || "$state" == running/none ]] || ok=1
    done
    return "$ok"
  fi
  if [[ -d "$ROOT" ]] && cluster_running "$PG_CLUSTER"; then
    who="not started by this checkout"
    [[ -f "$STATE/postgres.started" ]] && who="started here"
    pg="up    postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB  ($who)"
  elif port_open "$PG_PORT"; then
    pg="port $PG_PORT is open, but not by cluster $PG_VERSION/$PG_CLUSTER in $ROOT"
    ok=1
  else
    ok=1
  fi
  if redis_ping "$REDIS_PORT"; then
    who="not started by this checkout"
    [[ -f "$STATE/redis.pid" ]] && pid_matches "$(cat "$STATE/redis.pid")" redis-server &&
      who="started here, pid $(cat "$STATE/redis.pid")"
    rd="up    127.0.0.1:$REDIS_PORT  ($who)"
  else
    ok=1
  fi
  if bridge_healthy "$BRIDGE_PORT"; then
    who="not started by this checkout"
    [[ -f "$STATE/bridge.pid" ]] && pid_matches "$(cat "$STATE/bridge.pid")" "$BRIDGE_PATTERN" &&
      who="started here, pid $(cat "$STATE/bridge.pid")"
    br="up    http://127.0.0.1:$BRIDGE_PORT token $BRIDGE_TOKEN  ($who)"
  elif port_open "$BRIDGE_PORT"; then
    br="port $BRIDGE_PORT is open but GET /health fails"
    ok=1
  else
    ok=1
  fi
  printf '  %-9s %s\n' postgres "$pg" redis "$rd" bridge "$br"
  return "$ok"
}

cmd_status() {
  local profiles=("$@") p rc=0
  ((${#profiles[@]})) || profiles=(dev test)
  for p in "${profiles[@]}"; do
    set_profile "$p"
    echo "$p ($(current_mode)):"
    status_profile || rc=3
  done
  return "$rc"
}

main() {
  (($# >= 1 && $# <= 2)) || usage
  local cmd="$1"
  case "$cmd" in
    up)
      set_profile "${2:-dev}"
      cmd_up
      ;;
    down)
      set_profile "${2:-dev}"
      cmd_down
      ;;
    status)
      if (($# == 2)); then cmd_status "$2"; else cmd_status; fi
      ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
