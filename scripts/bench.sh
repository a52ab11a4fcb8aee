#!/usr/bin/env bash
# `npm run bench`: prints Gearshift's costs as ratios against raw floors measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/host.sh
prepare_host
command -v wrk >/dev/null 2>&1 || { say "installing wrk (the load tool the bench uses)"; as_root apt-get install -y -q wrk >/dev/null; }
ensure_node_modules
ensure_build
node dist/apps/node-agent/src/prepare-images.js >/dev/null
exec node dist/bench/bench.js
