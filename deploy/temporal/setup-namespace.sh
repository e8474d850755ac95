#!/bin/sh
# One-shot job (temporalio/admin-tools image): create the namespace and register Gleitzeit's custom
# search attributes, so runs can be found by pipeline (`GleitzeitPipeline='name'`) in the CLI and the
# web UI. Idempotent: what exists is left alone. Needs only the `temporal` CLI, so it also works
# against any other server:  TEMPORAL_ADDRESS=host:7233 sh deploy/temporal/setup-namespace.sh
set -eu
: "${TEMPORAL_ADDRESS:=temporal:7233}" "${TEMPORAL_NAMESPACE:=default}" "${TEMPORAL_RETENTION:=7d}"
# Keep in step with gleitzeit/services/temporal_dev.py (SEARCH_ATTRIBUTES); a test compares them.
: "${GLEITZEIT_SEARCH_ATTRIBUTES:=GleitzeitPipeline=Keyword GleitzeitFile=Keyword GleitzeitResumedFrom=Keyword}"

echo "waiting for Temporal at $TEMPORAL_ADDRESS"
i=0
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -lt 90 ] || { echo "Temporal did not become healthy" >&2; exit 1; }
  sleep 2
done

if temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; then
  echo "namespace $TEMPORAL_NAMESPACE exists"
else
  temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "$TEMPORAL_RETENTION" \
    --address "$TEMPORAL_ADDRESS"
fi

# A new namespace becomes usable once the servers' namespace caches refresh (some seconds).
i=0
until existing=$(temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" \
  --address "$TEMPORAL_ADDRESS" --output json 2>/dev/null); do
  i=$((i + 1)); [ "$i" -lt 60 ] || { echo "namespace $TEMPORAL_NAMESPACE did not become usable" >&2; exit 1; }
  sleep 1
done
for pair in $GLEITZEIT_SEARCH_ATTRIBUTES; do
  name=${pair%%=*}
  kind=${pair#*=}
  if printf '%s' "$existing" | grep -q "\"$name\""; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" \
      --name "$name" --type "$kind" --address "$TEMPORAL_ADDRESS"
  fi
done
echo "namespace $TEMPORAL_NAMESPACE is ready for Gleitzeit"
