#!/usr/bin/env bash
# Installs what wabridge needs at run time and in tests: Debian's Chromium
# (both the headless shell and full Chromium), fonts, and the npm packages of
# inject/ (wa-js). Idempotent. The browser and fonts come from
# scripts/install-browser.sh, which the Docker image's build runs too.
set -euo pipefail
cd "$(dirname "$0")/.."

# Building wabridge: Rust 1.85 or newer (edition 2024), from rustup (Debian
# 12's own rustc is older), and a C compiler (jemalloc, ring).
cargo_bin="${CARGO:-cargo}"
if ! command -v "$cargo_bin" >/dev/null 2>&1; then
  echo "install-deps: Rust is missing: install it with rustup (https://rustup.rs), then open a new shell" >&2
  exit 1
fi
rust_minor=$("$cargo_bin" --version | sed -n 's/^cargo 1\.\([0-9]*\).*/\1/p')
if [ -n "$rust_minor" ] && [ "$rust_minor" -lt 85 ]; then
  echo "install-deps: Rust 1.85 or newer is needed ($("$cargo_bin" --version)): rustup update stable" >&2
  exit 1
fi

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: installing ${need_apt[*]} from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "install-deps: missing ${need_apt[*]}; install them (Debian: sudo apt-get install ${need_apt[*]})" >&2
    exit 1
  fi
fi
# Both browsers: the tests run each.
bash scripts/install-browser.sh both

# The npm packages of inject/ and clients/node/, reinstalled whenever their
# package-lock.json changed. clients/node's whatsapp-web.js (a dev
# dependency, for its type declarations) comes without its install scripts:
# they would download a browser.
npm_dirs=()
for d in inject clients/node; do
  [ -f "$d/package.json" ] || continue
  cmp -s "$d/package-lock.json" "$d/node_modules/.wabridge-installed-lock" 2>/dev/null || npm_dirs+=("$d")
done
if [ "${SKIP_NPM:-0}" != 1 ] && [ "${#npm_dirs[@]}" -gt 0 ]; then
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "install-deps: installing nodejs and npm from Debian's packages"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    else
      echo "install-deps: npm is missing (Debian: sudo apt-get install nodejs npm)" >&2
      exit 1
    fi
  fi
  for d in "${npm_dirs[@]}"; do
    echo "install-deps: npm ci in $d/"
    (cd "$d" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    cp "$d/package-lock.json" "$d/node_modules/.wabridge-installed-lock"
  done
fi
