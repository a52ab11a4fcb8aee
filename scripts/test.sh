#!/usr/bin/env bash
# `npm test`: prepares this host (installing and starting what is missing), builds, and runs every test against the
# real Postgres, Redis and Docker Engine. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/host.sh
prepare_host
ensure_node_modules
ensure_build
say "checking docker-compose.yml"
docker-compose -f docker-compose.yml config -q
say "building cartridge images (cached by content hash)"
node dist/apps/node-agent/src/prepare-images.js
say "running the tests"
files=$(find dist -path dist/node_modules -prune -o \( -name '*.spec.js' -o -name '*.test.js' \) -print | sort)
exec node --test --test-force-exit --test-concurrency="${GEARSHIFT_TEST_CONCURRENCY:-3}" --test-reporter=spec ${files}
