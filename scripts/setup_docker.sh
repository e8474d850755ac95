#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine (idempotent).
#
#   - dockerd missing      -> apt-get update once, apt-get install -y docker.io (Debian's engine)
#   - `docker info` fails  -> start dockerd in the background, log in /var/log/dockerd.log
#   - then wait until the engine answers (up to DOCKER_WAIT seconds, default 60)
#
# Needs root for the install and the daemon. Run as another user it only says what to do and exits 0,
# so a developer's `make test` without root still works (the Docker tests then skip; CI runs as root).
set -euo pipefail

log() { printf '\033[1m[setup_docker]\033[0m %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

WAIT=${DOCKER_WAIT:-60}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}

if docker info >/dev/null 2>&1; then
  log "Docker engine already answers"
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  log "no Docker engine answers and this is not root: nothing done."
  log "To get one: sudo $0   (or install Docker yourself and start it; add your user to the docker group)."
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "dockerd not found: installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed (is a Debian package mirror reachable?)"
  apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null \
    || die "apt-get install docker.io failed"
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is still not on PATH"
fi

# A stale pid file from a killed daemon makes the next dockerd refuse to start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  log "removing stale /var/run/docker.pid"
  rm -f /var/run/docker.pid
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd (log: $DOCKERD_LOG)"
  mkdir -p "$(dirname "$DOCKERD_LOG")"
  # setsid + nohup: the daemon outlives this script and the shell that ran it.
  setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
fi

for _ in $(seq 1 "$WAIT"); do
  if docker info >/dev/null 2>&1; then
    log "Docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
    exit 0
  fi
  sleep 1
done

log "last lines of $DOCKERD_LOG:"
tail -n 20 "$DOCKERD_LOG" >&2 || true
die "the Docker engine did not answer within ${WAIT}s; see $DOCKERD_LOG"
