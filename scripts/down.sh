#!/usr/bin/env bash
# `npm run down`: stops the router, node agent and broker that `npm run up` started. Gears keep running (they are
# Docker containers with a restart policy) and the agent reconciles them when it comes back.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/host.sh
run_dir="${GEARSHIFT_DATA_DIR:-$GEARSHIFT_STATE_DIR}/run"
for name in router agent broker; do
  pidfile="$run_dir/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping $name (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
done
