# syntax=docker/dockerfile:1
# wabridge in one image: the release binary, wa-js (inject/'s npm packages)
# and Debian's Chromium. The runtime's packages come from
# scripts/install-deps.sh, the script `make run` and `make test` (and so CI)
# run, so CI exercises the image's install step.
#
#   docker build -t wabridge .
#   docker run -d -p 8002:8002 -v wabridge-sessions:/sessions wabridge

# ---- the binary
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
 && install -D -m 0755 target/release/wabridge /out/wabridge

# ---- wa-js, injected into WhatsApp Web in real mode (runtime deps only)
FROM node:20-bookworm-slim AS inject
WORKDIR /app/inject
COPY inject/package.json inject/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# ---- runtime
FROM debian:bookworm-slim
WORKDIR /app

# Chromium (headless shell and full), fonts: install-deps.sh installs what is
# missing when run as root, which it is here (before USER). SKIP_NPM=1: the
# npm packages come from the inject stage.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tini ca-certificates >/dev/null \
 && SKIP_NPM=1 bash scripts/install-deps.sh \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/wabridge \
        --shell /usr/sbin/nologin wabridge \
 && mkdir -p /sessions \
 && chown wabridge:wabridge /sessions \
 && chmod 0700 /sessions

COPY --from=inject /app/inject/node_modules /app/inject/node_modules
COPY --from=build /out/wabridge /usr/local/bin/wabridge

ENV WABRIDGE_DATA_DIR=/sessions \
    WABRIDGE_LISTEN=0.0.0.0:8002 \
    WABRIDGE_WAJS_PATH=/app/inject/node_modules/@wppconnect/wa-js/dist/wppconnect-wa.js \
    WABRIDGE_CHROMIUM_NO_SANDBOX=true

VOLUME /sessions
EXPOSE 8002

# Not root. Chromium's own sandbox needs user namespaces, which Docker's
# default seccomp profile denies; the container is the sandbox, so Chromium
# runs with --no-sandbox (WABRIDGE_CHROMIUM_NO_SANDBOX above).
USER wabridge

# Asks http://127.0.0.1:8002/health; if you change the port of
# WABRIDGE_LISTEN, set WABRIDGE_HEALTHCHECK_URL to match.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["wabridge", "healthcheck"]

# tini as PID 1: forwards SIGTERM (graceful shutdown closes the browsers)
# and reaps Chromium's children.
ENTRYPOINT ["tini", "--", "wabridge"]
CMD ["serve"]
