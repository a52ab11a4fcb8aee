#!/usr/bin/env bash
# `npm run bench`: prints Gearshift's costs as ratios against raw floors measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/host.sh
prepare_host
ensure_node_modules
ensure_build
node dist/apps/node-agent/src/prepare-images.js >/dev/null
exec node dist/bench/bench.js
