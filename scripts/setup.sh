#!/usr/bin/env bash
# Installs whatever the build and the tests need, skipping what is already present.
# Idempotent: both `make dev` and `make test` call it. Writes target/toolchain.env, which
# scripts/build.sh sources to know how to compile for wasm32.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
# Must equal the `wasm-bindgen` crate version pinned in Cargo.toml.
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' Cargo.toml)
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"

log() { printf '[setup] %s\n' "$*" >&2; }

apt_updated=false
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "need root (or sudo) to apt-get install $*"; exit 1
  fi
  if ! $apt_updated; then apt-get update -qq; apt_updated=true; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$CARGO_BIN/cargo" ]; then
    log "no Rust toolchain found: install rustup (https://rustup.rs) first"; exit 1
  fi
  export PATH="$CARGO_BIN:$PATH"
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt || true
}

# The wasm32 standard library: rustup's target when it can be had, else Debian's rustc-web
# toolchain, which builds std from source.
ensure_wasm_std() {
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo "WASM_MODE=rustup" > target/toolchain.env; return
  fi
  if [ ! -d /usr/lib/rustlib/src/rust/library ] || [ ! -x /usr/bin/rust-lld ]; then
    log "trying rustup target add wasm32-unknown-unknown (60 s limit)"
    if timeout 60 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
      echo "WASM_MODE=rustup" > target/toolchain.env; return
    fi
    log "rustup cannot fetch the wasm32 target: installing Debian's rustc-web toolchain"
    apt_install rustc-web cargo-web rust-web-src rust-web-llvm lld-22
  fi
  # worker-build insists that this directory exists; build-std supplies the real std.
  mkdir -p "$(/usr/bin/rustc --print sysroot)/lib/rustlib/wasm32-unknown-unknown/lib"
  echo "WASM_MODE=debian" > target/toolchain.env
}

ensure_cargo_tool() { # binary, crate, version, extra install flags
  local bin=$1 crate=$2 version=$3; shift 3
  # `worker-build --version` prints the bare version; `wasm-bindgen --version` prefixes its name.
  if "$CARGO_BIN/$bin" --version 2>/dev/null | grep -qE "(^| )${version//./\\.}( |\$)"; then return; fi
  log "installing $crate $version (takes several minutes on a fresh machine)"
  cargo install --quiet "$crate" --version "$version" "$@"
}

ensure_npm_packages() {
  local stamp=node_modules/.install-stamp
  if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ "$stamp" -nt package.json ]; then return; fi
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch "$stamp"
}

# Headless Chromium for tests/browser.test.mjs (driven by playwright-core, which never downloads
# a browser itself). BROWSER_TESTS=0 skips it on machines that will not run the browser tests.
ensure_chromium() {
  if [ "${BROWSER_TESTS:-1}" = 0 ] || [ -x /usr/bin/chromium ]; then return; fi
  log "installing Debian's chromium for the browser tests (BROWSER_TESTS=0 skips this)"
  apt_install chromium
}

mkdir -p target
ensure_rust
ensure_npm_packages
ensure_chromium
ensure_wasm_std
ensure_cargo_tool worker-build worker-build "$WORKER_BUILD_VERSION" --locked
# Not --locked: the published lock of 0.2.x names a crate version the index no longer serves.
ensure_cargo_tool wasm-bindgen wasm-bindgen-cli "$WASM_BINDGEN_VERSION"
log "toolchain ready ($(cat target/toolchain.env))"
