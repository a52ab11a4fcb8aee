#!/usr/bin/env bash
# `npm test`: prepares this host (installing and starting what is missing), builds, and runs every test against the
# real Postgres, Redis and Docker Engine. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/host.sh
prepare_host
ensure_browser
ensure_node_modules
ensure_build
# Lint runs before the slow tests so that its findings come early; a failure is held until the end, so the tests
# still run, and then fails the run.
say "linting: ESLint, then Prettier (npm run lint)"
lint_failed=""
node_modules/.bin/eslint . || lint_failed="ESLint"
node_modules/.bin/prettier --check . || lint_failed="${lint_failed:+$lint_failed and }Prettier (npm run format fixes formatting)"
[ -z "$lint_failed" ] || say "lint failed: $lint_failed; the tests run anyway, and the run fails at the end"
say "checking docker-compose.yml"
# The file asks for a Redis password; any value shows whether it reads.
REDIS_PASSWORD=compose-check docker-compose -f docker-compose.yml config -q
say "building cartridge images (cached by content hash)"
node dist/apps/node-agent/src/prepare-images.js
say "running the tests"
# Tests that restart Postgres, Redis or the platform itself (the real `npm run up` compiles in place) run alone,
# after the others, so they disturb no other test file.
files=$(find dist -path dist/node_modules -prune -o \( -name '*.spec.js' -o -name '*.test.js' \) -print | grep -v '\.serial\.test\.js$' | sort)
serial=$(find dist -name '*.serial.test.js' -print | sort)
# From here a failing run must not stop the script: the serial tests and the summary still run.
set +e
status=0
logs=$(mktemp -d)
# Each file's process exits a few seconds after its tests even if a connection is left open (exit-when-done.ts):
# Node's --test-force-exit drops the last results of a file as it exits, and the run still passes.
node --test --require ./dist/test/support/exit-when-done.js --test-concurrency="${GEARSHIFT_TEST_CONCURRENCY:-3}" --test-reporter=spec ${files} | tee "$logs/main.log"
status=${PIPESTATUS[0]}
if [ -n "$serial" ]; then
  say "running the tests that restart Postgres and Redis"
  node --test --require ./dist/test/support/exit-when-done.js --test-concurrency=1 --test-reporter=spec ${serial} | tee "$logs/serial.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
# One line for both runs.
passed=$(cat "$logs"/*.log | awk '/^ℹ pass /{n+=$3} END{print n+0}')
failed=$(cat "$logs"/*.log | awk '/^ℹ fail /{n+=$3} END{print n+0}')
rm -rf "$logs"
echo
echo "${passed} passed, ${failed} failed"
if [ -n "$lint_failed" ]; then
  echo "LINT FAILED: $lint_failed (its report is above, after the build; npm run lint repeats it)"
  status=1
fi
exit $status
