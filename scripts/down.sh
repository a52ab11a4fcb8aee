#!/usr/bin/env bash
# `npm run down`: stops the router, node agent and broker that `npm run up` started (their systemd units, or the
# supervisor, which stops them in turn). Gears keep running (they are Docker containers with a restart policy) and
# the agent reconciles them when it comes back.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/host.sh
run_dir="${GEARSHIFT_DATA_DIR:-$GEARSHIFT_STATE_DIR}/run"

if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && command -v systemctl >/dev/null 2>&1 && [ -f /etc/systemd/system/gearshift-broker.service ]; then
  say "stopping the systemd units gearshift-router, gearshift-agent and gearshift-broker"
  as_root systemctl stop gearshift-router gearshift-agent gearshift-broker
  exit 0
fi

stop_pid() {
  local name=$1 pidfile=$2
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping $name (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
}

# The supervisor stops what it runs; then anything an earlier version started without it.
stop_pid supervisor "$run_dir/supervisor.pid"
for name in router agent broker; do stop_pid "$name" "$run_dir/$name.pid"; done
