#!/usr/bin/env bash
# `make dev`: builds the Worker, applies the D1 migrations locally and serves it on
# http://127.0.0.1:8787 under workerd, with local D1 and Durable Objects (no Cloudflare account).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH" WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false

if [ ! -f .dev.vars ]; then
  admin="adm_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  key="$(head -c 32 /dev/urandom | base64)"
  umask 077
  printf 'ADMIN_TOKEN=%s\nENCRYPTION_KEY=%s\n' "$admin" "$key" > .dev.vars
  echo "Created .dev.vars with fresh local secrets. Your admin token (shown once):"
  echo "  $admin"
fi

bash scripts/build.sh
wrangler d1 migrations apply DB --local
exec wrangler dev --ip 127.0.0.1 --port "${PORT:-8787}" --show-interactive-dev-session=false
