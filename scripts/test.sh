#!/usr/bin/env bash
# `make test`: every check, on a fresh machine too (setup installs what is missing).
# First that nothing reads outside the repository; native: fmt, clippy, unit tests (both crates:
# the core, which the compiler keeps free of the runtime, and the Worker).
# Then the wasm build, the deploy bundle, and the integration tests against the built Worker
# under workerd with fake Notion and Framer servers.
#   TEST_FILES="tests/a.test.mjs tests/b.test.mjs"  only these integration test files
#   TEST_NAME='regex'                               only the tests whose name matches
#   BROWSER_TESTS=0                                 skip tests/browser.test.mjs
#   TEST_CONCURRENCY=n                              integration files run side by side (default 4)
# The time of each step is printed at the end, whether the run passed or not.
set -euo pipefail
cd "$(dirname "$0")/.."

# Steps and their wall times, printed on exit.
step_names=()
step_secs=()
step_started=$SECONDS
run_started=$SECONDS
current_step=""
end_step() {
  if [ -n "$current_step" ]; then
    step_names+=("$current_step")
    step_secs+=($((SECONDS - step_started)))
  fi
  current_step=""
}
step() {
  end_step
  current_step="$*"
  step_started=$SECONDS
  printf '\n== %s\n' "$*"
}
report_times() {
  local status=$?
  end_step
  printf '\n== step times (%s)\n' "$([ "$status" = 0 ] && echo passed || echo "FAILED, exit $status")"
  for i in "${!step_names[@]}"; do
    printf '%6ss  %s\n' "${step_secs[$i]}" "${step_names[$i]}"
  done
  printf '%6ss  total\n' "$((SECONDS - run_started))"
}
trap report_times EXIT

step setup
bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

step "self-contained (nothing read outside the repository)"
bash scripts/check-self-contained.sh
step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "cargo test (native unit tests)"
# A fixed seed keeps `make test` reproducible; plain `cargo test` explores new random cases.
PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261125}" cargo test --workspace --quiet

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
# Each file starts its own Worker (fresh D1 and Durable Object state in its own temporary
# folder, on ports the OS hands out) and its own fakes, so files run side by side: most of
# their time is spent waiting on paced fakes and debounce windows, not on the CPU. The
# longest files go first so that they do not start last.
first="tests/cost.test.mjs tests/stepped_sync.test.mjs tests/webhook.test.mjs tests/alerts.test.mjs tests/sync.test.mjs"
ordered=$( (for f in $first; do printf '%s\n' $files | grep -qx "$f" && echo "$f"; done
            printf '%s\n' $files | grep -vxF -f <(printf '%s\n' $first)) || true)
# shellcheck disable=SC2086
node --test --test-concurrency="${TEST_CONCURRENCY:-4}" "${filter[@]}" $ordered
