#!/usr/bin/env bash
# `make test`: every check, on a fresh machine too (setup installs what is missing).
# First that nothing reads outside the repository; native: fmt, clippy, layering, unit tests.
# Then the wasm build, the deploy bundle, and the integration tests against the built Worker
# under workerd with fake Notion and Framer servers.
#   TEST_FILES="tests/a.test.mjs tests/b.test.mjs"  only these integration test files
#   TEST_NAME='regex'                               only the tests whose name matches
#   BROWSER_TESTS=0                                 skip tests/browser.test.mjs
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step setup
bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step "self-contained (nothing read outside the repository)"
bash scripts/check-self-contained.sh
step "cargo fmt --check"
cargo fmt --check
step "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
step "layering (no worker:: outside src/edge)"
bash scripts/check-layering.sh
step "cargo test (native unit tests)"
# A fixed seed keeps `make test` reproducible; plain `cargo test` explores new random cases.
PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261125}" cargo test --quiet

step "wasm build"
bash scripts/build.sh
export PATH="$PWD/node_modules/.bin:$PATH" WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
step "wrangler deploy --dry-run"
out=$(mktemp -d)
wrangler deploy --dry-run --outdir "$out" >/dev/null
ls "$out" | grep -q '\.wasm$' && echo "deploy bundle ok: $(ls "$out" | tr '\n' ' ')"
rm -rf "$out"

step "integration tests (workerd)"
files=${TEST_FILES:-$(ls tests/*.test.mjs)}
if [ "${BROWSER_TESTS:-1}" = 0 ]; then
  echo "BROWSER_TESTS=0: skipping tests/browser.test.mjs"
  files=$(printf '%s\n' $files | grep -v 'browser\.test\.mjs$')
fi
filter=()
if [ -n "${TEST_NAME:-}" ]; then filter=(--test-name-pattern="$TEST_NAME"); fi
# shellcheck disable=SC2086
node --test --test-concurrency=1 "${filter[@]}" $files
