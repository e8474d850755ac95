#!/usr/bin/env bash
# Build the Python sandbox image for `python/execute` without any image registry (idempotent).
#
#   debootstrap --variant=minbase --include=python3 SUITE DIR   (Debian packages only, ~30 s)
#   tar -C DIR -c . | docker import -c 'LABEL ...' - IMAGE
#
# The Debian mirror is read from this machine's apt configuration at run time (override with
# GLEITZEIT_DEBIAN_MIRROR). The image carries a label with the hash of its recipe; when an image of
# that name already has the same hash, nothing is rebuilt (pass --force to rebuild anyway).
#
# Users with access to an image registry do not need this: set GLEITZEIT_SANDBOX_IMAGE to a slim
# Python image instead (see docs/python_scripts.md).
set -euo pipefail

IMAGE=${GLEITZEIT_SANDBOX_IMAGE:-gleitzeit-sandbox:latest}
SUITE=${GLEITZEIT_SANDBOX_SUITE:-bookworm}
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --system) ;;  # accepted for symmetry with bootstrap.sh
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build_sandbox_image: unknown argument $arg (use --force or --help)" >&2; exit 2 ;;
  esac
done

log() { printf '\033[1m[build_sandbox_image]\033[0m %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
ROOTFS_LIB="$(cd "$(dirname "$0")" && pwd)/lib/debian_rootfs.sh"
# shellcheck source=scripts/lib/debian_rootfs.sh
. "$ROOTFS_LIB"

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != "0" ]; then
    log "no Docker engine answers and this is not root: nothing done (see scripts/setup_docker.sh)."
    exit 0
  fi
  die "no Docker engine answers; run scripts/setup_docker.sh first"
fi

# The recipe: this script's text and the suite. A change to either rebuilds the image.
RECIPE=$( { cat "$0" "$ROOTFS_LIB"; echo "$SUITE"; } | sha256sum | cut -c1-16)
CURRENT=$(docker image inspect -f '{{ index .Config.Labels "gleitzeit.recipe" }}' "$IMAGE" 2>/dev/null || true)
if [ "$FORCE" = "0" ] && [ "$CURRENT" = "$RECIPE" ]; then
  log "$IMAGE is up to date (recipe $RECIPE)"
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  log "building $IMAGE needs root (debootstrap): run sudo $0, or set GLEITZEIT_SANDBOX_IMAGE to a Python image."
  exit 0
fi

WORK=$(mktemp -d /var/tmp/gleitzeit-sandbox.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"

debootstrap_rootfs "$SUITE" "python3" "$ROOTFS" "$WORK"

# Smaller image: no package caches, docs, man pages or locales are needed to run scripts.
rm -rf "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/* \
  "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
  "$ROOTFS"/usr/share/locale/* "$ROOTFS"/debootstrap
"$ROOTFS"/usr/bin/python3 --version >/dev/null 2>&1 || chroot "$ROOTFS" python3 --version >/dev/null \
  || die "python3 does not run inside the new root file system"

log "importing as $IMAGE"
# The scripts run as nobody (65534, present in Debian's base passwd); the executor also forces it.
tar -C "$ROOTFS" --numeric-owner -c . | docker import \
  -c "LABEL gleitzeit.recipe=$RECIPE" \
  -c "LABEL org.opencontainers.image.description=\"Gleitzeit Python sandbox ($SUITE, python3)\"" \
  -c "USER 65534:65534" \
  -c "WORKDIR /tmp" \
  -c "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin" \
  -c 'CMD ["python3"]' \
  - "$IMAGE" >/dev/null || die "docker import failed"

docker run --rm --network none "$IMAGE" python3 -c 'import json, sys; print(json.dumps(sys.version_info[:2]))' \
  >/dev/null || die "the new image does not run python3"
log "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
