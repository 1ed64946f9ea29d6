#!/usr/bin/env bash
# Builds the Worker (build/index.js + build/index_bg.wasm) with worker-build.
# wrangler runs this as its [build] command, so it returns at once when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/index.js
if [ -f "$out" ] && [ -z "$(find src core build.rs Cargo.toml Cargo.lock openapi.json scripts/build.sh -newer "$out" -print -quit)" ]; then
  exit 0
fi
[ -f target/toolchain.env ] || bash scripts/setup.sh
# shellcheck disable=SC1091
source target/toolchain.env

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$PWD/node_modules/.bin/esbuild"

if [ "$WASM_MODE" = debian ]; then
  # Debian's rustc-web first on PATH for this build only; std is compiled from source.
  export PATH="/usr/bin:$PATH" RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort
fi
"$CARGO_BIN/worker-build" --release
