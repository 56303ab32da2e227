#!/usr/bin/env bash
# Builds the Debian trixie root folder in which the local PostgreSQL 17 + TimescaleDB run (Debian 12
# has no TimescaleDB package, and trixie's packages cannot be installed onto bookworm without a
# newer libc): debootstrap --variant=minbase with postgresql-17 and postgresql-17-timescaledb
# (the Apache edition) from the host's Debian mirror, into
# ${BPT_CACHE_DIR:-/var/cache/bike-power-tracker}/trixie-root (about a minute, ~600 MB, once per
# machine; an interrupted build is removed and redone).
#
# Sourced by scripts/services.sh, which calls ensure_root before it starts a local cluster and
# supervises the services. Run alone, as root, it builds the root when missing and prints its path:
#
#   bash scripts/build_root.sh
#
# Environment: BPT_CACHE_DIR (cache folder), BPT_DEBIAN_MIRROR (mirror for debootstrap; default:
# the host's apt sources).

# Defaults for a run on its own; scripts/services.sh sets these before it sources this file.
: "${CACHE_DIR:=${BPT_CACHE_DIR:-/var/cache/bike-power-tracker}}"
: "${ROOT:=$CACHE_DIR/trixie-root}"
: "${PG_VERSION:=17}"
: "${CHROOT_PATH:=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}"
if ! declare -F log >/dev/null; then
  log() { printf '%s\n' "$*" >&2; }
fi
if ! declare -F die >/dev/null; then
  die() {
    printf 'build_root.sh: error: %s\n' "$*" >&2
    exit 1
  }
fi
if ! declare -F now_ms >/dev/null; then
  now_ms() { date +%s%3N; }
fi

# URI of the host's Debian mirror (main bookworm entry of the apt sources).
debian_mirror() {
  if [[ -n "${BPT_DEBIAN_MIRROR:-}" ]]; then
    echo "$BPT_DEBIAN_MIRROR"
    return
  fi
  local uri="" f
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    uri="$(awk 'BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""; comps = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[ \t]*#/) continue
          key = tolower(line); sub(/:.*/, "", key)
          val = line; sub(/^[^:]*:[ \t]*/, "", val)
          if (key == "types") types = val
          else if (key == "uris") uris = val
          else if (key == "suites") suites = val
          else if (key == "components") comps = val
          else if (key == "enabled") enabled = tolower(val)
        }
        if (enabled != "no" && (" " types " ") ~ / deb / && (" " suites " ") ~ / bookworm / &&
            (" " comps " ") ~ / main /) { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$f")"
    [[ -n "$uri" ]] && break
  done
  if [[ -z "$uri" ]]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      uri="$(awk '$1 == "deb" {
          n = 2; if ($2 ~ /^\[/) { while (n <= NF && $n !~ /\]$/) n++; n++ }
          if ($(n + 1) == "bookworm") { for (i = n + 2; i <= NF; i++) if ($i == "main") { print $n; exit } }
        }' "$f" 2>/dev/null || true)"
      [[ -n "$uri" ]] && break
    done
  fi
  shopt -u nullglob
  echo "${uri:-http://deb.debian.org/debian}"
}

# Unmounts everything mounted below folder $1 (deepest first).
umount_below() {
  local dir="$1" target
  findmnt -rn -o TARGET 2>/dev/null | awk -v d="$dir/" 'index($0, d) == 1' | sort -r |
    while read -r target; do
      umount "$target" 2>/dev/null || umount -l "$target" || true
    done
}

# One-time adjustments of a trixie root (idempotent).
configure_root() {
  local dir="$1"
  mkdir -p "$dir/etc/postgresql-common/createcluster.d"
  printf '%s\n' "# written by bike-power-tracker scripts/services.sh" \
    "create_main_cluster = false" "ssl = off" \
    >"$dir/etc/postgresql-common/createcluster.d/bike-power-tracker.conf"
  if [[ -d "$dir/etc/postgresql/$PG_VERSION/main" ]]; then
    env -i PATH="$CHROOT_PATH" LANG=C.UTF-8 chroot "$dir" pg_dropcluster --stop "$PG_VERSION" main >&2 ||
      true
  fi
  rm -f "$dir"/var/cache/apt/archives/*.deb
}

ensure_root() {
  if [[ -x "$ROOT/usr/lib/postgresql/$PG_VERSION/bin/postgres" &&
    -f "$ROOT/usr/lib/postgresql/$PG_VERSION/lib/timescaledb.so" ]]; then
    [[ -d "$ROOT/etc/postgresql/$PG_VERSION/main" ]] && configure_root "$ROOT"
    return 0
  fi
  [[ -e "$ROOT" ]] && die "$ROOT exists but has no PostgreSQL $PG_VERSION + TimescaleDB; remove it and retry"
  local tmp="$ROOT.tmp" mirror started
  mirror="$(debian_mirror)"
  mkdir -p "$CACHE_DIR"
  if [[ -e "$tmp" ]]; then
    log "removing an interrupted build: $tmp"
    umount_below "$tmp"
    rm -rf --one-file-system "$tmp"
  fi
  log "building the Debian trixie root (PostgreSQL $PG_VERSION + TimescaleDB) in $ROOT"
  log "  debootstrap from $mirror (about 1 minute, ~600 MB; log: $CACHE_DIR/debootstrap.log)"
  started=$(now_ms)
  if ! debootstrap --variant=minbase \
    --include="postgresql-$PG_VERSION,postgresql-$PG_VERSION-timescaledb" \
    trixie "$tmp" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1; then
    umount_below "$tmp"
    tail -n 20 "$CACHE_DIR/debootstrap.log" >&2
    die "debootstrap failed (full log: $CACHE_DIR/debootstrap.log)"
  fi
  umount_below "$tmp"
  configure_root "$tmp"
  mv "$tmp" "$ROOT"
  log "  trixie root ready in $((($(now_ms) - started) / 1000)) s"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  [[ "$(id -u)" == 0 ]] || die "building the root needs root (debootstrap, chroot)"
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (apt-get install -y debootstrap)"
  ensure_root
  echo "$ROOT"
fi
