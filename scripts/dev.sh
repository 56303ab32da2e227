#!/usr/bin/env bash
# Runs the API on http://localhost:3000 with its local dependencies (the README's first command).
# Installs Deno from npm when missing, then `deno task dev` (services up, then the API with --watch).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# shellcheck source=scripts/ensure_deno.sh
source scripts/ensure_deno.sh
ensure_deno
exec deno task dev
