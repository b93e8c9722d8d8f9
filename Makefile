# The two commands of the README: `make run` and `make test`. Both install
# what a fresh machine lacks (as root; otherwise they say what to install).

CARGO ?= cargo
ARGS ?=

.PHONY: run test deps bench bench-scale soak sandbox fmt docker-test fuzz

deps:
	@bash scripts/install-deps.sh

run: deps
	$(CARGO) run --release -- serve $(ARGS)

sandbox: deps
	$(CARGO) run --release -- sandbox $(ARGS)

# The cargo tests run under cargo-nextest where the machine has it (CI's
# does): each test in its own process, two at a time across all the test
# binaries, where `cargo test` runs one binary after another and waits at
# each for its slowest test (350 s against 437 s for the same tests).
# .config/nextest.toml holds its settings.
test: deps
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  echo "$(CARGO) nextest run --locked --lib --bins --tests"; \
	  $(CARGO) nextest run --locked --lib --bins --tests; \
	else \
	  echo "$(CARGO) test --locked --lib --bins --tests -- --test-threads=2"; \
	  $(CARGO) test --locked --lib --bins --tests -- --test-threads=2; \
	fi
	cd inject && npm test
	cd clients/node && npm test
	# The binary the tests above just built (a plain `cargo build` would
	# build it again, with other features).
	WABRIDGE_BIN=$(CURDIR)/target/debug/wabridge bash scripts/test-compat.sh

bench: deps
	$(CARGO) build --release
	python3 bench/bench.py --bin target/release/wabridge --out bench-results/sessions.json $(ARGS)
	$(CARGO) bench --bench messaging -- --out bench-results/messaging.json
	node clients/node/bench/bench.mjs --bin target/release/wabridge --out bench-results/node.json
	python3 bench/cluster.py --bin target/release/wabridge --out bench-results/cluster.json

# Hundreds of sessions on one machine (issue 17): N sessions (SESSIONS, a
# comma list), wabridge beside a whatsapp-web.js-architecture baseline (Node +
# puppeteer-core from npm, in bench/scale/node_modules) on the same sandbox.
# Not part of `make test`. `make bench-scale SESSIONS=1,10 ARGS=--no-baseline`.
SESSIONS ?= 1,10,40,100

bench-scale: deps
	$(CARGO) build --release
	cd bench/scale && npm ci --no-audit --no-fund
	python3 bench/scale.py --bin target/release/wabridge --out bench-results/scale.json --sessions $(SESSIONS) $(ARGS)

# The soak bench (issue 13): 10 sessions under steady inbound and outbound
# traffic with a flapping webhook receiver, for MINUTES (30); memory and fd
# slopes, backlog drain, lost and repeated deliveries. Not part of `make test`.
# `make soak MINUTES=60`, or any bench/soak.py option: `make soak ARGS="--sessions 4"`.
MINUTES ?= 30

soak: deps
	$(CARGO) build --release
	python3 bench/soak.py --bin target/release/wabridge --out bench-results/soak.json --minutes $(MINUTES) $(ARGS)

fmt:
	$(CARGO) fmt --all

# The Docker image end to end (build, sandbox link, restart); not part of
# `make test`. Skips, saying why, where Docker cannot run it.
docker-test:
	bash scripts/docker-test.sh

# The HTTP API fuzzed from /openapi.json (tests/compat/test_fuzz.py, schemathesis):
# 200 derandomized examples per operation and mode instead of `make test`'s 4.
# Not part of `make test`; FUZZ_EXAMPLES=N to change the count.
FUZZ_EXAMPLES ?= 200
fuzz: deps
	WABRIDGE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) bash scripts/test-compat.sh -k fuzz
