#!/usr/bin/env bash
# `npm run test:unit`: the pure specs beside the code (*.spec.ts), needing no service; builds first when a source
# changed since the last build.
# `npm run test:medium`: the broker's services and repositories against a real PostgreSQL (test/medium), with no
# Redis, Docker or broker process; builds, and installs and starts PostgreSQL alone when it is missing or stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/host.sh

tier=${1:-}
case "$tier" in
  unit)
    ensure_node
    ensure_node_modules
    if [ ! -f dist/.tsbuildinfo ] || [ -n "$(find apps libs migrations test bench -name '*.ts' -newer dist/.tsbuildinfo -print -quit)" ]; then
      ensure_build
    fi
    files=$(find dist -path dist/node_modules -prune -o -name '*.spec.js' -print | sort)
    ;;
  medium)
    ensure_node
    ensure_node_modules
    if ! command -v pg_ctlcluster >/dev/null 2>&1; then
      say "installing postgresql from Debian's packages"
      as_root apt-get update -q
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null
    fi
    ensure_postgres
    ensure_build
    files=$(find dist -path dist/node_modules -prune -o -name '*.medium.test.js' -print | sort)
    ;;
  *)
    die "usage: scripts/test-tier.sh unit|medium"
    ;;
esac
[ -n "$files" ] || die "no $tier tests found under dist/"
exec node --test --test-force-exit --test-reporter=spec ${files}
