#!/bin/sh
# One-shot job (ollama/ollama image): pull the models the pipelines name, so the first LLM task does
# not fail "model not found". Workers start only after this job exits 0. Idempotent: a model already
# in the `ollama-models` volume is only checked against the registry (a few kB), not downloaded again.
#   GLEITZEIT_PULL_MODELS="smollm2:135m llama3.2"   (space-separated; default: the default model)
set -eu
: "${OLLAMA_HOST:=http://ollama:11434}" "${GLEITZEIT_PULL_MODELS:=${GLEITZEIT_DEFAULT_MODEL:-smollm2:135m}}"
export OLLAMA_HOST

echo "waiting for Ollama at $OLLAMA_HOST"
i=0
until ollama list >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -lt 90 ] || { echo "Ollama did not answer at $OLLAMA_HOST" >&2; exit 1; }
  sleep 2
done

for model in $GLEITZEIT_PULL_MODELS; do
  echo "pulling $model"
  ollama pull "$model"
done
echo "models ready: $GLEITZEIT_PULL_MODELS"
