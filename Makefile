.PHONY: dev test build bench deploy setup demo

## Run the Worker locally on http://127.0.0.1:8787 (local D1 + Durable Objects, no account).
dev:
	bash scripts/dev.sh

## Every test: fmt, clippy, unit tests, wasm build, deploy dry run, integration tests under workerd.
test:
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

## The whole pipeline locally: Worker + fake Notion + fake Framer, a seeded blog, the project page.
demo:
	bash scripts/setup.sh && bash scripts/build.sh && \
	PATH="$$PWD/node_modules/.bin:$$PATH" node scripts/demo.mjs

build:
	bash scripts/build.sh

## Benchmarks that print figures: the native ingest path, then HTTP ingest and coalescing under
## workerd, a large sync, a three-source site's first sync, and what a project stores in D1 and in its object.
bench:
	bash scripts/setup.sh && cargo bench -p notion-framer-core --bench ingest_path && bash scripts/build.sh && \
	PATH="$$PWD/node_modules/.bin:$$PATH" node bench/ingest.mjs && \
	PATH="$$PWD/node_modules/.bin:$$PATH" node bench/sync.mjs && \
	PATH="$$PWD/node_modules/.bin:$$PATH" node bench/site.mjs && \
	PATH="$$PWD/node_modules/.bin:$$PATH" node bench/files.mjs && \
	PATH="$$PWD/node_modules/.bin:$$PATH" node bench/storage.mjs

## Deploy to Cloudflare (needs `wrangler login`; see README "Deploying").
deploy:
	bash scripts/setup.sh && bash scripts/build.sh && \
	PATH="$$PWD/node_modules/.bin:$$PATH" wrangler d1 migrations apply DB --remote && \
	PATH="$$PWD/node_modules/.bin:$$PATH" wrangler deploy
