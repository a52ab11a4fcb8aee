#!/usr/bin/env bash
# `npm run gc`: disk hygiene of this host. Removes what Gearshift made and nothing needs any more — dangling images
# and release images no deployment keeps (only images with this instance's labels), Docker build cache over
# GEARSHIFT_BUILD_CACHE_MB, volumes of deleted apps, rotated platform logs older than GEARSHIFT_LOG_DAYS — and runs
# the image registry's garbage collection. Prints what it freed, per kind, and the total.
#   npm run gc                  removes
#   npm run gc -- --dry-run     lists what it would remove; removes nothing
#   npm run gc -- --no-registry leaves the registry alone (it is stopped for a moment otherwise)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/host.sh

dry_run=false
registry=true
args=()
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=true; args+=(--dry-run) ;;
    --no-registry) registry=false ;;
    -h|--help) sed -n '6,8p' "$0"; exit 0 ;;
    *) die "unknown option $arg (try --dry-run or --no-registry)" ;;
  esac
done

# The local PostgreSQL over its Unix socket, unless DATABASE_URL names another (a TCP URL works as ever).
export DATABASE_URL="${DATABASE_URL:-$(local_database_url)}"
REGISTRY_DIR="$GEARSHIFT_STATE_DIR/registry"
config="$REGISTRY_DIR/config.yml"
registry_pattern="^docker-registry serve $config\$"
du_bytes() { as_root du -sb "$1" 2>/dev/null | cut -f1 || echo 0; }

# The registry frees the blobs of removed images only while nothing writes to it: it is stopped for the collection
# and started again as `npm run up` starts it. A registry this state directory did not start is left alone.
if $registry && [ -f "$config" ] && [ -d "$REGISTRY_DIR/data/docker/registry/v2/repositories" ]; then
  if $dry_run; then
    # A dry run only reads, so the registry keeps serving.
    blobs=$(as_root docker-registry garbage-collect --dry-run "$config" 2>/dev/null | grep -c 'blob eligible for deletion' || true)
    export GEARSHIFT_GC_REGISTRY_BLOBS="${blobs:-0}"
  elif pgrep -f "$registry_pattern" >/dev/null; then
    before=$(du_bytes "$REGISTRY_DIR/data")
    say "stopping the image registry for its garbage collection"
    as_root pkill -f "$registry_pattern" || true
    for _ in $(seq 1 40); do pgrep -f "$registry_pattern" >/dev/null || break; sleep 0.25; done
    # Starting it as `npm run up` does collects its garbage first, while it is stopped.
    ensure_registry
    after=$(du_bytes "$REGISTRY_DIR/data")
    export GEARSHIFT_GC_REGISTRY_BYTES=$(( before > after ? before - after : 0 ))
  else
    say "the image registry is not running from $config: its garbage collection is left to the next \`npm run up\`"
  fi
fi

ensure_node
node dist/apps/node-agent/src/gc-main.js "${args[@]}"
