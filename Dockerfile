# wabridge in one image: the release binary, wa-js (inject/'s npm package)
# and Debian's Chromium headless shell. Plain Dockerfile syntax, so that both
# the classic builder and BuildKit build it: no `# syntax=` line (BuildKit
# would pull a frontend image for it) and no RUN --mount (BuildKit only).
#
#   docker build -t wabridge .                          # headless shell (default)
#   docker build -t wabridge --build-arg CHROMIUM=full . # full Chromium instead
#   docker run -d -p 8002:8002 -v wabridge-sessions:/sessions wabridge
#   docker compose up -d                                  # see docker-compose.yml

# ---- the binary
FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own that only Cargo.toml and
# Cargo.lock invalidate: build them against stub sources. benches/ is copied
# because Cargo wants the files of the [[bench]] targets Cargo.toml declares
# (it does not build them here).
COPY Cargo.toml Cargo.lock ./
COPY benches benches
RUN mkdir src \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src
COPY . .
# COPY keeps the sources' mtimes, which may be older than the stubs' build:
# touch the crate roots so Cargo rebuilds wabridge itself.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked \
 && install -D -m 0755 target/release/wabridge /out/wabridge

# ---- wa-js, injected into WhatsApp Web in real mode (runtime deps only)
FROM node:20-bookworm-slim AS inject
WORKDIR /app/inject
COPY inject/package.json inject/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# ---- runtime
FROM debian:bookworm-slim
WORKDIR /app

# headless-shell: Debian's chromium-headless-shell, about a third of the
# memory of full Chromium per session. full: Debian's chromium, run as
# `chromium --headless=new`. Only one is installed, and the daemon's default
# `--browser auto` picks the one there is.
ARG CHROMIUM=headless-shell

# The browser, its fonts, tini and CA certificates, in one layer, apt lists
# removed in it, by the script CI runs too (scripts/install-deps.sh): it
# also keeps out what a headless browser without a GPU never loads (Mesa,
# LLVM, Z3: ~160 MB) and checks the browser still finds every library.
COPY scripts/install-browser.sh /tmp/install-browser.sh
RUN bash /tmp/install-browser.sh --image "$CHROMIUM" \
 && rm /tmp/install-browser.sh

# A regular user and group, 10001:10001 (a --system account would warn: 10001
# is above SYS_UID_MAX). -l: no lastlog/faillog entries, which Docker would
# store as large sparse files.
RUN groupadd -g 10001 wabridge \
 && useradd -l -u 10001 -g 10001 -m -d /home/wabridge -s /usr/sbin/nologin wabridge \
 && mkdir -p /sessions \
 && chown 10001:10001 /sessions \
 && chmod 0700 /sessions

COPY --from=inject /app/inject/node_modules /app/inject/node_modules
COPY --from=build /out/wabridge /usr/local/bin/wabridge

# WABRIDGE_SANDBOX_LISTEN only matters with `serve --sandbox` (or `wabridge
# sandbox`): on 0.0.0.0 the sandbox's page and control API (/_sandbox) can be
# published with -p 8003:8003; the default 127.0.0.1 is unreachable from the
# host. Publish 8003 only for the sandbox: its control API has no key.
ENV WABRIDGE_DATA_DIR=/sessions \
    WABRIDGE_LISTEN=0.0.0.0:8002 \
    WABRIDGE_SANDBOX_LISTEN=0.0.0.0:8003 \
    WABRIDGE_CHROMIUM_NO_SANDBOX=true

VOLUME /sessions
EXPOSE 8002

# Not root (numeric, so runAsNonRoot-style checks can see it). Chromium's own
# sandbox needs user namespaces, which Docker's default seccomp profile
# denies; the container is the sandbox, so Chromium runs with --no-sandbox
# (WABRIDGE_CHROMIUM_NO_SANDBOX above).
USER 10001:10001

# Asks http://127.0.0.1:8002/health; if you change the port of
# WABRIDGE_LISTEN, set WABRIDGE_HEALTHCHECK_URL to match.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["wabridge", "healthcheck"]

# tini as PID 1: forwards SIGTERM (graceful shutdown closes the browsers)
# and reaps Chromium's children.
ENTRYPOINT ["tini", "--", "wabridge"]
CMD ["serve"]
