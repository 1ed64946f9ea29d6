#!/usr/bin/env bash
# Nothing in the repository may read outside it (a plain `git clone` must build and test).
# Copies the tracked files (as they are in the work tree) into an empty temporary folder, so that
# no sibling folder exists, then there:
#   1. scripts/check-paths.mjs: no text names a place outside the checkout, every path literal a
#      source reads (include_str!, import, new URL(..., import.meta.url), TOML paths) stays inside
#      and exists, every JS file parses and its packages resolve;
#   2. `cargo test --no-run --workspace --all-targets`: every Rust test and bench compiles (include_str! of a
#      missing file fails here). CARGO_TARGET_DIR is the repository's target/, so dependencies
#      are not compiled twice.
# The copy keeps one fixed path per checkout, so repeated runs rebuild only this crate.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

id=$(printf '%s' "$root" | cksum | cut -d' ' -f1)
parent="${TMPDIR:-/tmp}/nfs-self-contained-$id"
copy="$parent/repo"
rm -rf "$parent"
mkdir -p "$copy"
trap 'rm -rf "$parent"' EXIT

# Tracked and new (not ignored) files as they are now; files deleted in the work tree are skipped.
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -xf - -C "$copy"
# Installed packages are not part of the repository but come from its package-lock.json.
ln -s "$root/node_modules" "$copy/node_modules"
echo "copy of $(find "$copy" -type f | wc -l) files in $copy (nothing beside it)"

(cd "$copy" && node scripts/check-paths.mjs)
(cd "$copy" && CARGO_TARGET_DIR="$root/target" cargo test --quiet --no-run --workspace --all-targets)
echo "ok: the tests compile in a copy with no sibling folders"
