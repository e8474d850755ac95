#!/usr/bin/env bash
# Build the gleitzeit image where no image registry is reachable (idempotent, cached).
#
#   deploy/build_image.sh [--tag gleitzeit:local] [--base IMAGE] [--force]
#
# 1. base: IMAGE if given, else gleitzeit-base:bookworm from deploy/build_base_image.sh (debootstrap);
# 2. wheelhouse: `pip wheel` on this host fills deploy/wheels/deps (the image's requirements, see
#    deploy/image_requirements.py) and deploy/wheels/app (gleitzeit itself), so nothing in the build
#    needs a package index;
# 3. `docker build --build-arg BASE_IMAGE=...` labelled with the hash of its recipe (Dockerfile,
#    sources, pyproject, base image id). An image of that tag with the same hash is not rebuilt.
# Prints the image tag on stdout. With a registry, plain `docker build -t gleitzeit .` is enough.
set -euo pipefail

cd "$(dirname "$0")/.."
TAG=${GLEITZEIT_IMAGE:-gleitzeit:local}
BASE=""
FORCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift ;;
    --base) BASE=$2; shift ;;
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build_image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '\033[1m[build_image]\033[0m %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers; run scripts/setup_docker.sh (as root) first"
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi

if [ -z "$BASE" ]; then
  BASE=$(deploy/build_base_image.sh | tail -n 1)
fi
BASE_ID=$(docker image inspect -f '{{.Id}}' "$BASE" 2>/dev/null) \
  || die "base image $BASE not found (pull it, or omit --base to build the offline one)"

RECIPE=$( {
  echo "$BASE_ID"
  cat Dockerfile .dockerignore pyproject.toml deploy/image_requirements.py
  find gleitzeit -type f -name '*.py' -o -type f -name 'py.typed' | LC_ALL=C sort | xargs cat
} | sha256sum | cut -c1-16)
CURRENT=$(docker image inspect -f '{{ index .Config.Labels "gleitzeit.recipe" }}' "$TAG" 2>/dev/null || true)
if [ "$FORCE" = "0" ] && [ "$CURRENT" = "$RECIPE" ]; then
  log "$TAG is up to date (recipe $RECIPE)"
  echo "$TAG"
  exit 0
fi

# The host's Python must match the image's, or the wheels do not fit it.
HOST_PY=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
IMAGE_PY=$(docker run --rm --network none --entrypoint python3 "$BASE" -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
  || die "the base image $BASE has no python3"
[ "$HOST_PY" = "$IMAGE_PY" ] || die "host Python $HOST_PY differs from the base image's $IMAGE_PY: set PYTHON to a python$IMAGE_PY"

pip_wheel() {
  # pip warns once per missing local index folder on some machines; real errors stay visible.
  "$PY" -m pip wheel -q --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

log "filling the wheelhouse deploy/wheels (pip wheel on this host)"
"$PY" deploy/image_requirements.py pyproject.toml > deploy/wheels/deps/requirements.txt
pip_wheel --wheel-dir deploy/wheels/deps \
  --find-links deploy/wheels/deps -r deploy/wheels/deps/requirements.txt \
  || die "pip wheel of the dependencies failed"
rm -f deploy/wheels/app/gleitzeit-*.whl
BUILD=$(mktemp -d)
trap 'rm -rf "$BUILD"' EXIT
# Build from a copy: an in-tree build would leave build/ and *.egg-info behind in the checkout.
cp -r pyproject.toml gleitzeit "$BUILD"/
[ -f README.md ] && cp README.md "$BUILD"/
pip_wheel --no-deps --wheel-dir deploy/wheels/app "$BUILD" \
  || die "pip wheel of gleitzeit failed"

log "docker build -t $TAG (base $BASE)"
# The classic builder: it needs no buildx plugin (absent here) and handles this Dockerfile fully.
DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} docker build \
  --build-arg "BASE_IMAGE=$BASE" --label "gleitzeit.recipe=$RECIPE" -t "$TAG" . >"$BUILD/build.log" 2>&1 || {
  tail -n 40 "$BUILD/build.log" >&2
  die "docker build failed (log above)"
}
# Earlier builds of the tag, now untagged, only take space (the build stage stays as layer cache).
docker image prune -f --filter "label=gleitzeit.recipe" >/dev/null 2>&1 || true
log "built $TAG ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$TAG"
