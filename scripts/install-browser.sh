#!/usr/bin/env bash
# The Debian packages wabridge runs with: a browser and its fonts. One script
# for both places that install them, so that CI (scripts/install-deps.sh)
# exercises what the image's build runs.
#
#   install-browser.sh [--image] headless-shell|full|both
#
# Installs only what is missing (as root, with apt-get), then checks that
# each browser installed finds every library it links.
#
# --image (the Dockerfile's runtime stage): also tini and ca-certificates,
# and first the dpkg excludes that keep out what a headless browser without a
# GPU never loads (checked with strace): Mesa's GPU drivers and the LLVM and
# Z3 they pull in (~160 MB, through chromium-common's x11-utils), and
# Chromium's Vulkan validation layer (a debugging aid). The package database
# stays consistent, and the library check proves the browser still finds
# what it links. (An image built on that one that wants Mesa removes
# /etc/dpkg/dpkg.cfg.d/wabridge-headless first.) The apt lists are removed
# after. Versions are unpinned: a pinned one would vanish from the mirror
# with bookworm's next security update.
set -euo pipefail

image=0
if [ "${1:-}" = "--image" ]; then
  image=1
  shift
fi
which="${1:-both}"

shell_exe=/usr/lib/chromium/chromium-headless-shell
full_exe=/usr/lib/chromium/chromium
want=()
exes=()
case "$which" in
  headless-shell) want+=(chromium-headless-shell); exes+=("$shell_exe") ;;
  full) want+=(chromium); exes+=("$full_exe") ;;
  both) want+=(chromium-headless-shell chromium); exes+=("$shell_exe" "$full_exe") ;;
  *) echo "install-browser: headless-shell, full or both, not '$which'" >&2; exit 1 ;;
esac

need=()
for p in "${want[@]}"; do
  case "$p" in
    chromium) command -v chromium >/dev/null 2>&1 || [ -x "$full_exe" ] || need+=(chromium) ;;
    chromium-headless-shell) command -v chromium-headless-shell >/dev/null 2>&1 || [ -x "$shell_exe" ] || need+=(chromium-headless-shell) ;;
  esac
done
# The package's own files, not fc-list: fontconfig may be missing (a slim
# image), and the fonts would then be asked for at every run.
[ -d /usr/share/fonts/truetype/liberation ] || need+=(fonts-liberation)
if [ "$image" = 1 ]; then
  command -v tini >/dev/null 2>&1 || need+=(tini)
  [ -f /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
fi

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: missing ${need[*]}; install them (Debian: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  if [ "$image" = 1 ]; then
    printf '%s\n' \
      'path-exclude=/usr/lib/*/dri/*' \
      'path-exclude=/usr/lib/*/libLLVM-*' \
      'path-exclude=/usr/lib/*/libz3.so*' \
      'path-exclude=/usr/lib/chromium/libVkLayer_khronos_validation.so*' \
      > /etc/dpkg/dpkg.cfg.d/wabridge-headless
  fi
  echo "install-browser: installing ${need[*]} from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [ "$image" = 1 ]; then
    rm -rf /var/lib/apt/lists/*
  fi
fi

# Every library each browser links, found (a package split or an exclude
# that went too far shows here, not at a session's first launch).
for exe in "${exes[@]}"; do
  [ -x "$exe" ] || continue
  if missing=$(ldd "$exe" 2>/dev/null | grep 'not found'); then
    echo "install-browser: $exe misses libraries:" >&2
    echo "$missing" >&2
    exit 1
  fi
done
