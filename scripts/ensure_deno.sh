#!/usr/bin/env bash
# Sourced by the scripts that need Deno: installs the pinned version from npm when it is missing.
# Deno ships inside the npm package (`deno` pulls in `@deno/linux-x64-glibc`), so npm is the only
# prerequisite.

BPT_DENO_VERSION=2.9.6

# ensure_deno: returns 0 with `deno` on PATH, or prints why not and returns 1.
ensure_deno() {
  command -v deno >/dev/null 2>&1 && return 0
  if ! command -v npm >/dev/null 2>&1; then
    echo "deno is missing and npm is not available to install it (npm install -g deno@$BPT_DENO_VERSION)" >&2
    return 1
  fi
  echo "installing deno@$BPT_DENO_VERSION with npm" >&2
  npm install -g "deno@$BPT_DENO_VERSION" >&2 || {
    echo "npm install -g deno@$BPT_DENO_VERSION failed" >&2
    return 1
  }
  hash -r
  command -v deno >/dev/null 2>&1 || {
    echo "deno is not on PATH after npm install -g deno@$BPT_DENO_VERSION" >&2
    return 1
  }
}
