#!/usr/bin/env bash
# Install the tools of the deployment tests (tests/deploy) from Debian packages (idempotent):
#
#   chromium + chromium-driver   headless browser and its WebDriver (the web UI test)
#   docker-compose               Debian's Compose v1, to check docker-compose.yml (`docker-compose config`)
#
# Needs root. Run as another user it only says what to do and exits 0 (those tests then skip on a
# developer's machine; CI runs as root and has them).
set -euo pipefail

log() { printf '\033[1m[setup_chromium]\033[0m %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# The Compose v2 plugin checks the file just as well; only without both is v1 installed.
if ! command -v docker-compose >/dev/null 2>&1 && ! docker compose version >/dev/null 2>&1; then
  missing+=(docker-compose)
fi
if [ ${#missing[@]} -eq 0 ]; then
  log "chromium, chromedriver and docker-compose are installed"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  log "missing: ${missing[*]}; install them as root: sudo $0"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
log "installing ${missing[*]}"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  apt-get update -qq || die "apt-get update failed (is a Debian package mirror reachable?)"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}
command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
  || die "chromium or chromedriver still not on PATH after the install"
log "installed: $(chromium --version 2>/dev/null | head -n 1)"
