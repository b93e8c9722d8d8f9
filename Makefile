# The two commands of the README: `make run` and `make test`. Both install
# what a fresh machine lacks (as root; otherwise they say what to install).

CARGO ?= cargo
ARGS ?=

.PHONY: run test deps bench sandbox fmt docker-test

deps:
	@bash scripts/install-deps.sh

run: deps
	$(CARGO) run --release -- serve $(ARGS)

sandbox: deps
	$(CARGO) run --release -- sandbox $(ARGS)

test: deps
	$(CARGO) test --lib --bins --tests -- --test-threads=2
	cd inject && npm test
	cd clients/node && npm test
	bash scripts/test-compat.sh

bench: deps
	$(CARGO) build --release
	python3 bench/bench.py --bin target/release/wabridge --out bench-results/sessions.json $(ARGS)
	$(CARGO) bench --bench messaging -- --out bench-results/messaging.json
	node clients/node/bench/bench.mjs --bin target/release/wabridge --out bench-results/node.json

fmt:
	$(CARGO) fmt --all

# The Docker image end to end (build, sandbox link, restart); not part of
# `make test`. Skips, saying why, where Docker cannot run it.
docker-test:
	bash scripts/docker-test.sh
