#!/usr/bin/env bash
# The compatibility tests: each dialect judged by its ecosystem's own client
# libraries (tests/compat/), against the real daemon binary built by
# `cargo test`, real headless Chromium and the sandbox. Installs the Python
# packages into .venv-test (ignored), reinstalling when requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-test
REQ=tests/compat/requirements.txt
# Every transitive package pinned as well.
CONS=tests/compat/constraints.txt
if ! cat "$REQ" "$CONS" | cmp -s - "$VENV/.wabridge-installed-req" 2>/dev/null; then
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "test-compat: installing python3-venv from Debian's packages"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
      python3 -m venv "$VENV"
    else
      echo "test-compat: python3 cannot make a venv (Debian: sudo apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
  echo "test-compat: installing $REQ into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" -c "$CONS"
  cat "$REQ" "$CONS" > "$VENV/.wabridge-installed-req"
fi

# The binary under test is this tree's (a build is quick when nothing
# changed): an old one would be tested for code since edited.
if [ -z "${WABRIDGE_BIN:-}" ]; then
  "${CARGO:-cargo}" build
  export WABRIDGE_BIN="$PWD/target/debug/wabridge"
fi
# A hung test must not take CI's whole time: the suite takes minutes.
exec timeout --signal=TERM --kill-after=30 2400 "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/compat "$@"
