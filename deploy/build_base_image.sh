#!/usr/bin/env bash
# Build the offline base image of the gleitzeit image, without any image registry (idempotent).
#
#   debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm DIR
#   tar -C DIR -c . | docker import -c 'LABEL ...' - gleitzeit-base:bookworm
#
# The same approach as scripts/build_sandbox_image.sh (Debian packages only, ~40 s), but a different
# package set: the gleitzeit image needs `python3 -m venv` (ensurepip) and CA certificates, the
# sandbox does not. Users with an image registry do not need this: the Dockerfile's default base is a
# slim Python image (docs/deployment.md).
#
# The image carries a label with the hash of its recipe; when an image of that name already has the
# same hash nothing is rebuilt (--force rebuilds). The Debian mirror comes from apt's configuration
# (override with GLEITZEIT_DEBIAN_MIRROR). Prints the image name on stdout when done.
set -euo pipefail

IMAGE=${GLEITZEIT_BASE_IMAGE:-gleitzeit-base:bookworm}
SUITE=${GLEITZEIT_BASE_SUITE:-bookworm}
PACKAGES=python3,python3-venv,ca-certificates
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "build_base_image: unknown argument $arg (use --force or --help)" >&2; exit 2 ;;
  esac
done

log() { printf '\033[1m[build_base_image]\033[0m %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
ROOTFS_LIB="$(cd "$(dirname "$0")" && pwd)/../scripts/lib/debian_rootfs.sh"
# shellcheck source=scripts/lib/debian_rootfs.sh
. "$ROOTFS_LIB"

docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/setup_docker.sh (as root) first"

RECIPE=$( { cat "$0" "$ROOTFS_LIB"; echo "$SUITE $PACKAGES"; } | sha256sum | cut -c1-16)
CURRENT=$(docker image inspect -f '{{ index .Config.Labels "gleitzeit.recipe" }}' "$IMAGE" 2>/dev/null || true)
if [ "$FORCE" = "0" ] && [ "$CURRENT" = "$RECIPE" ]; then
  log "$IMAGE is up to date (recipe $RECIPE)"
  echo "$IMAGE"
  exit 0
fi
[ "$(id -u)" = "0" ] || die "building $IMAGE needs root (debootstrap); or build the gleitzeit image from a slim Python image"

WORK=$(mktemp -d /var/tmp/gleitzeit-base.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOTFS="$WORK/rootfs"

debootstrap_rootfs "$SUITE" "$PACKAGES" "$ROOTFS" "$WORK"

# Smaller image: no package caches, docs, man pages or locales.
rm -rf "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/* \
  "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
  "$ROOTFS"/usr/share/locale/* "$ROOTFS"/debootstrap
chroot "$ROOTFS" python3 -c 'import ensurepip, ssl' || die "python3 (with ensurepip and ssl) does not run in the new root"

log "importing as $IMAGE"
tar -C "$ROOTFS" --numeric-owner -c . | docker import \
  -c "LABEL gleitzeit.recipe=$RECIPE" \
  -c "LABEL org.opencontainers.image.description=\"Gleitzeit offline base ($SUITE: $PACKAGES)\"" \
  -c "ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin" \
  -c 'CMD ["python3"]' \
  - "$IMAGE" >/dev/null || die "docker import failed"
log "built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$IMAGE"
