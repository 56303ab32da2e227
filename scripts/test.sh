#!/usr/bin/env bash
# The project's test command: starts the test services and runs `deno test`.
#
#   ./scripts/test.sh                 all tests in tests/
#   ./scripts/test.sh tests/foo_test.ts --filter "archives"
#
# The last line printed is always `N passed, M failed` (from Deno's summary); the exit code is
# deno test's (non-zero when the summary is missing). Output is also saved to
# .services/test/last-run.log.
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 1

fail() {
  printf 'test.sh: error: %s\n' "$*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

# shellcheck source=scripts/ensure_deno.sh
source "$REPO/scripts/ensure_deno.sh"
ensure_deno || fail "Deno could not be installed"

# The pages' browser tests drive Debian's chromium (playwright-core, no browser download).
if [[ -z "${CHROMIUM_PATH:-}" && ! -x /usr/bin/chromium ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: apt-get install -y chromium" >&2
    { apt-get update -qq && apt-get install -y -qq chromium; } >&2 ||
      fail "apt-get install chromium failed (the pages' browser tests need it)"
  else
    fail "no /usr/bin/chromium: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH"
  fi
fi

bash "$REPO/scripts/services.sh" up test || fail "the test services did not start (bash scripts/services.sh up test)"

# The test database is recreated on every run (when it is the default one), so the migrations are
# applied from scratch and no earlier run's rows matter.
if [[ -z "${DATABASE_URL:-}" ]]; then
  deno run --allow-net --allow-env scripts/reset_database.ts \
    postgres://postgres@127.0.0.1:55433/postgres bpt_test </dev/null ||
    fail "could not recreate the test database bpt_test"
fi

export APP_ENV="${APP_ENV:-test}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:55433/bpt_test}"
export TEST_DATABASE_ADMIN_URL="${TEST_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:55433/postgres}"
export UPSTASH_REDIS_REST_URL="${UPSTASH_REDIS_REST_URL:-http://127.0.0.1:58080}"
export UPSTASH_REDIS_REST_TOKEN="${UPSTASH_REDIS_REST_TOKEN:-bpt-test-token}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:56380}"
export NO_COLOR=1

args=("$@")
((${#args[@]})) || args=(tests/)

# One log per run (runs may overlap); last-run.log points at the newest.
log="$REPO/.services/test/run-$$.log"
mkdir -p "$(dirname "$log")"

# --allow-all: the tests had every permission but ffi already, and playwright-core (the pages'
# browser tests) reads /proc/sys/fs/binfmt_misc, which Deno grants only with all of them.
deno test --allow-all \
  "${args[@]}" 2>&1 </dev/null | tee "$log"
rc=${PIPESTATUS[0]}
ln -sfn "$(basename "$log")" "$REPO/.services/test/last-run.log"
find "$REPO/.services/test" -name 'run-*.log' -mmin +60 -delete 2>/dev/null

# Deno's summary: "ok | 12 passed (3 steps) | 0 failed (1s)" or "FAILED | 10 passed | 2 failed (2s)"
summary="$(sed 's/\x1b\[[0-9;]*m//g' "$log" |
  grep -E '^(ok|FAILED) \| [0-9]+ passed.*\| [0-9]+ failed' | tail -n1)"
if [[ -z "$summary" ]]; then
  echo "test.sh: no summary line from deno test (exit code $rc); see $log" >&2
  ((rc != 0)) || rc=1
  echo "0 passed, 1 failed"
  exit "$rc"
fi
passed="$(sed -E 's/^[^|]*\| ([0-9]+) passed.*/\1/' <<<"$summary")"
failed="$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")"
# A crash after the summary (or an unhandled error) must not read as green.
if ((rc != 0 && failed == 0)); then
  failed=1
fi
echo "$passed passed, $failed failed"
exit "$rc"
