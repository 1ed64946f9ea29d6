#!/usr/bin/env bash
# Pure modules must not touch the Workers runtime: only src/edge/ may import worker, wasm_bindgen or js_sys.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(grep -rnE '\b(worker|wasm_bindgen|js_sys|web_sys)::' src --include='*.rs' | grep -v '^src/edge/' | grep -vE '^[^:]+:[0-9]+:\s*//' || true)
if [ -n "$bad" ]; then
  echo "runtime imports outside src/edge/:"; echo "$bad"; exit 1
fi
echo "ok: $(find src -name '*.rs' -not -path 'src/edge/*' | wc -l) pure modules, no runtime imports"
